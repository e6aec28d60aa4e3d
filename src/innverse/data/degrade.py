"""Synthetic degradations for the benchmarks: circular blur and seeded Gaussian noise.

The forward operators themselves live in :mod:`innverse.physics`; :func:`blur` and :func:`psf2otf`
are that package's circular blur.

Noise convention (used by the benchmarks, :mod:`innverse.bench.protocol`, and the training
validation): images in [0, 1]; for image ``i`` the noise is ``σ/255 · randn`` drawn from
``torch.Generator().manual_seed(i)``, float32, the shape of the image tensor (1,C,H,W), no clipping
(:func:`seeded_noise`, :func:`add_seeded_noise`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from innverse import metrics
from innverse.physics.blur import CircularBlur, psf2otf

__all__ = ["psf2otf", "blur", "seeded_noise", "add_seeded_noise", "psnr"]


def blur(x: torch.Tensor, kernel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Circular convolution of every channel of ``x`` (…,H,W) with ``kernel`` (computed in float64).

    The same as ``CircularBlur(kernel).A(x)`` (:class:`innverse.physics.CircularBlur`, where the
    centre convention and :func:`psf2otf` are described).
    """
    return CircularBlur(kernel).A(x)


def seeded_noise(x: torch.Tensor | Sequence[int], sigma255: float, index: int) -> torch.Tensor:
    """The benchmark noise of image ``index`` at level ``sigma255`` (0-255 scale).

    ``sigma255/255 * randn(shape)`` drawn in float32 on the CPU from
    ``torch.Generator().manual_seed(index)``; ``shape`` is ``x.shape`` for a tensor ``x`` (the
    noise is then moved to ``x``'s device) or ``x`` itself.  The same index gives the same pattern
    at every level.
    """
    shape = tuple(x.shape) if isinstance(x, torch.Tensor) else tuple(int(s) for s in x)
    g = torch.Generator().manual_seed(int(index))
    n = (float(sigma255) / 255.0) * torch.randn(shape, generator=g, dtype=torch.float32)
    return n.to(x.device) if isinstance(x, torch.Tensor) else n


def add_seeded_noise(x: torch.Tensor, sigma255: float, index: int) -> torch.Tensor:
    """``x + seeded_noise(x, sigma255, index)``: the noisy image ``index`` of a set, not clipped."""
    return x + seeded_noise(x, sigma255, index)


def psnr(x: torch.Tensor | np.ndarray, ref: torch.Tensor | np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB of the whole of ``x`` against ``ref`` (every page, channel and pixel as one image;
    both on the same scale, peak value ``peak``): :func:`innverse.metrics.psnr` of the flattened arrays."""
    return float(metrics.psnr(x.reshape(1, -1), ref.reshape(1, -1), data_range=peak)[0])
