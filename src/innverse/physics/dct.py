"""The orthonormal DCT-II matrix and the block transforms built on it (downsampling SVD, JPEG-like
quantisation)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["dct_matrix", "block_dct", "block_idct"]


def dct_matrix(
    n: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> Tensor:
    """``D[k, m] = a_k cos(π (2m + 1) k / (2n))`` with ``a_0 = √(1/n)``, ``a_k = √(2/n)``: orthonormal,
    row 0 constant (``1/√n``).  For ``n = 8`` this is JPEG's 1-D DCT."""
    k = torch.arange(n, dtype=torch.float64).reshape(n, 1)
    m = torch.arange(n, dtype=torch.float64).reshape(1, n)
    d = torch.cos(math.pi * (2 * m + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] = math.sqrt(1.0 / n)
    return d.to(dtype=dtype, device=device)


def block_dct(x: Tensor, n: int) -> Tensor:
    """2-D DCT of each ``n×n`` block of ``x`` ``(B, C, H, W)`` (``H, W`` multiples of ``n``):
    ``(B, C, H/n, W/n, n, n)`` coefficients ``D · block · Dᵀ``."""
    b, c, h, w = x.shape
    d = dct_matrix(n, x.dtype, x.device)
    blocks = x.reshape(b, c, h // n, n, w // n, n)
    return torch.einsum("ka,lb,nchawb->nchwkl", d, d, blocks)


def block_idct(coef: Tensor) -> Tensor:
    """Inverse of :func:`block_dct`: ``(B, C, h, w, n, n)`` coefficients to ``(B, C, h·n, w·n)``."""
    b, c, h, w, n, _ = coef.shape
    d = dct_matrix(n, coef.dtype, coef.device)
    blocks = torch.einsum("ka,lb,nchwkl->nchawb", d, d, coef)
    return blocks.reshape(b, c, h * n, w * n)
