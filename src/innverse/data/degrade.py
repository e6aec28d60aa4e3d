"""Synthetic degradations for the benchmarks: circular blur and seeded Gaussian noise.

The forward operators themselves live in :mod:`innverse.physics`; :func:`blur` and :func:`psf2otf`
are that package's circular blur.

Noise convention (used by the benchmarks): images in [0, 1]; for image ``i`` the noise is
``σ/255 · randn`` drawn from ``torch.Generator().manual_seed(i)``, float32, the shape of the image tensor
(1,C,H,W), no clipping.
"""

from __future__ import annotations

import numpy as np
import torch

from innverse.physics.blur import CircularBlur, psf2otf

__all__ = ["psf2otf", "blur", "seeded_noise", "add_noise", "psnr"]


def blur(x: torch.Tensor, kernel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Circular convolution of every channel of ``x`` (…,H,W) with ``kernel`` (computed in float64).

    The same as ``CircularBlur(kernel).A(x)`` (:class:`innverse.physics.CircularBlur`, where the
    centre convention and :func:`psf2otf` are described).
    """
    return CircularBlur(kernel).A(x)


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
