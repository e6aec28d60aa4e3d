"""Tiled inference: run a network on overlapping tiles and blend them smoothly.

:func:`tiled_apply` cuts a (B,C,H,W) tensor into ``tile × tile`` windows overlapping by ``overlap``
pixels, runs ``fn`` on one tile at a time and accumulates ``window · fn(tile)`` and ``window`` into two
full-size buffers; the output is their ratio.  The window is 1 in the middle of each tile and falls off
with a raised cosine over the ``overlap`` pixels that are shared with a neighbouring tile (never at the
image border), so seams vanish and every pixel has a positive total weight.  Peak memory is the input,
the two buffers and one tile's activations, independent of the image size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["tile_starts", "tiled_apply"]


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis: step ``tile - overlap``, the last tile flush with the end."""
    if size <= tile:
        return [0]
    step = tile - overlap
    n = math.ceil((size - tile) / step) + 1
    starts = [i * step for i in range(n - 1)] + [size - tile]
    return sorted(set(starts))


def _ramp(length: int, overlap: int, left: bool, right: bool, dtype, device) -> torch.Tensor:
    """1-D window: raised-cosine ramps (strictly positive) of ``overlap`` samples at the inner sides."""
    w = torch.ones(length, dtype=dtype, device=device)
    n = min(overlap, length // 2)
    if n > 0:
        t = (torch.arange(n, dtype=torch.float64, device=device) + 0.5) / n
        r = (0.5 - 0.5 * torch.cos(math.pi * t)).to(dtype)
        if left:
            w[:n] = r
        if right:
            w[length - n :] = torch.minimum(w[length - n :], r.flip(0))
    return w


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int | None = 256,
    overlap: int = 32,
) -> torch.Tensor:
    """Apply a shape-preserving ``fn`` to ``x`` (B,C,H,W) tile by tile with smooth blending.

    ``tile=None`` or ``0``, or an image no larger than one tile, runs ``fn(x)`` whole.  ``fn`` must map a
    (B,C,h,w) tensor to one of the same (B,C',h,w) shape (C' may differ from C).  The buffers live on
    ``x``'s device and dtype of ``fn``'s output.
    """
    if x.dim() != 4:
        raise ValueError(f"tiled_apply expects (B,C,H,W), got shape {tuple(x.shape)}")
    if not tile or tile <= 0:
        return fn(x)
    if overlap < 0 or overlap >= tile:
        raise ValueError(f"overlap must be in [0, tile), got overlap={overlap} tile={tile}")
    _, _, h, w = x.shape
    if h <= tile and w <= tile:
        return fn(x)
    ys = tile_starts(h, tile, overlap)
    xs = tile_starts(w, tile, overlap)
    out: torch.Tensor | None = None
    weight: torch.Tensor | None = None
    for iy, y0 in enumerate(ys):
        th = min(tile, h)
        for ix, x0 in enumerate(xs):
            tw = min(tile, w)
            piece = fn(x[:, :, y0 : y0 + th, x0 : x0 + tw])
            if piece.shape[-2:] != (th, tw) or piece.shape[0] != x.shape[0]:
                raise ValueError(f"fn changed the tile shape {(th, tw)} to {tuple(piece.shape)}")
            if out is None:
                out = torch.zeros(x.shape[0], piece.shape[1], h, w, dtype=piece.dtype, device=piece.device)
                weight = torch.zeros(1, 1, h, w, dtype=piece.dtype, device=piece.device)
            wy = _ramp(th, overlap, iy > 0, iy < len(ys) - 1, piece.dtype, piece.device)
            wx = _ramp(tw, overlap, ix > 0, ix < len(xs) - 1, piece.dtype, piece.device)
            win = wy[:, None] * wx[None, :]
            out[:, :, y0 : y0 + th, x0 : x0 + tw] += piece * win
            weight[:, :, y0 : y0 + th, x0 : x0 + tw] += win
            del piece
    assert out is not None and weight is not None
    out /= weight
    return out
