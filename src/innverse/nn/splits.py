"""Orthonormal 2x2 spatial-to-channel splits (Haar wavelet and lazy/polyphase wavelet).

Both map ``(B, C, H, W) -> (B, 4C, H/2, W/2)`` with the channel layout
``[band 0 (C channels) | band 1 (C) | band 2 (C) | band 3 (C)]``, coarse band first, so that a following
:class:`~innverse.nn.lifting.LiftingStep` with ``coarse_channels=C`` treats band 0 as the coarse part.
Both are orthogonal maps of the pixels, hence exactly invertible with log-det 0.

Each 2x2 block is written ``[[a, b], [c, d]]`` with ``a = x[..., 0::2, 0::2]``, ``b = x[..., 0::2, 1::2]``,
``c = x[..., 1::2, 0::2]``, ``d = x[..., 1::2, 1::2]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import InvertibleModule, check_image, zero_logdet

__all__ = ["HaarSplit", "PolyphaseSplit"]


def _polyphase(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    b, c, h, w = x.shape
    v = x.reshape(b, c, h // 2, 2, w // 2, 2)
    return v[:, :, :, 0, :, 0], v[:, :, :, 0, :, 1], v[:, :, :, 1, :, 0], v[:, :, :, 1, :, 1]


def _unpolyphase(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    top = torch.stack((a, b), dim=-1)  # (B, C, h, w, 2)
    bottom = torch.stack((c, d), dim=-1)
    v = torch.stack((top, bottom), dim=3)  # (B, C, h, 2, w, 2)
    n, ch, h, _, w, _ = v.shape
    return v.reshape(n, ch, 2 * h, 2 * w)


def _check_bands(y: Tensor, name: str) -> None:
    check_image(y, name=name)
    if y.shape[1] % 4:
        raise ValueError(f"{name} of shape {tuple(y.shape)} must have a channel count divisible by 4")


class HaarSplit(InvertibleModule):
    """One level of the orthonormal 2-D Haar transform, ``(B, C, H, W) -> (B, 4C, H/2, W/2)``.

    Forward (data -> coefficients), per 2x2 block ``[[a, b], [c, d]]``::

        LL = (a + b + c + d) / 2      # coarse
        LH = (a + b - c - d) / 2      # low along width, high along height (pywt's cH)
        HL = (a - b + c - d) / 2      # high along width, low along height (pywt's cV)
        HH = (a - b - c + d) / 2      # diagonal (pywt's cD)

    output channels ``[LL (C) | LH (C) | HL (C) | HH (C)]`` -- the same values and signs as
    ``pywt.dwt2(x, "haar")``.  The map is orthogonal (energy preserving), ``log_det = 0``.
    ``inverse`` is the transpose (the 4x4 Haar matrix is symmetric, so the same formula).
    Odd ``H`` or ``W`` raises ``ValueError`` naming the shape.
    """

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> Haar bands; ``log_det = log|det dy/dx| = 0`` of shape ``(B,)``."""
        check_image(x, multiple=2, name="HaarSplit input")
        a, b, c, d = _polyphase(x)
        ll = (a + b + c + d) * 0.5
        lh = (a + b - c - d) * 0.5
        hl = (a - b + c - d) * 0.5
        hh = (a - b - c + d) * 0.5
        return torch.cat((ll, lh, hl, hh), dim=1), zero_logdet(x)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Haar bands -> data (exact inverse of :meth:`forward`)."""
        _check_bands(y, "HaarSplit.inverse input")
        ll, lh, hl, hh = y.chunk(4, dim=1)
        a = (ll + lh + hl + hh) * 0.5
        b = (ll + lh - hl - hh) * 0.5
        c = (ll - lh + hl - hh) * 0.5
        d = (ll - lh - hl + hh) * 0.5
        return _unpolyphase(a, b, c, d)


class PolyphaseSplit(InvertibleModule):
    """The lazy wavelet (space-to-depth), ``(B, C, H, W) -> (B, 4C, H/2, W/2)``.

    Forward output channels ``[a = even-even (C) | b = even-odd (C) | c = odd-even (C) | d = odd-odd (C)]``
    where even/odd refer to (row, column) parity; the even-even component is the "coarse" band.
    A pure permutation of pixels: ``log_det = 0``.  Odd ``H`` or ``W`` raises ``ValueError`` naming the shape.
    """

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> polyphase components; ``log_det = 0`` of shape ``(B,)``."""
        check_image(x, multiple=2, name="PolyphaseSplit input")
        return torch.cat(_polyphase(x), dim=1), zero_logdet(x)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Polyphase components -> data (exact inverse of :meth:`forward`)."""
        _check_bands(y, "PolyphaseSplit.inverse input")
        return _unpolyphase(*y.chunk(4, dim=1))
