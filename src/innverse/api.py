"""Top-level functions: :func:`denoise`, :func:`estimate_noise` and :func:`deblur`.

Conventions (the same everywhere in the user-facing API and the CLI):

* **Noise levels are on the 0–255 scale of 8-bit images**, whatever the input dtype: ``sigma=25``
  means a noise std of 25/255 of the full range, for uint8, uint16 and float images alike (float images
  are taken to span [0, 1]).  :func:`estimate_noise` answers on the same scale.
* **Layouts**: numpy arrays ``H×W`` (gray) or ``H×W×C`` (numpy convention); torch tensors ``H×W``,
  ``C×H×W`` or (either kind) ``B×C×H×W``.  ``C`` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA);
  alpha is passed through untouched.
* **dtypes**: uint8 and uint16 are scaled by 255 / 65535 and the result is rounded back to the same
  dtype (clipped); float inputs give float outputs of the same dtype, *not* clipped to [0, 1].  The
  result has the same kind (numpy/torch), dtype, shape and (for tensors) device as the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from innverse.data import color as colorlib
from innverse.data.kernels import load_kernel
from innverse.errors import UserError
from innverse.solvers.denoise import (
    BLIND_DENOISER,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    check_sigma,
    denoise_tensor,
    estimate_sigma,
    get_denoiser,
    get_estimator,
    min_size_of,
    resolve_device,
    sigma_list,
)
from innverse.solvers.pnp import DEFAULT_LAMBDA, DEFAULT_MAX_ITER, deblur_tensor

__all__ = ["denoise", "estimate_noise", "deblur"]

_INT_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


class _Batch:
    """An input image as a float32 (B,C,H,W) tensor plus the recipe to give results back in kind."""

    def __init__(self, image: Any):
        if isinstance(image, torch.Tensor):
            self.is_torch = True
            self.device = image.device
            t = image.detach()
            if t.dtype == torch.uint8:
                self.scale: float | None = 255.0
            elif t.dtype == getattr(torch, "uint16", None):
                self.scale = 65535.0
                t = t.to(torch.int32)
            elif t.is_floating_point():
                self.scale = None
            else:
                raise UserError(f"unsupported tensor dtype {t.dtype} (use uint8, uint16 or float)")
            self.dtype: Any = image.dtype
            self.shape = tuple(image.shape)
            if t.dim() == 2:
                x = t[None, None]
            elif t.dim() == 3:
                x = t[None]
            elif t.dim() == 4:
                x = t
            else:
                raise UserError(f"expected an H×W, C×H×W or B×C×H×W tensor, got shape {self.shape}")
            x = x.to(torch.float32)
        elif isinstance(image, np.ndarray):
            self.is_torch = False
            self.device = torch.device("cpu")
            self.dtype = image.dtype
            self.shape = image.shape
            if image.dtype in _INT_SCALE:
                self.scale = _INT_SCALE[image.dtype]
            elif np.issubdtype(image.dtype, np.floating):
                self.scale = None
            else:
                raise UserError(f"unsupported array dtype {image.dtype} (use uint8, uint16 or float)")
            a = np.asarray(image, dtype=np.float32)
            if a.ndim == 2:
                a = a[None, None]
            elif a.ndim == 3:
                a = np.moveaxis(a, 2, 0)[None]
            elif a.ndim != 4:
                raise UserError(f"expected an H×W, H×W×C or B×C×H×W array, got shape {image.shape}")
            x = torch.from_numpy(np.ascontiguousarray(a))
        else:
            raise UserError(f"expected a numpy array or a torch tensor, got {type(image).__name__}")
        if x.shape[1] not in (1, 2, 3, 4):
            raise UserError(
                f"image of shape {self.shape} has {x.shape[1]} channels; 1 (gray), 2, 3 (RGB) or 4 expected "
                "(numpy: H×W×C, torch: C×H×W)"
            )
        if x.numel() == 0:
            raise UserError(f"empty image of shape {self.shape}")
        if self.scale is not None:
            x = x / self.scale
        elif not torch.isfinite(x).all():
            raise UserError("image contains NaN or infinite values")
        c = x.shape[1]
        self.alpha = x[:, c - 1 :] if c in (2, 4) else None
        self.x = x[:, : 1 if c <= 2 else 3].contiguous()

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.x.shape[-2]), int(self.x.shape[-1])

    def check_min_size(self, min_size: int) -> None:
        """Raise :class:`UserError` when the image is smaller than ``min_size`` on a side."""
        h, w = self.size
        if min(h, w) < min_size:
            raise UserError(f"image is {w}×{h} pixels, the model needs at least {min_size}×{min_size}")

    def restore(self, out: torch.Tensor) -> Any:
        """A (B,C,H,W) float result → the input's kind, dtype, layout and device."""
        out = out.to("cpu", torch.float32)
        if self.alpha is not None:
            out = torch.cat([out, self.alpha.to(out.dtype)], dim=1)
        if self.scale is not None:
            out = torch.round(out.clamp(0.0, 1.0) * self.scale)
        if self.is_torch:
            r = out.reshape(self.shape) if len(self.shape) < 4 else out
            if self.dtype == getattr(torch, "uint16", None):
                return r.to(torch.int32).to(torch.uint16).to(self.device)
            return r.to(self.dtype).to(self.device)
        a = out.numpy()
        if len(self.shape) == 2:
            a = a[0, 0]
        elif len(self.shape) == 3:
            a = np.moveaxis(a[0], 0, 2)
        return np.ascontiguousarray(a).astype(self.dtype, copy=False)


