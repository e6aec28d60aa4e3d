"""Undecimated DCT frame used by WINNet/LINN as the fixed split operator.

The frame has 16 filters of size 4x4: row ``k`` of the orthonormal 16-point DCT-II matrix,
reshaped row-major (``k = 0`` is the constant/DC filter, the *coarse* part; the other 15 are the
*details*).  Applied with stride 1 it is 16x redundant.

With **circular** boundaries the analysis operator ``W`` satisfies ``W^T W = 16 I``: it is a tight
frame, so ``synthesis(analysis(x)) == x`` exactly (to rounding) everywhere, borders included.
The released WINNet code used replicate padding, which is not invertible at the borders (about
57 dB round trip); :class:`~innverse.models.winnet.WINNet` instead reflect-pads the image, applies
this circular frame and crops, which is exact and matches the released numbers.

This is a frame, not a bijection (16 outputs per input pixel), so it has no log-determinant; its
exactness is ``synthesis o analysis = identity`` (tested to <= 1e-12 in float64).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["dct_matrix", "DCTFrame"]


def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Orthonormal DCT-II matrix ``C`` (``C @ C.T == I``); row ``k`` is frequency ``k``."""
    i = torch.arange(n, dtype=torch.float64)
    k = i[:, None]
    c = torch.cos(math.pi * k * (2 * i[None, :] + 1) / (2 * n)) * math.sqrt(2.0 / n)
    c[0] /= math.sqrt(2.0)
    return c.to(dtype)


class DCTFrame(nn.Module):
    """Stride-1 4x4 DCT frame with circular boundary; ``coarse`` channels first.

    ``analysis(x)``: (B, 1, H, W) -> (B, 16, H, W); ``synthesis(y)``: the exact left inverse
    ``W^T y / 16`` (tight frame).
    """

    def __init__(self, size: int = 4) -> None:
        super().__init__()
        self.size = size
        # left/top and right/bottom padding of the analysis (filter anchored as in the release)
        self._pa = ((size - 1) // 2, size // 2)
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[Tensor, Tensor]] = {}

    def kernels(self, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
        """(analysis, synthesis) filters, built in float64 and cast once per dtype/device."""
        key = (dtype, device)
        if key not in self._cache:
            n = self.size * self.size
            k = dct_matrix(n).reshape(n, 1, self.size, self.size)
            kt = torch.flip(k, (2, 3)).permute(1, 0, 2, 3) / n
            self._cache[key] = (k.to(dtype=dtype, device=device), kt.to(dtype=dtype, device=device))
        return self._cache[key]

    @property
    def channels(self) -> int:
        return self.size * self.size

    def analysis(self, x: Tensor) -> Tensor:
        lo, hi = self._pa
        xp = F.pad(x, (lo, hi, lo, hi), mode="circular")
        return F.conv2d(xp, self.kernels(x.dtype, x.device)[0])

    def synthesis(self, y: Tensor) -> Tensor:
        lo, hi = self._pa
        yp = F.pad(y, (hi, lo, hi, lo), mode="circular")
        return F.conv2d(yp, self.kernels(y.dtype, y.device)[1])
