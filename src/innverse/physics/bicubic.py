"""Bicubic resampling by integer factors, as MATLAB's ``imresize`` does it, with an exact adjoint.

Each axis is resampled by a table of taps: output sample ``i`` sits at input coordinate
``u = (i + ½)·r − ½`` (``r`` = input/output length ratio, pixel centres at integers) and is
``Σ_j w_ij x[j]`` with Keys' cubic kernel (``a = −½``)

``κ(t) = 1.5|t|³ − 2.5|t|² + 1`` for ``|t| ≤ 1``, ``−0.5|t|³ + 2.5|t|² − 4|t| + 2`` for ``1 < |t| < 2``.

Downscaling by ``s`` is antialiased: ``w_ij ∝ κ((u − j)/s)`` over the inputs with ``|u − j| < 2s``
(``4s`` non-zero taps for even ``s``, ``4s − 3`` for odd ``s``, whose taps at ``|u − j| = s`` fall on a
zero of ``κ``), i.e. a strided convolution with the stretched kernel.
Upscaling uses ``w_ij = κ(u − j)`` on the 4 nearest inputs.  Each row of weights is normalised to sum
1.  Indices beyond the border are mirrored half-sample symmetrically (``x[−1] = x[0]``), as in
``imresize``.  The adjoint scatters with the same taps (``index_add``), so ``⟨R x, y⟩ = ⟨x, Rᵀ y⟩``
holds to rounding.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from innverse.errors import UserError
from innverse.physics.base import check_images

__all__ = ["cubic", "resize_taps", "resample_axis", "resample_axis_adjoint", "bicubic_upsample"]


def cubic(t: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with ``a = −½`` (support ``(−2, 2)``)."""
    a = t.abs()
    a2, a3 = a * a, a * a * a
    inner = 1.5 * a3 - 2.5 * a2 + 1.0
    outer = -0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0
    return torch.where(a <= 1, inner, torch.where(a < 2, outer, torch.zeros_like(a)))


def _mirror(j: Tensor, n: int) -> Tensor:
    """Half-sample symmetric index folding into ``[0, n)``."""
    m = torch.remainder(j, 2 * n)
    return torch.where(m >= n, 2 * n - 1 - m, m)


def resize_taps(n_in: int, n_out: int) -> tuple[Tensor, Tensor]:
    """``(index, weight)``, both ``(n_out, taps)``, of bicubic resampling from ``n_in`` to ``n_out``
    samples (``n_in / n_out`` or ``n_out / n_in`` an integer); float64 weights, rows sum to 1."""
    if n_in < 1 or n_out < 1:
        raise UserError(f"cannot resample {n_in} samples to {n_out}")
    if n_in % n_out and n_out % n_in:
        raise UserError(f"bicubic resampling needs an integer factor, got {n_in} -> {n_out} samples")
    ratio = n_in / n_out
    stretch = max(ratio, 1.0)  # antialiasing: widen the kernel when shrinking
    i = torch.arange(n_out, dtype=torch.float64)
    u = (i + 0.5) * ratio - 0.5
    half = 2.0 * stretch
    first = torch.floor(u - half) + 1  # first index with |u - j| < half
    taps = int(math.ceil(2 * half)) + 1
    j = first.reshape(-1, 1) + torch.arange(taps, dtype=torch.float64).reshape(1, -1)
    w = cubic((u.reshape(-1, 1) - j) / stretch)
    keep = (w != 0).any(dim=0)  # drop tap columns that are zero for every output sample
    j, w = j[:, keep], w[:, keep]
    w = w / w.sum(dim=1, keepdim=True)
    return _mirror(j.long(), n_in), w


def resample_axis(x: Tensor, index: Tensor, weight: Tensor, dim: int) -> Tensor:
    """Apply taps ``(index, weight)`` along ``dim`` (``-1`` or ``-2``) of ``x``."""
    t = x.transpose(dim, -1) if dim != -1 else x
    out = (t[..., index] * weight.to(t)).sum(-1)
    return out.transpose(dim, -1) if dim != -1 else out


def resample_axis_adjoint(y: Tensor, index: Tensor, weight: Tensor, n_in: int, dim: int) -> Tensor:
    """The adjoint of :func:`resample_axis`: scatter ``y`` back to ``n_in`` samples along ``dim``."""
    t = y.transpose(dim, -1) if dim != -1 else y
    contrib = (t.unsqueeze(-1) * weight.to(t)).flatten(-2)
    out = torch.zeros(*t.shape[:-1], n_in, dtype=t.dtype, device=t.device)
    out.index_add_(out.dim() - 1, index.reshape(-1).to(t.device), contrib)
    return out.transpose(dim, -1) if dim != -1 else out


def bicubic_upsample(y: Tensor, factor: int) -> Tensor:
    """Bicubic upscaling of ``(B, C, h, w)`` by an integer ``factor`` (MATLAB ``imresize`` style), the
    classical super-resolution baseline."""
    check_images(y, "bicubic_upsample")
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise UserError(f"bicubic_upsample: factor must be an integer >= 1, got {factor!r}")
    h, w = y.shape[-2:]
    ih, wh = resize_taps(h, h * factor)
    iw, ww = resize_taps(w, w * factor)
    dev = y.device
    out = resample_axis(y, ih.to(dev), wh, dim=-2)
    return resample_axis(out, iw.to(dev), ww, dim=-1)
