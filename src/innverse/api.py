"""Top-level functions: :func:`denoise`, :func:`estimate_noise` and :func:`deblur`.

Models load once for many calls: :func:`load_denoiser` and :func:`load_estimator` give ready models to
pass as ``model=`` / ``estimator=`` (the command line loads them once per run this way, whatever the
number of files); :func:`denoiser_name` names the pretrained denoiser a call picks by default,
:func:`min_image_size` gives the smallest image side some models accept, and :func:`check_sigma`
validates a noise level the way these functions do.

Conventions — the same for these three functions, for :func:`innverse.wavelets.denoise` and
:func:`innverse.wavelets.estimate_sigma`, and for the CLI (the rules are implemented once, in
:mod:`innverse.convention`):

* **Noise levels are on the 0–255 scale of 8-bit images**, whatever the input dtype: ``sigma=25``
  means a noise std of 25/255 of the full range, for uint8, uint16 and float images alike.
  :func:`estimate_noise` answers on the same scale.
* **Values**: uint8 and uint16 images are divided by 255 and 65535.  **Float images must be on
  [0, 1].**  Noise may carry them a little outside, so values from −3 to 4 are accepted (enough for
  unclipped noise up to σ ≈ 140 on a 12-megapixel image); a float image with any value outside
  [−3, 4] — typically a float copy of an 8-bit image, on 0–255 — is refused with a
  :class:`~innverse.errors.UserError` such as "float images must be on [0, 1]; this one spans [0, 255]
  — divide by 255 or pass uint8".  ``check_range=False`` lifts that bound for images known to be on
  the [0, 1] scale (e.g. a synthetic clean image plus unclipped noise above σ ≈ 140).  NaN/inf and
  other dtypes (bool, signed or 32/64-bit integers) are always refused.
* **Layouts are decided by type, never guessed from the shape**: numpy arrays are channels-last,
  ``H×W``, ``H×W×C`` or a batch ``N×H×W×C``; torch tensors are channels-first, ``H×W``, ``C×H×W`` or
  ``B×C×H×W``.  ``C`` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); alpha is passed through
  untouched.  A numpy ``C×H×W`` array or a torch ``H×W×C`` tensor is refused with a hint.
* **Results** have the same kind (numpy/torch), dtype, shape and (tensors) device as the input:
  uint8/uint16 results are rounded and clipped; float results are *not* clipped to [0, 1].
  Per-image numbers (estimated σ) are a float for one image and a (B,) float64 numpy array for a
  batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from innverse.convention import as_batch
from innverse.data import color as colorlib
from innverse.data.kernels import load_kernel
from innverse.devices import resolve_device
from innverse.errors import UserError
from innverse.physics.blur import CircularBlur
from innverse.solvers.denoise import (
    BLIND_DENOISER,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    NOISE_ESTIMATOR,
    check_sigma,
    choose_denoiser,
    denoise_tensor,
    estimate_sigma,
    get_denoiser,
    get_estimator,
    min_size_of,
    sigma_list,
)
from innverse.solvers.pnp import DEFAULT_LAMBDA, DEFAULT_MAX_ITER, deblur_tensor

__all__ = [
    "denoise",
    "estimate_noise",
    "deblur",
    "superres",
    "remove_reflection",
    "BLIND_DENOISER",
    "NOISE_ESTIMATOR",
    "check_sigma",
    "denoiser_name",
    "load_denoiser",
    "load_estimator",
    "min_image_size",
]


def _check_color(color: str) -> str:
    if color not in colorlib.COLOR_SPACES:
        raise UserError(f"unknown colour handling {color!r} (choose from {', '.join(colorlib.COLOR_SPACES)})")
    return color


def denoiser_name(sigma: float | None = None, *, color: str | None = None) -> str:
    """The pretrained denoiser :func:`denoise` uses when no ``model`` is given.

    ``sigma``: the noise std (0–255 scale), ``None`` when it is estimated; ``color``: the colour
    handling of a colour image (``None`` for gray images).  The non-blind model trained for σ when one
    is shipped (``innverse models`` tabulates which σ picks which model), else :data:`BLIND_DENOISER`
    (also whenever σ is estimated, and for colour images whose handling gives each channel its own σ:
    ``"opponent"``, ``"ycbcr"``).  See :func:`innverse.solvers.denoise.choose_denoiser`.
    """
    if color is not None:
        _check_color(color)
    return choose_denoiser(check_sigma(sigma), color)


def load_denoiser(
    model: Any = None,
    sigma: float | None = None,
    *,
    color: str | None = None,
    device: str | torch.device | None = None,
) -> Any:
    """A ready denoiser to pass as ``model=`` to :func:`denoise` or :func:`deblur` (loaded once).

    ``model``: a pretrained name (see ``innverse models``), a checkpoint path or a model (returned as
    it is, in eval mode); ``None``: :func:`denoiser_name` for ``sigma`` (0–255 scale) and ``color``.
    A noise-estimator checkpoint is refused with a :class:`~innverse.errors.UserError`.  ``device``:
    where a loaded model is placed (default: CUDA when available).
    """
    s255 = check_sigma(sigma)
    if color is not None:
        _check_color(color)
    return get_denoiser(model, s255, resolve_device(device), color=color)


def load_estimator(estimator: Any = None, *, device: str | torch.device | None = None) -> Any:
    """A ready noise estimator to pass as ``estimator=`` to :func:`denoise`, :func:`estimate_noise` or
    :func:`deblur`: ``estimator`` (a pretrained name, a checkpoint path or a model) or, when None,
    :data:`NOISE_ESTIMATOR` (NENet).  A checkpoint of another kind is refused with a
    :class:`~innverse.errors.UserError`.  ``device``: as for :func:`load_denoiser`."""
    return get_estimator(estimator, resolve_device(device))


def min_image_size(*models: Any) -> int:
    """The smallest image side (pixels) that all of ``models`` accept (1 when none declares a
    ``min_size``); smaller images are refused by :func:`denoise`, :func:`estimate_noise` and
    :func:`deblur` with a :class:`~innverse.errors.UserError`."""
    return min_size_of(*models)


def denoise(
    image: Any,
    sigma: float | None = None,
    *,
    model: Any = None,
    estimator: Any = None,
    device: str | torch.device | None = None,
    tile: int | None = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    color: str = colorlib.DEFAULT_COLOR_SPACE,
    ensemble: bool = False,
    return_info: bool = False,
    check_range: bool = True,
) -> Any:
    """Remove Gaussian noise from an image (numpy array or torch tensor; see the module conventions).

    ``sigma``: noise std on the 0–255 scale; ``None`` → blind: the noise estimator (NENet) estimates σ
    per image and the blind denoiser is used.  ``model``/``estimator``: a pretrained name, a checkpoint
    path or a ready model (:func:`load_denoiser`, :func:`load_estimator`; default: the non-blind model
    for σ when there is one, see :func:`denoiser_name`; the blind model when σ is estimated, and for
    colour images, whose opponent/YCbCr channels each carry their own σ).  ``tile``/``overlap``: tiled
    inference (``tile=None`` runs whole images).  ``color``: ``"opponent"`` (default), ``"ycbcr"`` or
    ``"rgb"``; a non-blind model cannot give the opponent/YCbCr channels their own σ, so it is applied
    to R, G and B with a warning.  ``ensemble=True``: average over the 8 flips/rotations (about 8x
    slower, slightly better).  ``check_range``: see the module conventions.

    Returns the denoised image in the input's kind, dtype and shape; with ``return_info=True`` returns
    ``(image, info)`` where ``info["sigma"]`` lists σ per image (0–255 scale) and ``info["estimated"]``
    says whether it was estimated.
    """
    s255 = check_sigma(sigma)
    _check_color(color)
    batch = as_batch(image, check_range=check_range)
    dev = resolve_device(device)
    den = get_denoiser(model, s255, dev, color=color if batch.x.shape[1] == 3 else None)
    est = get_estimator(estimator, dev) if s255 is None else None
    batch.check_min_size(min_size_of(den, est))
    x = batch.x.to(dev)
    if s255 is None:
        sig = estimate_sigma(x, est)
    else:
        sig = torch.full((x.shape[0],), s255 / 255.0, device=dev)
    out = denoise_tensor(x, sig, den, tile=tile, overlap=overlap, color=color, ensemble=ensemble)
    result = batch.restore(out)
    if return_info:
        return result, {"sigma": sigma_list(sig), "estimated": s255 is None}
    return result


def estimate_noise(
    image: Any,
    *,
    estimator: Any = None,
    device: str | torch.device | None = None,
    check_range: bool = True,
) -> float | np.ndarray:
    """Estimated Gaussian noise std on the 0–255 scale (NENet by default; ``estimator``: a pretrained
    name, a checkpoint path or a ready model, see :func:`load_estimator`).

    A float for a single image (numpy H×W or H×W×C, torch H×W or C×H×W), a (B,) float64 numpy array
    for a batch (numpy N×H×W×C, torch B×C×H×W).  Colour images: the mean of the R, G and B estimates.
    Inputs follow the module conventions (float images on [0, 1]; ``check_range`` as described there).
    """
    batch = as_batch(image, check_range=check_range)
    dev = resolve_device(device)
    est = get_estimator(estimator, dev)
    batch.check_min_size(min_size_of(est))
    return batch.values(sigma_list(estimate_sigma(batch.x.to(dev), est)))


def deblur(
    image: Any,
    kernel: Any,
    sigma: float | None = None,
    *,
    lam: float = DEFAULT_LAMBDA,
    max_iter: int = DEFAULT_MAX_ITER,
    model: Any = None,
    estimator: Any = None,
    device: str | torch.device | None = None,
    tile: int | None = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    color: str = colorlib.DEFAULT_COLOR_SPACE,
    return_info: bool = False,
    check_range: bool = True,
) -> Any:
    """Deblur a (noisy) blurred image by plug-and-play with a blind denoiser (WINNet, Algorithm 1).

    ``kernel``: a 2-D array/tensor, a ``.npy`` or image file, or ``"levin:N"`` (see
    :func:`innverse.data.kernels.load_kernel`); it is normalised to sum 1 and the blur is taken as
    circular.  It may also be the forward operator itself, a :class:`~innverse.physics.CircularBlur`,
    whose kernel is then used as given (not normalised again) and whose FFT of the kernel is kept
    for the next call on an image of the same size.  ``sigma``: noise std on the 0–255 scale, else
    estimated.  ``lam``: λ (default 0.23); ``max_iter``: iteration cap (default 30).  ``model`` (see
    :func:`load_denoiser`) defaults to the blind denoiser, ``estimator`` (:func:`load_estimator`) to
    NENet (both are needed in the loop).  Colour images are processed per channel after the ``color``
    transform (the blur commutes with it).  ``check_range``: see the module conventions.

    Returns the image in the input's kind; with ``return_info=True`` also ``info`` with ``sigma`` (β₀ per
    image, 0–255 scale), ``iterations`` (one count per processed gray plane) and ``betas`` (the β
    sequence per plane, 0–255 scale).
    """
    s255 = check_sigma(sigma)
    _check_color(color)
    if not (isinstance(max_iter, int | np.integer) and max_iter >= 0):
        raise UserError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    try:
        lam_f = float(lam)
    except (TypeError, ValueError):
        raise UserError(f"lam must be a positive number, got {lam!r}") from None
    if not (lam_f > 0 and np.isfinite(lam_f)):
        raise UserError(f"lam must be a positive number, got {lam!r}")
    op: np.ndarray | CircularBlur
    if isinstance(kernel, CircularBlur):
        op = kernel
        kh, kw = kernel.kernel.shape
    else:
        k = kernel.detach().cpu().numpy() if isinstance(kernel, torch.Tensor) else kernel
        op = load_kernel(k)
        kh, kw = op.shape
    batch = as_batch(image, check_range=check_range)
    h, w = batch.size
    if kh > h or kw > w:
        raise UserError(f"blur kernel {kw}×{kh} is larger than the image {w}×{h}")
    dev = resolve_device(device)
    den = get_denoiser(BLIND_DENOISER if model is None else model, None, dev)
    est = get_estimator(estimator, dev)
    batch.check_min_size(min_size_of(den, est))
    out, info = deblur_tensor(
        batch.x.to(dev),
        op,
        den,
        est,
        sigma255=s255,
        lam=lam_f,
        max_iter=max_iter,
        tile=tile,
        overlap=overlap,
        color=color,
    )
    result = batch.restore(out)
    return (result, info) if return_info else result


def superres(y: Any, scale: int = 4, method: str = "indigo", **kwargs: Any) -> Any:
    """Super-resolve ``y`` (INDigo or a baseline); see :func:`innverse.apps.superres.superres` for the
    options (prior, INN, steps, noise, seed, samples, degradation)."""
    from innverse.apps.superres import superres as _superres

    return _superres(y, scale=scale, method=method, **kwargs)


def remove_reflection(
    image: Any,
    model: Any = "durrnet-lite",
    *,
    tile: int | None = 512,
    overlap: int | None = None,
    device: str | torch.device | None = None,
) -> tuple[Any, Any]:
    """Remove the reflection from a photograph taken through glass (DURRNet): returns ``(T, R)``, the
    transmission and the reflection, each in the input's kind, dtype and layout (module conventions;
    gray images give gray results).  ``model``: a shipped name, a folder written by ``innverse train
    durrnet`` or a model; ``tile``/``overlap``: tiled inference (``tile=None``: whole images).  See
    :func:`innverse.apps.dereflect.remove_reflection`."""
    from innverse.apps.dereflect import remove_reflection as _remove_reflection

    return _remove_reflection(image, model, tile=tile, overlap=overlap, device=device)
