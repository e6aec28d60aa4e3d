"""A non-linear degradation: ``s×s`` average downsampling followed by JPEG-like quantisation.

``A(x) = Q(D x)`` with ``D`` the block average of :class:`~innverse.physics.downsampling.Downsampling`
and ``Q`` the lossy core of baseline JPEG applied to each channel of the low-resolution image: pad to a
multiple of 8 by edge replication, map ``[0, 1]`` to ``[−128, 127]`` (``255 v − 128``), take the
orthonormal 2-D DCT of every 8×8 block (JPEG's DCT), divide by the quantisation table, **round**,
multiply back, invert the DCT, map back to ``[0, 1]``, **clip** to ``[0, 1]`` and crop.  The table is
the standard JPEG luminance table (ITU-T T.81, Annex K.1) scaled by the IJG quality formula
(``quality`` 1..100; 50 is the table itself).  Chroma subsampling and the final rounding of decoded
pixels to 8 bits are left out; every channel uses the luminance table.

``Q`` is deterministic (computed in float64 whatever the input's dtype and device, rounding half to
even), idempotent, and not linear.  Its gradient is zero almost everywhere, so
:meth:`QuantizedDownsampling.A_surrogate` replaces the rounding by a straight-through estimator: the
same values as ``A`` (exactly), with the rounding's gradient taken as the identity (the clip keeps its
true gradient).  DPS-style guidance uses the surrogate; DDRM and ILVR refuse the operator
(``linear = False``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from innverse.errors import UserError
from innverse.physics.base import Operator, check_images
from innverse.physics.dct import block_dct, block_idct
from innverse.physics.downsampling import average_downsample, check_factor

__all__ = ["QuantizedDownsampling", "JPEG_LUMINANCE", "quantization_table", "jpeg_quantize"]

#: ITU-T T.81 Annex K, Table K.1 (luminance), row = vertical frequency
JPEG_LUMINANCE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
BLOCK = 8


def quantization_table(quality: int) -> Tensor:
    """The 8×8 JPEG luminance table for IJG ``quality`` (1..100), float64: ``scale = 5000/q`` below 50,
    ``200 − 2q`` from 50, entries ``floor((base·scale + 50)/100)`` clipped to ``[1, 255]``."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise UserError(f"JPEG quality must be an integer in 1..100, got {quality!r}")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    base = torch.tensor(JPEG_LUMINANCE, dtype=torch.float64)
    return torch.floor((base * scale + 50) / 100).clamp(1, 255)


class _StraightThroughRound(torch.autograd.Function):
    """``round`` forward, identity backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad


def jpeg_quantize(x: Tensor, table: Tensor, straight_through: bool = False) -> Tensor:
    """The JPEG-like quantisation ``Q`` (module docstring) of ``(B, C, H, W)`` in ``[0, 1]``."""
    check_images(x, "jpeg_quantize")
    h, w = x.shape[-2:]
    ph, pw = (-h) % BLOCK, (-w) % BLOCK
    v = x.to(torch.float64)
    if ph or pw:
        v = F.pad(v, (0, pw, 0, ph), mode="replicate")
    t = table.to(device=x.device, dtype=torch.float64)
    coef = block_dct(255.0 * v - 128.0, BLOCK) / t
    q = _StraightThroughRound.apply(coef) if straight_through else torch.round(coef)
    rec = (block_idct(q * t) + 128.0) / 255.0
    return rec.clamp(0.0, 1.0)[..., :h, :w].to(x.dtype)


class QuantizedDownsampling(Operator):
    """``y = Q(D x) + n``: ``factor``×``factor`` averaging, then JPEG-like quantisation at ``quality``
    (non-linear; see the module docstring).  Images must have ``H, W`` divisible by ``factor``."""

    linear = False

    def __init__(self, factor: int = 4, quality: int = 75, sigma: float = 0.0):
        super().__init__(sigma)
        self.factor = check_factor(factor)
        self.quality = quality
        self.table = quantization_table(quality)
        self.name = f"quantized downsampling x{self.factor} (JPEG-like quality {quality})"

    def __repr__(self) -> str:
        return f"QuantizedDownsampling(factor={self.factor}, quality={self.quality}, sigma={self.sigma:g})"

    def output_shape(self, x_shape) -> tuple[int, ...]:
        *lead, h, w = (int(n) for n in x_shape)
        s = self.factor
        if h % s or w % s:
            raise UserError(f"{self.name}: the image size {h}×{w} is not divisible by {s}")
        return (*lead, h // s, w // s)

    def downsample(self, x: Tensor) -> Tensor:
        """The linear part ``D x`` (block averages, before quantisation)."""
        check_images(x, self.name)
        self.output_shape(x.shape)
        return average_downsample(x, self.factor)

    def A(self, x: Tensor) -> Tensor:
        return jpeg_quantize(self.downsample(x), self.table)

    def A_surrogate(self, x: Tensor) -> Tensor:
        """Equal to :meth:`A`; differentiable (straight-through rounding)."""
        return jpeg_quantize(self.downsample(x), self.table, straight_through=True)
