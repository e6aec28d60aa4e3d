"""Pretrained weights shipped in the package, and one entry point to load any model.

``load_model(name_or_path)`` accepts a pretrained name (``innverse models`` lists them), a
directory or ``.safetensors`` file of our own checkpoint, or a released WINNet/NENet ``.pth``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from innverse.errors import UserError

__all__ = ["list_pretrained", "pretrained", "load_model", "default_denoiser", "weights_dir"]


def weights_dir() -> Path:
    return Path(str(resources.files("innverse") / "weights"))


def list_pretrained() -> dict[str, dict]:
    """Name -> model card for every shipped model."""
    out = {}
    for cfg in sorted(weights_dir().glob("*.json")):
        if cfg.name.endswith(".card.json"):
            continue
        name = cfg.stem
        if (weights_dir() / f"{name}.safetensors").is_file():
            card_file = weights_dir() / f"{name}.card.json"
            out[name] = json.loads(card_file.read_text()) if card_file.is_file() else {}
    return out


def pretrained(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """Load a shipped model by name (e.g. ``'winnet-s25'``, ``'winnet-blind'``, ``'nenet'``)."""
    from innverse.models.io import load_checkpoint

    f = weights_dir() / f"{name}.safetensors"
    if not f.is_file():
        names = ", ".join(list_pretrained()) or "none shipped"
        raise UserError(f"unknown pretrained model {name!r} (available: {names})")
    return load_checkpoint(f, device)


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A pretrained name, one of our checkpoints, or a released ``.pth``; returned in eval mode."""
    s = str(name_or_path)
    p = Path(s).expanduser()
    if not p.exists():
        if "/" not in s and not s.endswith((".pth", ".pt", ".safetensors")):
            return pretrained(s, device)
        raise UserError(f"{s}: model file not found")
    if p.suffix in (".pth", ".pt"):
        from innverse.models.official import load_official_nenet, load_official_winnet, read_official_state

        keys = read_official_state(p)
        if any(k.startswith("innnet.") for k in keys):
            return load_official_winnet(p, device)
        return load_official_nenet(p, device)
    from innverse.models.io import load_checkpoint

    return load_checkpoint(p, device)


def default_denoiser(sigma255: float | None) -> str:
    """Name of the shipped denoiser for a noise level on the 0-255 scale (None: blind)."""
    available = list_pretrained()
    if sigma255 is not None:
        fixed = {int(n.split("-s")[1]): n for n in available if n.startswith("winnet-s")}
        if fixed:
            best = min(fixed, key=lambda s: abs(s - sigma255))
            if abs(best - sigma255) <= 2.5:
                return fixed[best]
    return "winnet-blind"
