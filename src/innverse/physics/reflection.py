"""Synthetic photographs through glass, ``I ≈ T + R``, by the recipe ERRNet trains with.

:func:`synthesize_reflection` follows ERRNet's ``ReflectionSythesis_1`` (Wei et al., CVPR 2019, the
model inherited from Zhang et al., CVPR 2018 and CEILNet), per image:

1. draw ``σ ~ U[σ_min, σ_max]`` (ERRNet: ``[2, 5]``);
2. ``R_b = g_σ * R``: each channel convolved with the separable ``11×11`` Gaussian of std ``σ``
   (OpenCV's ``getGaussianKernel(11, σ)``, normalised to sum 1), zero padding, same size;
3. ``I = T + R_b``; if ``max(I) > 1``, let ``m = γ · (mean of I over its entries > 1 − 1)`` (mean over
   all channels and pixels that overflow; ERRNet: ``γ = 1.3``) and set ``R_b ← clip(R_b − m, 0, 1)``,
   ``I ← clip(T + R_b, 0, 1)``.

It returns ``(I, T, R_b)``: the mixture, the transmission unchanged, and the effective reflection
(``I = T + R_b`` wherever no pixel clipped).  The draws come from ``generator`` (one uniform per
image, float64 on the generator's device), so a seeded generator reproduces the pairs exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from innverse.errors import UserError
from innverse.physics.base import check_images

__all__ = [
    "synthesize_reflection",
    "gaussian_taps",
    "ERRNET_SIGMA_RANGE",
    "ERRNET_GAMMA",
    "ERRNET_KERNEL_SIZE",
]

ERRNET_SIGMA_RANGE = (2.0, 5.0)
ERRNET_GAMMA = 1.3
ERRNET_KERNEL_SIZE = 11


def gaussian_taps(size: int, sigma: Tensor) -> Tensor:
    """``(N, size)`` normalised 1-D Gaussians of std ``sigma`` ``(N,)``, centred at ``(size − 1)/2``."""
    r = torch.arange(size, dtype=sigma.dtype, device=sigma.device) - (size - 1) / 2
    g = torch.exp(-0.5 * (r.reshape(1, -1) / sigma.reshape(-1, 1)) ** 2)
    return g / g.sum(dim=1, keepdim=True)


def _blur_each(r: Tensor, taps: Tensor) -> Tensor:
    """Separable zero-padded 'same' convolution of image ``n`` of ``r`` with ``taps[n]``, per channel."""
    b, c, h, w = r.shape
    k = taps.shape[1]
    p = k // 2
    kern = taps.repeat_interleave(c, dim=0)  # (B·C, k): one kernel per (image, channel)
    x = r.reshape(1, b * c, h, w)
    x = F.conv2d(F.pad(x, (p, p, 0, 0)), kern.reshape(b * c, 1, 1, k), groups=b * c)
    x = F.conv2d(F.pad(x, (0, 0, p, p)), kern.reshape(b * c, 1, k, 1), groups=b * c)
    return x.reshape(b, c, h, w)


def synthesize_reflection(
    T: Tensor,
    R: Tensor,
    sigma_range: Sequence[float] = ERRNET_SIGMA_RANGE,
    generator: torch.Generator | None = None,
    gamma: float = ERRNET_GAMMA,
    kernel_size: int = ERRNET_KERNEL_SIZE,
) -> tuple[Tensor, Tensor, Tensor]:
    """ERRNet's reflection synthesis (module docstring) of transmission ``T`` and reflection ``R``,
    both ``(B, C, H, W)`` (or ``(C, H, W)``) in ``[0, 1]``.  Returns ``(I, T, R_effective)``."""
    single = isinstance(T, Tensor) and T.dim() == 3
    if single:
        T, R = T.unsqueeze(0), R.unsqueeze(0) if isinstance(R, Tensor) else R
    check_images(T, "synthesize_reflection: T")
    check_images(R, "synthesize_reflection: R")
    if T.shape != R.shape:
        raise UserError(f"synthesize_reflection: T {tuple(T.shape)} and R {tuple(R.shape)} differ in shape")
    try:
        lo, hi = (float(v) for v in sigma_range)
    except (TypeError, ValueError):
        raise UserError(f"sigma_range must be two numbers (min, max), got {sigma_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise UserError(f"sigma_range must satisfy 0 < min <= max, got {sigma_range!r}")
    if not (math.isfinite(gamma) and gamma >= 0):
        raise UserError(f"gamma must be a finite number >= 0, got {gamma!r}")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size % 2 == 0:
        raise UserError(f"kernel_size must be an odd integer >= 1, got {kernel_size!r}")
    b = T.shape[0]
    dev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(b, generator=generator, device=dev, dtype=torch.float64)
    sigma = (lo + (hi - lo) * u).to(T.device)
    taps = gaussian_taps(kernel_size, sigma).to(T.dtype)
    r_b = _blur_each(R, taps)
    mix = T + r_b
    over = mix > 1
    count = over.flatten(1).sum(dim=1)
    mean_over = torch.where(over, mix, torch.zeros_like(mix)).flatten(1).sum(dim=1) / count.clamp_min(1)
    shift = torch.where(count > 0, (mean_over - 1.0) * gamma, torch.zeros_like(mean_over))
    r_b = (r_b - shift.reshape(-1, 1, 1, 1)).clamp(0.0, 1.0)
    mix = (T + r_b).clamp(0.0, 1.0)
    if single:
        return mix[0], T[0], r_b[0]
    return mix, T, r_b
