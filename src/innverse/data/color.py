"""Colour transforms for denoising colour images with a gray denoiser.

A colour image is mapped to three channels, each channel is denoised on its own with the gray model,
and the result is mapped back.  ``space`` chooses the mapping:

``"opponent"``
    the orthonormal opponent-colour transform ``M`` (rows ``(1,1,1)/√3``, ``(1,0,-1)/√2``,
    ``(1,-2,1)/√6``; :func:`rgb_to_opponent`).  Being orthonormal, it keeps i.i.d. Gaussian RGB noise of
    std σ white, uncorrelated between channels and of std σ in every channel.  The luminance row,
    however, spans [0, √3] on RGB data in [0, 1]; the released non-blind σ=25 WINNet breaks down on
    such values (CBSD68, σ=25: 24.88 dB, worse than per-RGB), so for denoising every opponent channel
    is affinely rescaled to exactly [0, 1] (a diagonal scaling: channels stay uncorrelated) and is
    denoised at its own σ_j = σ/(hi_j − lo_j), i.e. σ·(0.577, 0.707, 0.612), by a σ-aware model.
``"ycbcr"``
    full-range BT.601 YCbCr (as in JPEG; :func:`rgb_to_ycbcr`), already in [0, 1].  It is not
    orthonormal: channel j has noise std σ·‖row_j‖ = σ·(0.669, 0.623, 0.657), and the channels' noise is
    correlated (ignored here).
``"rgb"``
    R, G and B denoised separately at σ.

Only ``"rgb"`` hands the model the σ it was given; the other two need a σ-aware (blind) model, because
the per-channel σ_j differ from σ.  :func:`noise_gains` gives the factors σ_j/σ.

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
    "noise_gains",
    "needs_per_channel_sigma",
    "denoise_color",
]

#: colour handling accepted by :func:`denoise_color`
COLOR_SPACES = ("opponent", "ycbcr", "rgb")

#: the library default, measured with ``benchmarks/color_denoise.py --all`` (CBSD68, σ=25, released
#: WINNet K=1 weights, mean PSNR): opponent + blind 31.23 dB, YCbCr + blind 30.66, RGB + blind 29.18,
#: RGB + non-blind σ=25 29.17 (noisy 20.53)
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


def _unit_range(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, b) with ``A·rgb + b`` = each row of ``m`` rescaled to span exactly [0, 1] over the RGB cube."""
    lo = m.clamp(max=0).sum(dim=1)
    hi = m.clamp(min=0).sum(dim=1)
    scale = 1.0 / (hi - lo)
    return m * scale[:, None], -lo * scale


_OPP_A, _OPP_B = _unit_range(OPPONENT)


def _affine(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ pixel + b`` over the channel axis of a (B,3,H,W) tensor, computed in float64."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected a (B,3,H,W) tensor, got shape {tuple(x.shape)}")
    y = torch.einsum("ij,bjhw->bihw", a.to(x.device), x.to(torch.float64))
    return (y + b.to(x.device).view(1, 3, 1, 1)).to(x.dtype)


def _unaffine(y: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_affine`."""
    if y.dim() != 4 or y.shape[1] != 3:
        raise ValueError(f"expected a (B,3,H,W) tensor, got shape {tuple(y.shape)}")
    y64 = y.to(torch.float64) - b.to(y.device).view(1, 3, 1, 1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(a).to(y.device), y64).to(y.dtype)


def rgb_to_opponent(x: torch.Tensor) -> torch.Tensor:
    """RGB (B,3,H,W) → orthonormal opponent channels ``M·rgb`` (no offset, no scaling)."""
    return _affine(x, OPPONENT, torch.zeros(3, dtype=torch.float64))


def opponent_to_rgb(y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_opponent`: ``Mᵀ·y`` since ``M`` is orthonormal."""
    return _affine(y, OPPONENT.T.contiguous(), torch.zeros(3, dtype=torch.float64))


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """RGB (B,3,H,W) in [0, 1] → full-range BT.601 YCbCr in [0, 1]."""
    return _affine(x, YCBCR, _YCBCR_OFFSET)


def ycbcr_to_rgb(y: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    return _unaffine(y, YCBCR, _YCBCR_OFFSET)


def _check(space: str) -> None:
    if space not in COLOR_SPACES:
        raise ValueError(f"unknown colour space {space!r} (choose from {', '.join(COLOR_SPACES)})")


def forward(x: torch.Tensor, space: str) -> torch.Tensor:
    """RGB in [0, 1] → the three channels that are denoised for ``space``, each spanning [0, 1]."""
    _check(space)
    if space == "opponent":
        return _affine(x, _OPP_A, _OPP_B)
    if space == "ycbcr":
        return rgb_to_ycbcr(x)
    return x


def inverse(y: torch.Tensor, space: str) -> torch.Tensor:
    """Inverse of :func:`forward`."""
    _check(space)
    if space == "opponent":
        return _unaffine(y, _OPP_A, _OPP_B)
    if space == "ycbcr":
        return ycbcr_to_rgb(y)
    return y


def noise_gains(space: str) -> torch.Tensor:
    """σ_j / σ for each channel of :func:`forward` under i.i.d. RGB noise (row norms of the linear part)."""
    _check(space)
    if space == "opponent":
        return _OPP_A.norm(dim=1)
    if space == "ycbcr":
        return YCBCR.norm(dim=1)
    return torch.ones(3, dtype=torch.float64)


def needs_per_channel_sigma(space: str) -> bool:
    """True when the channels of ``space`` carry a noise std other than σ (a σ-aware model is needed)."""
    return space != "rgb"


def denoise_color(
    denoise_gray: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    sigma: torch.Tensor,
    space: str = DEFAULT_COLOR_SPACE,
) -> torch.Tensor:
    """Denoise a colour batch (B,3,H,W) with a gray denoiser ``denoise_gray(y, sigma)``.

    ``y`` handed to ``denoise_gray`` is (3B,1,H,W) (the channels stacked into the batch) and ``sigma``
    (3B,) the noise std of each channel: the per-image σ (``sigma``, (B,) or scalar) times
    :func:`noise_gains`.
    """
    b, c, h, w = x.shape
    if c != 3:
        raise ValueError(f"denoise_color needs 3 channels, got {c}")
    t = forward(x, space)
    gains = noise_gains(space).to(device=x.device, dtype=torch.float32)
    per_image = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).reshape(-1, 1).expand(b, 1)
    sig = (per_image * gains).reshape(-1)
    out = denoise_gray(t.reshape(b * 3, 1, h, w), sig).reshape(b, 3, h, w)
    return inverse(out, space)
