"""Denoising on tensors: model choice, noise estimation, colour handling and tiling.

Everything here works on float tensors (B,C,H,W) in [0, 1] with σ on the same *data scale*
(σ₂₅₅ / 255).  The user-facing wrappers in :mod:`innverse.api` and the CLI take σ on the 0–255 scale.

Tiling is on by default and is the fast path on CPU (:data:`DEFAULT_TILE`), so a library call runs at
the CLI's speed without any process-wide setting.

Model choice goes through :func:`choose_denoiser`, built on :func:`default_denoiser_name` (non-blind,
σ given) and the constants :data:`BLIND_DENOISER` / :data:`NOISE_ESTIMATOR` (σ unknown), so that it
is adjusted in one place.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from innverse.data import color as colorlib
from innverse.errors import UserError
from innverse.solvers.tiled import tiled_apply

__all__ = [
    "BLIND_DENOISER",
    "NOISE_ESTIMATOR",
    "DEFAULT_TILE",
    "DEFAULT_OVERLAP",
    "CALL_PIXELS",
    "check_sigma",
    "default_denoiser_name",
    "choose_denoiser",
    "get_model",
    "get_denoiser",
    "get_estimator",
    "min_size_of",
    "model_device",
    "estimate_gray",
    "estimate_sigma",
    "denoise_tensor",
    "sigma_list",
]

BLIND_DENOISER = "winnet-blind"
NOISE_ESTIMATOR = "nenet"
#: largest tile side of the default tiling: a (320 + 2·4)² tile keeps WINNet's largest activation
#: (64 channels, float32) at 27.5 MB, under glibc's 32 MiB mmap ceiling, where the per-pixel time is
#: flat; above it every operator faults its output in anew and the time per pixel doubles by 512²
#: (measured in ``benchmarks/real_paths.py``)
DEFAULT_TILE = 320
#: overlap of neighbouring tiles: on Set12 at σ 25 the default tiling is within 0.002 dB of whole-image
#: inference (PSNR), 128-px tiles within 0.007 dB (``tests/solvers/test_tiled.py`` checks ≤ 0.01)
DEFAULT_OVERLAP = 16
#: on CPU, images of a batch (colour: the three channels of a tile) go to the model one at a time
#: unless each has fewer pixels than this: three 264² WINNet tiles in one batch took 1.15x the time
#: of three calls, three 96² ones 1.4x (one thread)
CALL_PIXELS = 1 << 14
_NONBLIND = {15.0: "winnet-s15", 25.0: "winnet-s25", 50.0: "winnet-s50"}
_BLIND_RANGE = (0.0, 55.0)  # σ range (0–255 scale) the blind model was trained on


def check_sigma(sigma: Any, name: str = "sigma") -> float | None:
    """Validate a noise level on the 0–255 scale: a finite number in [0, 255] (or None)."""
    if sigma is None:
        return None
    if isinstance(sigma, bool):
        raise UserError(f"{name} must be a number on the 0-255 scale, got {sigma!r}")
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number on the 0-255 scale, got {sigma!r}") from None
    if math.isnan(s):
        raise UserError(f"{name} must be a number, got NaN")
    if s < 0:
        raise UserError(f"{name} must be >= 0 (0-255 scale), got {s:g}")
    if s > 255:
        raise UserError(f"{name} must be <= 255 (0-255 scale), got {s:g}")
    return s


def default_denoiser_name(sigma255: float) -> str:
    """The pretrained denoiser used for a known σ (0–255 scale).

    Delegates to ``innverse.models.default_denoiser`` when the models package provides it; otherwise:
    the non-blind model for 15/25/50 when σ is within 1 of it, the blind model inside its training range
    [0, 55], and the σ=50 model above it.
    """
    try:
        from innverse import models

        pick = getattr(models, "default_denoiser", None)
    except ImportError:
        pick = None
    if pick is not None:
        name = pick(sigma255)
        if isinstance(name, str):
            return name
    for level, name in _NONBLIND.items():
        if abs(sigma255 - level) <= 1.0:
            return name
    if sigma255 <= _BLIND_RANGE[1]:
        return BLIND_DENOISER
    return _NONBLIND[50.0]


def choose_denoiser(sigma255: float | None, color: str | None = None) -> str:
    """The pretrained denoiser used when none is given: the blind model when σ (0–255 scale) is
    unknown, or for colour images (``color``: their colour handling; None for gray images) whose
    handling gives each channel its own σ (see :func:`innverse.data.color.needs_per_channel_sigma`);
    otherwise :func:`default_denoiser_name`."""
    per_channel = color is not None and colorlib.needs_per_channel_sigma(color)
    return BLIND_DENOISER if sigma255 is None or per_channel else default_denoiser_name(sigma255)


def get_model(model: str | nn.Module | Any, device: torch.device) -> Any:
    """A ready model: an ``nn.Module`` (or any callable) is used as given, a name or path is loaded."""
    if not isinstance(model, str | os.PathLike):
        if isinstance(model, nn.Module):
            model.eval()
        return model
    try:
        from innverse.models import load_model
    except ImportError:
        raise UserError(
            "pretrained models are not available in this installation (innverse.models)"
        ) from None
    return load_model(str(model), device=str(device))


def get_denoiser(model: Any, sigma255: float | None, device: torch.device, color: str | None = None) -> Any:
    """The denoiser: ``model`` when given, else the default choice, :func:`choose_denoiser` (the
    non-blind model for σ, 0–255 scale, where one exists; the blind model when σ is unknown or a
    colour image's ``color`` handling gives each channel its own σ).
    """
    if model is None:
        model = choose_denoiser(sigma255, color)
    m = get_model(model, device)
    if isinstance(model, str | os.PathLike) and getattr(m, "kind", None) == "nenet":
        raise UserError(f"{model}: is a noise estimator (NENet) checkpoint, not a denoiser")
    return m


def get_estimator(estimator: Any, device: torch.device) -> Any:
    """The noise estimator: ``estimator`` when given, else the pretrained NENet."""
    name = NOISE_ESTIMATOR if estimator is None else estimator
    m = get_model(name, device)
    kind = getattr(m, "kind", None)
    if isinstance(name, str | os.PathLike) and kind is not None and kind != "nenet":
        raise UserError(f"{name}: is a {kind} checkpoint, not a noise estimator (NENet)")
    return m


def min_size_of(*models: Any) -> int:
    """The largest ``min_size`` attribute among the models (1 when none declares one)."""
    return max([int(getattr(m, "min_size", 1) or 1) for m in models if m is not None] + [1])


def model_device(model: Any, fallback: torch.device) -> torch.device:
    """The device of a module's first parameter or buffer, else ``fallback``."""
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return fallback


def estimate_gray(estimator: Any, y: torch.Tensor) -> torch.Tensor:
    """σ̂ (N,) of a gray batch (N,1,H,W) on the data scale.

    The whole image is used (NENet pools over every patch and bounds its own memory), so the estimate
    does not depend on a tiling.
    """
    return estimator(y).reshape(y.shape[0]).to(torch.float32)


@torch.no_grad()
def estimate_sigma(x: torch.Tensor, estimator: Any) -> torch.Tensor:
    """Noise std per image (B,) on the data scale, for gray or colour (B,C,H,W) input.

    Colour images: the estimator (a gray model) runs on R, G and B separately and the three estimates
    are averaged.
    """
    b, c, h, w = x.shape
    dev = model_device(estimator, x.device)
    y = x.to(dev, torch.float32).reshape(b * c, 1, h, w)
    s = estimate_gray(estimator, y).reshape(b, c).mean(dim=1)
    return s.clamp_min(0.0).to(x.device)


@torch.no_grad()
def denoise_tensor(
    x: torch.Tensor,
    sigma: float | torch.Tensor,
    model: Any,
    tile: int | None = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    color: str = colorlib.DEFAULT_COLOR_SPACE,
    ensemble: bool = False,
) -> torch.Tensor:
    """Denoise (B,C,H,W) in [0, 1], C ∈ {1, 3}, with a gray ``model(y, sigma)``; σ on the data scale.

    ``tile``/``overlap``: :func:`~innverse.solvers.tiled.tiled_apply` (windows of at most ``tile``
    pixels a side, spread evenly, overlapping by at least ``overlap``); ``None`` or 0 runs the whole
    image at once.  The default is also the fastest on CPU (see :data:`DEFAULT_TILE`).

    ``ensemble=True``: self-ensemble over the 8 flips/rotations of each tile (each result mapped
    back and averaged): about 8x the time for a small PSNR gain (measured in
    ``benchmarks/cli_denoise.py``).

    ``sigma``: a float or a (B,) tensor.  Colour images are tiled in RGB; each tile is transformed
    with ``color`` (see :mod:`innverse.data.color`), its three channels are denoised, each at its own
    σ, and it is transformed back (the same result as transforming the whole image, with tile-sized
    buffers).  A non-blind model (``model.blind is False``) cannot take per-channel σ, so it falls
    back to ``"rgb"`` with a warning.  On CPU, the images of a batch and the channels of a tile go to
    the model one call at a time unless they are smaller than :data:`CALL_PIXELS`.  Runs on the
    model's device; returns a float32 tensor on ``x``'s device.
    """
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"denoise_tensor expects (B,1,H,W) or (B,3,H,W), got {tuple(x.shape)}")
    if color not in colorlib.COLOR_SPACES:
        raise UserError(f"unknown colour handling {color!r} (choose from {', '.join(colorlib.COLOR_SPACES)})")
    b = x.shape[0]
    dev = model_device(model, x.device)
    xin = x.to(dev, torch.float32)
    sig = torch.as_tensor(sigma, dtype=torch.float32, device=dev).reshape(-1).expand(b).contiguous()

    def call(y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        # on CPU, images one call at a time unless they are small (see CALL_PIXELS)
        group = max(1, CALL_PIXELS // (y.shape[-2] * y.shape[-1]))
        if y.shape[0] <= group or dev.type != "cpu":
            return model(y, s)
        return torch.cat([model(y[i : i + group], s[i : i + group]) for i in range(0, y.shape[0], group)])

    def gray(y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        if not ensemble:
            return call(y, s)
        acc = torch.zeros_like(y)
        for k in range(4):
            for flip in (False, True):
                t = torch.rot90(y, k, (-2, -1))
                t = t.flip(-1) if flip else t
                r = call(t.contiguous(), s)
                r = r.flip(-1) if flip else r
                acc += torch.rot90(r, -k, (-2, -1))
        return acc / 8

    if x.shape[1] == 1:
        out = tiled_apply(lambda t: gray(t, sig), xin, tile=tile, overlap=overlap)
        return out.to(x.device, torch.float32)
    if colorlib.needs_per_channel_sigma(color) and getattr(model, "blind", True) is False:
        warnings.warn(
            f"colour handling {color!r} needs a blind (σ-conditioned) model; "
            "the non-blind model is applied to R, G and B instead",
            stacklevel=2,
        )
        color = "rgb"

    # tile the RGB image and transform each tile: the colour transforms are affine per pixel and the
    # blending weights sum to 1, so this equals transforming the whole image, with tile-sized buffers
    def rgb(t: torch.Tensor) -> torch.Tensor:
        return colorlib.denoise_color(gray, t, sig, space=color)

    out = tiled_apply(rgb, xin, tile=tile, overlap=overlap)
    return out.to(x.device, torch.float32)


def sigma_list(values: torch.Tensor | Sequence[float]) -> list[float]:
    """A (B,) data-scale tensor → a list of σ on the 0–255 scale."""
    return [float(v) * 255.0 for v in torch.as_tensor(values).reshape(-1)]
