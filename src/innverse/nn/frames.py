"""Frames (redundant transforms with an exact left inverse; contract in :mod:`innverse.nn.base`).

:class:`DCTFrame` is the undecimated block-DCT frame WINNet/LINN use as their fixed split: ``n*n``
filters of size ``n x n`` (default 4), row ``k`` of the orthonormal ``n*n``-point DCT-II matrix reshaped
row-major (``k = 0`` is the constant/DC filter, the *coarse* band; the others are the *details*).
Applied with stride 1 and **circular** boundaries the analysis operator ``W`` satisfies
``W^T W = n^2 I``: a tight frame, so ``synthesis(analysis(x)) = W^T W x / n^2 = x`` exactly (to
rounding) everywhere, borders included.  (Replicate padding, as in the released WINNet code, is not
invertible at the borders; WINNet reflect-pads the image, applies this circular frame and crops.)
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Frame, check_image

__all__ = ["dct_matrix", "DCTFrame"]


def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Orthonormal DCT-II matrix ``C`` (``C @ C.T == I``); row ``k`` is frequency ``k``."""
    i = torch.arange(n, dtype=torch.float64)
    k = i[:, None]
    c = torch.cos(math.pi * k * (2 * i[None, :] + 1) / (2 * n)) * math.sqrt(2.0 / n)
    c[0] /= math.sqrt(2.0)
    return c.to(dtype)


class DCTFrame(Frame):
    """Stride-1 ``size x size`` DCT frame with circular boundary, coarse band first.

    ``analysis(x)``: ``(B, C, H, W) -> (B, size^2 * C, H, W)`` with the band-major layout
    ``[band 0 (C channels) | band 1 (C) | ...]`` (for ``C = 1``: channel 0 is the DC band);
    ``synthesis(y)``: the exact left inverse ``W^T y / size^2`` (tight frame), ``(B, size^2 * C, H, W)
    -> (B, C, H, W)``.  Both are linear; no parameters; no conditioning.  The filter is anchored at
    ``((size - 1) // 2, (size - 1) // 2)`` of its window, as in the released WINNet code.
    """

    def __init__(self, size: int = 4) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"DCTFrame size must be >= 1; got {size}")
        self.size = int(size)
        self.redundancy = self.size * self.size
        # left/top and right/bottom padding of the analysis (filter anchored as in the release)
        self._pa = ((self.size - 1) // 2, self.size // 2)
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[Tensor, Tensor]] = {}

    @property
    def channels(self) -> int:
        """Bands per input channel (``size^2``)."""
        return self.size * self.size

    def kernels(self, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
        """(analysis, synthesis) filters, built in float64 and cast once per dtype/device."""
        key = (dtype, device)
        if key not in self._cache:
            n = self.size * self.size
            k = dct_matrix(n).reshape(n, 1, self.size, self.size)
            kt = torch.flip(k, (2, 3)).permute(1, 0, 2, 3) / n
            self._cache[key] = (k.to(dtype=dtype, device=device), kt.to(dtype=dtype, device=device))
        return self._cache[key]

    def analysis(self, x: Tensor, **cond: Any) -> Tensor:
        """Data ``(B, C, H, W)`` -> coefficients ``(B, size^2 C, H, W)``."""
        check_image(x, name="DCTFrame input")
        lo, hi = self._pa
        b, c, h, w = x.shape
        xs = x if c == 1 else x.reshape(b * c, 1, h, w)
        y = F.conv2d(F.pad(xs, (lo, hi, lo, hi), mode="circular"), self.kernels(x.dtype, x.device)[0])
        if c == 1:
            return y
        return y.reshape(b, c, self.channels, h, w).transpose(1, 2).reshape(b, self.channels * c, h, w)

    def synthesis(self, y: Tensor, **cond: Any) -> Tensor:
        """Coefficients ``(B, size^2 C, H, W)`` -> data ``(B, C, H, W)`` (left inverse of the analysis)."""
        check_image(y, name="DCTFrame.synthesis input")
        n = self.channels
        b, cn, h, w = y.shape
        if cn % n:
            raise ValueError(
                f"DCTFrame.synthesis input of shape {tuple(y.shape)} must have a multiple of {n} channels"
            )
        c = cn // n
        ys = y if c == 1 else y.reshape(b, n, c, h, w).transpose(1, 2).reshape(b * c, n, h, w)
        lo, hi = self._pa
        x = F.conv2d(F.pad(ys, (hi, lo, hi, lo), mode="circular"), self.kernels(y.dtype, y.device)[1])
        return x if c == 1 else x.reshape(b, c, h, w)

    def extra_repr(self) -> str:
        return f"size={self.size}"
