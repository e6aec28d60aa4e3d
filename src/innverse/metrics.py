"""Image quality metrics on torch tensors: PSNR and SSIM, one value per image.

Both functions accept ``(B, C, H, W)`` tensors (also ``(C, H, W)`` and ``(H, W)``, treated as one
image, and numpy arrays) and return a float64 tensor of shape ``(B,)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "ssim", "gaussian_window"]


def _as4d(x: Tensor | np.ndarray, name: str) -> Tensor:
    if isinstance(x, Tensor):
        t = x.detach().to(torch.float64)
    else:
        t = torch.from_numpy(np.array(x, dtype=np.float64))  # a copy: read-only arrays are fine
    if t.ndim == 2:
        t = t[None, None]
    elif t.ndim == 3:
        t = t[None]
    elif t.ndim != 4:
        raise ValueError(f"{name}: expected (B, C, H, W), (C, H, W) or (H, W), got shape {tuple(t.shape)}")
    return t


def _pair(x: Tensor | np.ndarray, ref: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
    a, b = _as4d(x, "x"), _as4d(ref, "ref")
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: x {tuple(a.shape)} vs ref {tuple(b.shape)}")
    return a, b.to(a.device)


def psnr(x: Tensor | np.ndarray, ref: Tensor | np.ndarray, data_range: float = 1.0, crop: int = 0) -> Tensor:
    """Peak signal-to-noise ratio in dB of each image: ``10 log10(data_range**2 / MSE)``.

    The MSE is taken over all channels and pixels of an image, after removing ``crop`` pixels
    from every border.  Identical images give ``inf``.  Returns ``(B,)`` float64.
    """
    a, b = _pair(x, ref)
    if crop < 0:
        raise ValueError(f"crop must be >= 0, got {crop}")
    if crop:
        h, w = a.shape[-2:]
        if 2 * crop >= min(h, w):
            raise ValueError(f"crop {crop} removes the whole {h}x{w} image")
        a = a[..., crop:-crop, crop:-crop]
        b = b[..., crop:-crop, crop:-crop]
    mse = (a - b).square().flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> Tensor:
    """The normalised ``size x size`` Gaussian window of Wang et al. (2004), as ``(size, size)``."""
    r = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(
    x: Tensor | np.ndarray,
    ref: Tensor | np.ndarray,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) of each image.

    Local statistics use an ``11 x 11`` Gaussian window with ``sigma = 1.5`` (normalised to sum
    1), population (not sample) variances, ``C1 = (k1 L)^2`` and ``C2 = (k2 L)^2`` with
    ``L = data_range``.  The SSIM map is computed where the window fits inside the image (the
    ``'valid'`` region, as Wang et al.'s reference code and as ``skimage.metrics.
    structural_similarity(..., gaussian_weights=True, use_sample_covariance=False)``, which
    crops the same border) and averaged; for several channels the per-channel means are
    averaged.  Returns ``(B,)`` float64.
    """
    a, b = _pair(x, ref)
    h, w = a.shape[-2:]
    if min(h, w) < win_size:
        raise ValueError(f"image {h}x{w} is smaller than the {win_size}x{win_size} SSIM window")
    bsz, c = a.shape[:2]
    win = gaussian_window(win_size, sigma).to(a.device)[None, None]
    # stack the five quantities whose local means are needed and filter them in one go
    stack = torch.cat([a, b, a * a, b * b, a * b], dim=1).reshape(bsz * 5 * c, 1, h, w)
    m = F.conv2d(stack, win).reshape(bsz, 5, c, h - win_size + 1, w - win_size + 1)
    mu_x, mu_y, exx, eyy, exy = m.unbind(1)
    vx = exx - mu_x * mu_x
    vy = eyy - mu_y * mu_y
    cxy = exy - mu_x * mu_y
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    smap = ((2 * mu_x * mu_y + c1) * (2 * cxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (vx + vy + c2))
    return smap.mean(dim=(-2, -1)).mean(dim=1)
