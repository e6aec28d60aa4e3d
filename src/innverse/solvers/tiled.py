"""Tiled inference: run a network on overlapping tiles and blend them smoothly.

:func:`tiled_apply` cuts a (B,C,H,W) tensor into a grid of windows of at most ``tile × tile`` pixels
that overlap their neighbours by at least ``overlap`` pixels, runs ``fn`` on one window at a time and
accumulates ``window · fn(tile)`` into one full-size buffer.  Along each axis the windows have one
length and are spread evenly (:func:`tile_grid`), so a 512-pixel side with ``tile=256`` takes three
windows of 192 rather than 256, 256 and a 32-pixel remainder.  The blending weight is separable: 1
in the middle of a window, a raised cosine over the pixels it shares with a neighbour (never at the
image border), normalised per axis so that the weights of every pixel sum to exactly 1.  Seams
vanish, and peak memory is the input, the output and one tile's activations whatever the image size.

Why tiles at all on images that fit in memory: the convolutions of a network such as WINNet are
memory-bound on CPU, and a tile whose activations stay in the CPU caches (and under glibc's 32 MiB
mmap ceiling, so that freed buffers are reused instead of faulted in anew) runs several times
faster per pixel than a whole large image (measured in ``benchmarks/real_paths.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["tile_grid", "tile_starts", "tiled_apply"]


def tile_grid(size: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """``(starts, length)`` of the windows along an axis of ``size`` pixels.

    The fewest windows of at most ``tile`` pixels that overlap by at least ``overlap``: ``n =
    ceil((size - overlap) / (tile - overlap))`` windows of one length ``ceil((size + (n-1)·overlap)
    / n)``, spread evenly from 0 to ``size - length``.  ``size <= tile``: one window, the whole axis.
    """
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"need tile > 0 and 0 <= overlap < tile, got tile={tile} overlap={overlap}")
    if size <= tile:
        return [0], size
    n = math.ceil((size - overlap) / (tile - overlap))
    length = math.ceil((size + (n - 1) * overlap) / n)
    return [(i * (size - length)) // (n - 1) for i in range(n)], length


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of :func:`tile_grid`'s windows along one axis."""
    return tile_grid(size, tile, overlap)[0]


def _ramp(n: int, dtype: torch.dtype) -> torch.Tensor:
    """Raised cosine rising over ``n`` samples, strictly inside (0, 1); ``r + r.flip(0) == 1``."""
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (0.5 - 0.5 * torch.cos(math.pi * t)).to(dtype)


def _axis_windows(size: int, starts: list[int], length: int, dtype: torch.dtype) -> list[torch.Tensor]:
    """1-D blending windows, one per start, whose sum over the windows is 1 at every pixel."""
    wins = []
    for i, s in enumerate(starts):
        w = torch.ones(length, dtype=torch.float64)
        if i > 0:  # shared with the previous window: rise over the shared pixels
            n = starts[i - 1] + length - s
            if n > 0:
                w[:n] = torch.minimum(w[:n], _ramp(n, torch.float64))
        if i < len(starts) - 1:
            n = s + length - starts[i + 1]
            if n > 0:
                w[length - n :] = torch.minimum(w[length - n :], _ramp(n, torch.float64).flip(0))
        wins.append(w)
    total = torch.zeros(size, dtype=torch.float64)
    for s, w in zip(starts, wins, strict=True):
        total[s : s + length] += w
    return [(w / total[s : s + length]).to(dtype) for s, w in zip(starts, wins, strict=True)]


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int | None = 256,
    overlap: int = 32,
) -> torch.Tensor:
    """Apply a shape-preserving ``fn`` to ``x`` (B,C,H,W) tile by tile with smooth blending.

    ``tile=None`` or ``0``, or an image no larger than one tile, runs ``fn(x)`` whole.  ``fn`` must map a
    (B,C,h,w) tensor to one of the same (B,C',h,w) shape (C' may differ from C).  The output lives on
    the device and has the dtype of ``fn``'s output.
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
    ys, th = tile_grid(h, tile, overlap)
    xs, tw = tile_grid(w, tile, overlap)
    out: torch.Tensor | None = None
    wys: list[torch.Tensor] = []
    wxs: list[torch.Tensor] = []
    for iy, y0 in enumerate(ys):
        for ix, x0 in enumerate(xs):
            piece = fn(x[:, :, y0 : y0 + th, x0 : x0 + tw])
            if piece.shape[-2:] != (th, tw) or piece.shape[0] != x.shape[0]:
                raise ValueError(f"fn changed the tile shape {(th, tw)} to {tuple(piece.shape)}")
            if out is None:
                out = torch.zeros(x.shape[0], piece.shape[1], h, w, dtype=piece.dtype, device=piece.device)
                wys = [v.to(piece.device) for v in _axis_windows(h, ys, th, piece.dtype)]
                wxs = [v.to(piece.device) for v in _axis_windows(w, xs, tw, piece.dtype)]
            out[:, :, y0 : y0 + th, x0 : x0 + tw].addcmul_(piece, wys[iy][:, None] * wxs[ix][None, :])
            del piece
    assert out is not None
    return out
