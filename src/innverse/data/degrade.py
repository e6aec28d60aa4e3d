"""Synthetic degradations: circular blur via the FFT and seeded Gaussian noise.

Noise convention (used by the benchmarks): images in [0, 1]; for image ``i`` the noise is
``σ/255 · randn`` drawn from ``torch.Generator().manual_seed(i)``, float32, the shape of the image tensor
(1,C,H,W), no clipping.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["psf2otf", "blur", "seeded_noise", "add_noise", "psnr"]


def psf2otf(kernel: np.ndarray | torch.Tensor, shape: tuple[int, int], dtype=torch.float64) -> torch.Tensor:
    """The optical transfer function (``rfft2``, shape ``(H, W//2+1)``) of a kernel for an H×W image.

    The kernel is zero-padded to H×W and circularly shifted so that its centre (index ``size // 2``
    along each axis) lands on (0, 0), as MATLAB's ``psf2otf`` does.
    """
    k = torch.as_tensor(np.asarray(kernel) if not isinstance(kernel, torch.Tensor) else kernel, dtype=dtype)
    kh, kw = k.shape
    h, w = shape
    if kh > h or kw > w:
        raise ValueError(f"kernel {kh}×{kw} is larger than the image {h}×{w}")
    pad = torch.zeros(h, w, dtype=dtype)
    pad[:kh, :kw] = k
    pad = torch.roll(pad, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return torch.fft.rfft2(pad)


def blur(x: torch.Tensor, kernel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Circular convolution of every channel of ``x`` (…,H,W) with ``kernel`` (computed in float64)."""
    h, w = x.shape[-2:]
    otf = psf2otf(kernel, (h, w)).to(x.device)
    y = torch.fft.irfft2(torch.fft.rfft2(x.to(torch.float64)) * otf, s=(h, w))
    return y.to(x.dtype)


def seeded_noise(shape: tuple[int, ...] | torch.Size, sigma255: float, seed: int) -> torch.Tensor:
    """``σ/255 · randn(shape)`` from ``torch.Generator().manual_seed(seed)``, float32 on the CPU."""
    g = torch.Generator().manual_seed(int(seed))
    return (sigma255 / 255.0) * torch.randn(tuple(shape), generator=g, dtype=torch.float32)


def add_noise(x: torch.Tensor, sigma255: float, seed: int) -> torch.Tensor:
    """``x`` plus seeded Gaussian noise of std σ/255 (no clipping); see the module docstring."""
    return x + seeded_noise(x.shape, sigma255, seed).to(x.device, x.dtype)


def psnr(x: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB of ``x`` against ``ref`` (both on the same scale, peak value ``peak``)."""
    a = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=torch.float64)
    b = torch.as_tensor(np.asarray(ref) if not isinstance(ref, torch.Tensor) else ref, dtype=torch.float64)
    mse = float(torch.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(peak**2 / mse))
