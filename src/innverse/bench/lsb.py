"""Least-significant-bit substitution, the classical baseline of image hiding.

Images are 8-bit values held as float tensors ``k / 255`` (B, C, H, W).  :func:`lsb_hide` keeps the
``8 - n k`` most significant bits of each cover sample and writes the ``k`` most significant bits of
each of the ``n`` secrets below them (secret 1 highest)::

    stego = cover_msb(8 - n k) | s_1 >> (8 - k) << (n - 1) k | ... | s_n >> (8 - k)

:func:`lsb_reveal` reads them back and fills the ``8 - k`` bits that were not carried with half a
step (``2^(7 - k)``), the mid-point of the interval the true value lies in (which minimises the
mean squared error for a uniform remainder; filling with zeros costs about 3 dB more).

Capacity: one secret at ``k = 4`` hides 12 bits per pixel (3 channels x 4) in the 4 low bits of each
cover sample.  Four secrets in one cover at the same *budget in the cover* (the 4 low bits) leave one
bit per secret sample (``n = 4, k = 1``); four secrets at 2 bits each (``n = 4, k = 2``) fill all 24 bits
of a pixel with secret bits and keep nothing of the cover: 24 bits per pixel into 24 bits.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lsb_hide", "lsb_reveal", "to_levels", "from_levels"]


def to_levels(x: Tensor) -> Tensor:
    """Float images on [0, 1] -> int64 8-bit levels (rounded, clipped)."""
    return (x.clamp(0, 1) * 255).round().to(torch.int64)


def from_levels(q: Tensor, like: Tensor) -> Tensor:
    """int 8-bit levels -> float images ``q / 255`` of ``like``'s dtype and device."""
    return q.to(like.dtype) / 255.0


def _check(n: int, k: int) -> None:
    if n < 1 or k < 1 or n * k > 8:
        raise ValueError(f"LSB substitution needs n >= 1, k >= 1 and n k <= 8 bits; got n={n}, k={k}")


def lsb_hide(cover: Tensor, secrets: list[Tensor], k: int) -> Tensor:
    """The stego image of ``cover`` carrying the ``k`` top bits of each secret (all (B, C, H, W) on
    [0, 1]); the result holds exact 8-bit values."""
    n = len(secrets)
    _check(n, k)
    low = n * k
    q = (to_levels(cover) >> low) << low
    for j, s in enumerate(secrets):
        q = q | ((to_levels(s) >> (8 - k)) << (k * (n - 1 - j)))
    return from_levels(q, cover)


def lsb_reveal(stego: Tensor, n: int, k: int) -> list[Tensor]:
    """The ``n`` secrets read from a stego image (their ``k`` top bits, the rest filled with half a step)."""
    _check(n, k)
    q = to_levels(stego)
    fill = 1 << (7 - k) if k < 8 else 0
    mask = (1 << k) - 1
    return [from_levels((((q >> (k * (n - 1 - j))) & mask) << (8 - k)) | fill, stego) for j in range(n)]
