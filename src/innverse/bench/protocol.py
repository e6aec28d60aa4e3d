"""The benchmark protocol: test sets, the seeded degradation and the PSNR loop over a set.

Every number innverse publishes, and the validation score of every training run, follows it:

* a test set is a folder of images (or a set name under the data root: ``Set12``, ``BSD68``,
  ``CBSD68``), read in sorted file-name order as float32 in [0, 1]; gray sets are read as gray,
  colour files through ITU-R 601 luma (``gray=True``) or as RGB;
* image ``i`` (0-based, in that order, after any ``limit``) gets the noise
  ``sigma/255 * randn(x.shape, generator=torch.Generator().manual_seed(i))`` in float32, added
  without clipping: every method sees the same noisy image, and every noise level the same
  noise pattern;
* outputs are clipped to [0, 1]; PSNR (peak 1, over the whole image unless a border is left out)
  and SSIM (:mod:`innverse.metrics`) are computed per image and averaged over the set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from innverse.data.degrade import add_seeded_noise, seeded_noise
from innverse.errors import UserError
from innverse.metrics import psnr, ssim

__all__ = [
    "NOISE_CONVENTION",
    "METRICS",
    "LUMA",
    "seeded_noise",
    "add_seeded_noise",
    "resolve_set",
    "load_images",
    "TestSet",
    "load_testsets",
    "score_denoiser",
    "mean_psnr",
    "inner",
    "noisy_pairs",
    "sigma_estimates",
    "mean_sigma_error",
]

NOISE_CONVENTION = (
    "image i (0-based, file names sorted, after --limit) of each test set, gray in [0, 1], gets "
    "y = x + sigma/255 * randn(x.shape, generator=torch.Generator().manual_seed(i)) in float32, "
    "no clipping (innverse.bench.protocol.add_seeded_noise); the same image index gets the same noise "
    "pattern at every noise level and for every method"
)
METRICS = (
    "outputs clipped to [0, 1]; PSNR in dB with peak 1 per image; SSIM with an 11x11 Gaussian window "
    "(sigma 1.5), population statistics, valid region (innverse.metrics); both averaged over images; "
    "s/img is the wall time per image after one untimed warm-up call per method (noise estimation "
    "included where sigma is estimated)"
)
#: ITU-R BT.601 luma weights used to read colour files of a gray test set
LUMA = (0.299, 0.587, 0.114)

#: an image of a set: ``(file name, (1, C, H, W) float32 tensor)`` or the bare tensor
Image = tuple[str, Tensor] | Tensor


# ---------------------------------------------------------------------------------------- test sets
def resolve_set(spec: str | Path) -> Path:
    """A test-set folder: ``spec`` itself when it is a folder, else the folder of that name under
    the data root (:func:`innverse.paths.data_path`); :class:`UserError` when neither exists."""
    from innverse.paths import data_path

    p = Path(spec)
    if p.is_dir():
        return p
    found = data_path(str(spec))
    if found is None or not found.is_dir():
        raise UserError(f"{spec}: test-set folder not found (and not under INNVERSE_DATA)")
    return found


def load_images(spec: str | Path, gray: bool = True, limit: int | None = None) -> list[tuple[str, Tensor]]:
    """``[(file name, (1, C, H, W) float32 in [0, 1]), ...]`` of a test set, in sorted file order.

    ``gray=True`` reads colour files as ITU-R 601 luma (:data:`LUMA`); ``limit`` keeps the first N.
    """
    from innverse.data.io import read_image
    from innverse.data.listing import list_images

    if limit is not None and limit < 1:
        raise UserError(f"--limit must be >= 1, got {limit}")
    out = []
    for f in list_images(resolve_set(spec))[:limit]:
        a, _ = read_image(f)
        if gray and a.ndim == 3:
            a = a @ np.array(LUMA, dtype=np.float32)
        t = torch.from_numpy(np.ascontiguousarray(a))
        t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
        out.append((f.name, t))
    return out


@dataclass
class TestSet:
    """A loaded test set: its label, where it came from, and ``[(file name, (1,1,H,W) image)]``."""

    name: str
    source: str
    images: list[tuple[str, Tensor]]

    __test__ = False  # not a pytest class


def load_testsets(specs: Sequence[str | Path], limit: int | None = None) -> list[TestSet]:
    """Each folder or set name as a gray :class:`TestSet`; labels are the folder names (``#2``, ...
    appended when two sets share one)."""
    sets: list[TestSet] = []
    for spec in specs:
        root = resolve_set(spec).resolve()
        images = load_images(root, gray=True, limit=limit)
        label, k = root.name, 2
        while any(s.name == label for s in sets):
            label, k = f"{root.name}#{k}", k + 1
        sets.append(TestSet(label, str(root), images))
    return sets


# ------------------------------------------------------------------------------------------ scoring
def _tensor(item: Image) -> Tensor:
    return item[1] if isinstance(item, tuple) else item


def inner(x: Tensor, border: int) -> Tensor:
    """``x`` without ``border`` pixels at each of its four borders (``x`` itself for 0)."""
    return x[..., border:-border, border:-border] if border else x


def noisy_pairs(
    images: Sequence[Image], sigma255: float, device: torch.device | str | None = None
) -> Iterator[tuple[Tensor, Tensor]]:
    """``(clean, noisy)`` for every image of a set, in order: image ``i`` on ``device`` (default the
    image's) and ``i`` plus its seeded noise."""
    for i, item in enumerate(images):
        x = _tensor(item)
        x = x.to(device) if device is not None else x
        yield x, add_seeded_noise(x, sigma255, i)


@torch.no_grad()
def score_denoiser(
    restore: Callable[[Tensor], Tensor],
    images: Sequence[Image],
    sigma255: float,
    device: torch.device | str | None = None,
    with_ssim: bool = True,
    border: int = 0,
) -> dict:
    """Denoise every image of a set at its seeded noise and score the result.

    ``restore(y)`` gets the noisy image ``y`` (image ``i`` plus :func:`seeded_noise` of index ``i``,
    on ``device``; default the image's) and returns the estimate; it is clipped to [0, 1] and
    compared with the clean image (float64; ``border`` pixels left out).  Returns ``psnr`` and
    ``ssim`` (means, dB / 1; ``ssim`` None unless ``with_ssim``) and the per-image lists
    ``per_image_psnr`` / ``per_image_ssim``.
    """
    ps: list[float] = []
    ss: list[float] = []
    for x, y in noisy_pairs(images, sigma255, device):
        out = restore(y).to(x.device, torch.float32).clamp(0.0, 1.0)
        ps.append(float(psnr(out, x, crop=border)[0]))
        if with_ssim:
            ss.append(float(ssim(inner(out, border), inner(x, border))[0]))
    if not ps:
        raise ValueError("score_denoiser: no images")
    return {
        "psnr": float(np.mean(ps)),
        "ssim": float(np.mean(ss)) if with_ssim else None,
        "per_image_psnr": ps,
        "per_image_ssim": ss if with_ssim else None,
    }


def mean_psnr(
    restore: Callable[[Tensor], Tensor],
    images: Sequence[Image],
    sigma255: float,
    device: torch.device | str | None = None,
) -> float:
    """Mean PSNR (dB) of ``restore`` over ``images`` at their seeded noise (see :func:`score_denoiser`).

    This is the validation score of training runs: e.g. ``mean_psnr(lambda y: model(y, 25 / 255),
    val_images, 25)``.
    """
    return score_denoiser(restore, images, sigma255, device, with_ssim=False)["psnr"]


@torch.no_grad()
def sigma_estimates(
    estimate: Callable[[Tensor], Tensor | float],
    images: Sequence[Image],
    sigma255: float,
    device: torch.device | str | None = None,
) -> list[float]:
    """A noise estimator's ``sigma_hat`` (0-255 scale) for every image at its seeded noise.

    ``estimate(y)`` returns the data-scale sigma of the noisy image (a number or a one-element
    tensor).
    """
    out = []
    for _, y in noisy_pairs(images, sigma255, device):
        s = estimate(y)
        v = s.float().reshape(-1)[0].item() if isinstance(s, Tensor) else float(s)
        out.append(v * 255.0)
    return out


def mean_sigma_error(
    estimate: Callable[[Tensor], Tensor | float],
    images: Sequence[Image],
    sigma255: float,
    device: torch.device | str | None = None,
) -> float:
    """Mean ``|sigma_hat - sigma|`` (0-255 scale) of a noise estimator over ``images`` (see
    :func:`sigma_estimates`): the validation score of noise-estimator training."""
    est = sigma_estimates(estimate, images, sigma255, device)
    return float(np.mean(np.abs(np.array(est) - float(sigma255))))