def _check_color(color: str) -> str:
    if color not in colorlib.COLOR_SPACES:
        raise UserError(f"unknown colour handling {color!r} (choose from {', '.join(colorlib.COLOR_SPACES)})")
    return color


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
) -> Any:
    """Remove Gaussian noise from an image (numpy array or torch tensor; see the module conventions).

    ``sigma``: noise std on the 0–255 scale; ``None`` → blind: the noise estimator (NENet) estimates σ
    per image and the blind denoiser is used.  ``model``/``estimator``: a pretrained name, a checkpoint
    path or a ready model (default: the non-blind model for σ when there is one, see
    :func:`innverse.solvers.denoise.default_denoiser_name`; the blind model when σ is estimated, and for
    colour images, whose opponent/YCbCr channels each carry their own σ).  ``tile``/``overlap``: tiled
    inference (``tile=None`` runs whole images).  ``color``: ``"opponent"`` (default), ``"ycbcr"`` or
    ``"rgb"``.  ``ensemble=True``: average over the 8 flips/rotations (about 8x slower, slightly
    better).

    Returns the denoised image in the input's kind, dtype and shape; with ``return_info=True`` returns
    ``(image, info)`` where ``info["sigma"]`` lists σ per image (0–255 scale) and ``info["estimated"]``
    says whether it was estimated.
    """
    s255 = check_sigma(sigma)
    _check_color(color)
    batch = _Batch(image)
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
) -> float | np.ndarray:
    """Estimated Gaussian noise std on the 0–255 scale (NENet by default).

    A float for a single image (H×W, H×W×C, C×H×W), a (B,) float array for a B×C×H×W batch.  Colour
    images: the mean of the R, G and B estimates.
    """
    batch = _Batch(image)
    dev = resolve_device(device)
    est = get_estimator(estimator, dev)
    batch.check_min_size(min_size_of(est))
    s = np.asarray(sigma_list(estimate_sigma(batch.x.to(dev), est)), dtype=np.float64)
    return float(s[0]) if len(batch.shape) < 4 else s


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
) -> Any:
    """Deblur a (noisy) blurred image by plug-and-play with a blind denoiser (WINNet, Algorithm 1).

    ``kernel``: a 2-D array/tensor, a ``.npy`` or image file, or ``"levin:N"`` (see
    :func:`innverse.data.kernels.load_kernel`); it is normalised to sum 1 and the blur is taken as
    circular.  ``sigma``: noise std on the 0–255 scale, else estimated.  ``lam``: λ (default 0.23);
    ``max_iter``: iteration cap (default 30).  ``model`` defaults to the blind denoiser, ``estimator``
    to NENet (both are needed in the loop).  Colour images are processed per channel after the
    ``color`` transform (the blur commutes with it).

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
    k = kernel.detach().cpu().numpy() if isinstance(kernel, torch.Tensor) else kernel
    k = load_kernel(k)
    batch = _Batch(image)
    h, w = batch.size
    if k.shape[0] > h or k.shape[1] > w:
        raise UserError(f"blur kernel {k.shape[1]}×{k.shape[0]} is larger than the image {w}×{h}")
    dev = resolve_device(device)
    den = get_denoiser(BLIND_DENOISER if model is None else model, None, dev)
    est = get_estimator(estimator, dev)
    batch.check_min_size(min_size_of(den, est))
    out, info = deblur_tensor(
        batch.x.to(dev),
        k,
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
