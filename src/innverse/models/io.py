"""Our own checkpoints: ``model.safetensors`` + ``config.json`` (+ optional model card)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from innverse.errors import UserError

__all__ = ["save_model", "load_checkpoint", "build_model"]


def build_model(kind: str, config: dict) -> nn.Module:
    """Instantiate a model class by kind ('winnet' | 'nenet') with its constructor config."""
    from innverse.models.nenet import NENet
    from innverse.models.winnet import WINNet

    classes = {"winnet": WINNet, "nenet": NENet}
    if kind not in classes:
        raise UserError(f"unknown model kind {kind!r} (expected one of {sorted(classes)})")
    return classes[kind](**config)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_model(model: nn.Module, directory: str | Path, card: dict | None = None) -> Path:
    """Write weights (safetensors) and config (JSON) into ``directory``; each file atomically."""
    from safetensors.torch import save

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    _atomic_write(d / "model.safetensors", save(tensors, metadata={"kind": model.kind}))
    cfg = {"kind": model.kind, "config": model.config}
    _atomic_write(d / "config.json", (json.dumps(cfg, indent=2) + "\n").encode())
    if card is not None:
        _atomic_write(d / "card.json", (json.dumps(card, indent=2) + "\n").encode())
    return d


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load one of our checkpoints: a directory holding ``model.safetensors`` and ``config.json``,
    or a ``.safetensors`` file with its ``config.json`` (or ``<stem>.json``) beside it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    p = Path(path)
    if p.is_dir():
        weights, cfg_file = p / "model.safetensors", p / "config.json"
    else:
        weights = p
        cfg_file = p.with_suffix(".json") if p.with_suffix(".json").is_file() else p.parent / "config.json"
    if not weights.is_file():
        raise UserError(f"{p}: no model.safetensors found")
    if not cfg_file.is_file():
        raise UserError(f"{p}: no config JSON beside the weights")
    try:
        cfg = json.loads(cfg_file.read_text())
        kind, config = cfg["kind"], cfg["config"]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{cfg_file}: not an innverse model config") from None
    try:
        sd = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{weights}: not a readable safetensors file ({e})") from None
    model = build_model(kind, config)
    own = model.state_dict()
    if set(own) != set(sd):
        raise UserError(f"{weights}: tensors do not match a {kind} with this config")
    for k, v in sd.items():
        if own[k].shape != v.shape:
            raise UserError(
                f"{weights}: tensor {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    model.load_state_dict(sd)
    model.source = str(p)
    return model.to(map_location).eval()
