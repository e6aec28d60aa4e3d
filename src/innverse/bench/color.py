"""Colour denoising with a gray model: opponent vs YCbCr vs per-RGB-channel handling.

The README's colour table (``python benchmarks/color_denoise.py``, CBSD68, sigma = 25).
Configurations (colour handling + denoiser):

* ``rgb+nonblind``: R, G, B at sigma with the non-blind model for sigma (``winnet-s25`` at 25);
* ``rgb+blind``, ``opponent+blind``, ``ycbcr+blind``: the blind (sigma-conditioned) model, each
  channel at its own sigma (see :mod:`innverse.data.color`);
* ``opponent-unscaled+blind``: the plain orthonormal opponent transform (luminance spans
  [0, sqrt 3]) with sigma unchanged in every channel: what an orthonormal transform alone gives.

Noise: the protocol's seeded noise on the (1, 3, H, W) colour image; PSNR of the result clipped to
[0, 1] against the clean image, averaged over the images.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from innverse.bench.protocol import add_seeded_noise
from innverse.errors import UserError
from innverse.metrics import psnr

__all__ = ["CONFIGS", "OFFICIAL_COLOR", "load_color_models", "run_config", "color_rows"]

CONFIGS = ("rgb+nonblind", "rgb+blind", "opponent+blind", "ycbcr+blind", "opponent-unscaled+blind")
#: released checkpoints used when the shipped weights of that role are missing
OFFICIAL_COLOR = {
    "blind": "WINNet_lvl_1_nlvl_0_55",
    15: "WINNet_lvl_1_nlvl_15",
    25: "WINNet_lvl_1_nlvl_25",
    50: "WINNet_lvl_1_nlvl_50",
}


def _load(spec: str | None, name: str, official_key: Any, device: torch.device) -> tuple[Any, str]:
    """``spec`` when given, else the shipped ``name``, else the released checkpoint of that role."""
    from innverse.models import load_model
    from innverse.paths import data_path

    if spec:
        return load_model(spec, device=str(device)), spec
    try:
        return load_model(name, device=str(device)), name
    except UserError:
        folder = OFFICIAL_COLOR.get(official_key)
        p = data_path("weights", "winnet-official", folder, "net_WINNet.pth") if folder else None
        if p is None:
            raise
        return load_model(str(p), device=str(device)), str(p)


def load_color_models(
    configs: Sequence[str], sigma255: float, nonblind: str | None, blind: str | None, device: torch.device
) -> tuple[dict, dict]:
    """The models the configurations need (``{"nonblind"|"blind": model}``) and their names."""
    unknown = [c for c in configs if c not in CONFIGS and c != "opponent-unscaled+nonblind"]
    if unknown:
        raise UserError(f"unknown configuration {unknown[0]!r} (choose from {', '.join(CONFIGS)})")
    models, names = {}, {}
    if any(c.endswith("+nonblind") for c in configs):
        level = int(round(sigma255))
        models["nonblind"], names["nonblind"] = _load(nonblind, f"winnet-s{level}", level, device)
    if any(c.endswith("+blind") for c in configs):
        models["blind"], names["blind"] = _load(blind, "winnet-blind", "blind", device)
    return models, names


def run_config(config: str, y: Tensor, sigma: float, models: dict, tile: int | None) -> Tensor:
    """Denoise the noisy colour batch ``y`` with one configuration (sigma on the data scale)."""
    from innverse.data import color as colorlib
    from innverse.solvers.denoise import denoise_tensor

    space, kind = config.split("+")
    model = models[kind]
    if space == "opponent-unscaled":
        t = colorlib.rgb_to_opponent(y)
        b, _, h, w = t.shape
        out = denoise_tensor(t.reshape(b * 3, 1, h, w), sigma, model, tile=tile).reshape(b, 3, h, w)
        return colorlib.opponent_to_rgb(out)
    return denoise_tensor(y, sigma, model, tile=tile, color=space)


def color_rows(
    images: Sequence[tuple[str, Tensor]],
    sigma255: float,
    configs: Sequence[str],
    models: dict,
    device: torch.device,
    tile: int | None = None,
    log: Callable[[str], Any] | None = None,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per-image PSNR of the noisy input and of every configuration, and seconds per configuration."""
    per_image: dict[str, dict[str, float]] = {}
    seconds = dict.fromkeys(configs, 0.0)
    for i, (name, clean) in enumerate(images):
        x = clean.to(device)
        y = add_seeded_noise(x, sigma255, i)
        row = {"noisy": float(psnr(y.clamp(0, 1), x)[0])}
        for cfg in configs:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = run_config(cfg, y, sigma255 / 255.0, models, tile)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds[cfg] += time.perf_counter() - t0
            row[cfg] = float(psnr(out.clamp(0, 1), x)[0])
        per_image[name] = row
        if log:
            log(f"[{i + 1}/{len(images)}] {name}  " + "  ".join(f"{k} {v:.2f}" for k, v in row.items()))
    return per_image, seconds
