"""Colour transforms for denoising colour images with a gray denoiser.

A colour image is mapped to three decorrelated channels, each channel is denoised on its own with the
gray model, and the result is mapped back.  Three ways are offered (``space``):

``"opponent"``
    an orthonormal opponent-colour transform ``M`` (rows ``(1,1,1)/√3``, ``(1,0,-1)/√2``,
    ``(1,-2,1)/√6``) plus the constant offset ``(0, ½, ½)`` so that the chroma channels sit around the
    middle of the gray range.  Because ``M`` is orthonormal, i.i.d. Gaussian noise of std σ in R, G, B
    stays i.i.d. with std σ in every transformed channel, so each channel is denoised with the same σ.
``"ycbcr"``
    full-range BT.601 YCbCr (as in JPEG).  It is not orthonormal: the noise std in each channel is
    ``σ·‖row‖`` (≈0.67σ, 0.62σ, 0.66σ) and the channels' noise is correlated.  For denoising, each
    channel is divided by its row norm first (``ycbcr_normalised``) so that its noise std is again σ and
    a non-blind model for σ applies; the correlation between channels is ignored.
``"rgb"``
    each of R, G, B denoised on its own.

All transforms are exactly invertible (up to floating-point rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = [
    "COLOR_SPACES",
    "DEFAULT_COLOR_SPACE",
    "OPPONENT",
    "YCBCR",
    "rgb_to_opponent",
    "opponent_to_rgb",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
    "forward",
    "inverse",
    "denoise_color",
]

#: colour handling accepted by :func:`denoise_color`
COLOR_SPACES = ("opponent", "ycbcr", "rgb")

#: the library default; chosen by ``benchmarks/color_denoise.py`` (see its JSON output)
DEFAULT_COLOR_SPACE = "opponent"

_S3, _S2, _S6 = math.sqrt(3.0), math.sqrt(2.0), math.sqrt(6.0)

#: orthonormal opponent transform (rows are orthonormal, so ``OPPONENT @ OPPONENT.T == I``)
OPPONENT = torch.tensor(
    [
        [1 / _S3, 1 / _S3, 1 / _S3],
        [1 / _S2, 0.0, -1 / _S2],
        [1 / _S6, -2 / _S6, 1 / _S6],
    ],
    dtype=torch.float64,
)
_OPPONENT_OFFSET = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64)

#: full-range BT.601 (JPEG) RGB → YCbCr on data in [0, 1]; the offset is ``(0, ½, ½)``
YCBCR = torch.tensor(
    [
        [0.299, 0.587, 0.114],
        [-0.168735892, -0.331264108, 0.5],
        [0.5, -0.418687589, -0.081312411],
    ],
    dtype=torch.float64,
)
_YCBCR_OFFSET = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64)
_YCBCR_NORMS = YCBCR.norm(dim=1)


def _apply(x: torch.Tensor, m: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``m @ pixel + offset`` over the channel axis of a (B,3,H,W) tensor, computed in float64."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected a (B,3,H,W) tensor, got shape {tuple(x.shape)}")
    m = m.to(x.device)
    y = torch.einsum("ij,bjhw->bihw", m, x.to(torch.float64)) + offset.to(x.device).view(1, 3, 1, 1)
    return y.to(x.dtype)


def _unapply(y: torch.Tensor, m: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    inv = torch.linalg.inv(m)
    y64 = y.to(torch.float64) - offset.to(y.device).view(1, 3, 1, 1)
    return torch.einsum("ij,bjhw->bihw", inv.to(y.device), y64).to(y.dtype)


def rgb_to_opponent(x: torch.Tensor) -> torch.Tensor:
    """RGB (B,3,H,W) → opponent channels (orthonormal transform plus offset ``(0, ½, ½)``)."""
    return _apply(x, OPPONENT, _OPPONENT_OFFSET)


def opponent_to_rgb(y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_opponent` (uses ``Mᵀ`` since ``M`` is orthonormal)."""
    y64 = y.to(torch.float64) - _OPPONENT_OFFSET.to(y.device).view(1, 3, 1, 1)
    return torch.einsum("ji,bjhw->bihw", OPPONENT.to(y.device), y64).to(y.dtype)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """RGB (B,3,H,W) in [0, 1] → full-range BT.601 YCbCr in [0, 1]."""
    return _apply(x, YCBCR, _YCBCR_OFFSET)


def ycbcr_to_rgb(y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    return _unapply(y, YCBCR, _YCBCR_OFFSET)


def forward(x: torch.Tensor, space: str) -> torch.Tensor:
    """RGB → the channels that are denoised for ``space`` (each with noise std σ for RGB noise σ)."""
    if space == "opponent":
        return rgb_to_opponent(x)
    if space == "ycbcr":
        return _apply(x, YCBCR / _YCBCR_NORMS[:, None], _YCBCR_OFFSET / _YCBCR_NORMS)
    if space == "rgb":
        return x
    raise ValueError(f"unknown colour space {space!r} (choose from {', '.join(COLOR_SPACES)})")


def inverse(y: torch.Tensor, space: str) -> torch.Tensor:
    """Inverse of :func:`forward`."""
    if space == "opponent":
        return opponent_to_rgb(y)
    if space == "ycbcr":
        return _unapply(y, YCBCR / _YCBCR_NORMS[:, None], _YCBCR_OFFSET / _YCBCR_NORMS)
    if space == "rgb":
        return y
    raise ValueError(f"unknown colour space {space!r} (choose from {', '.join(COLOR_SPACES)})")


def denoise_color(
    denoise_gray: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigma: torch.Tensor,
    space: str = DEFAULT_COLOR_SPACE,
) -> torch.Tensor:
    """Denoise a colour batch (B,3,H,W) with a gray denoiser ``denoise_gray(y, sigma)``.

    ``y`` handed to ``denoise_gray`` is (3B,1,H,W) (the channels stacked into the batch) and ``sigma`` the
    per-image noise std (B,) repeated per channel: after :func:`forward`, each channel's noise std equals
    the RGB noise std.
    """
    b, c, h, w = x.shape
    if c != 3:
        raise ValueError(f"denoise_color needs 3 channels, got {c}")
    t = forward(x, space)
    sig = sigma.reshape(-1).expand(b).repeat_interleave(3)
    out = denoise_gray(t.reshape(b * 3, 1, h, w), sig).reshape(b, 3, h, w)
    return inverse(out, space)
