"""innverse's own checkpoint format: ``model.safetensors`` + ``config.json`` (+ optional ``card.json``).

This module reads and writes the files and checks tensors against a model; it imports no model class
(building a model of a given kind is :mod:`innverse.models.registry`'s job, loading one by name or
path :mod:`innverse.models.hub`'s).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from innverse.errors import UserError
from innverse.models.protocols import Checkpointable

__all__ = ["save_model", "read_checkpoint", "Checkpoint", "load_state_checked", "mark_source"]


def save_model(model: Checkpointable, directory: str | Path, card: Mapping[str, Any] | None = None) -> Path:
    """Write weights (safetensors) and config (JSON) into ``directory``; each file atomically
    (:func:`innverse.data.io.atomic_write_bytes`)."""
    from safetensors.torch import save

    from innverse.data.io import atomic_write_bytes

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(d / "model.safetensors", save(tensors, metadata={"kind": model.kind}), force=True)
    cfg = {"kind": model.kind, "config": model.config}
    atomic_write_bytes(d / "config.json", (json.dumps(cfg, indent=2) + "\n").encode(), force=True)
    if card is not None:
        atomic_write_bytes(d / "card.json", (json.dumps(dict(card), indent=2) + "\n").encode(), force=True)
    return d


@dataclass
class Checkpoint:
    """The contents of one of our checkpoints: model ``kind``, constructor ``config``, the tensors, and
    the weights file they came from."""

    kind: str
    config: dict[str, Any]
    state: dict[str, Tensor]
    weights: Path


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read one of our checkpoints: a directory holding ``model.safetensors`` and ``config.json``, or a
    ``.safetensors`` file with its ``config.json`` (or ``<stem>.json``) beside it."""
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
        if not isinstance(kind, str) or not isinstance(config, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{cfg_file}: not an innverse model config") from None
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{weights}: not a readable safetensors file ({e})") from None
    return Checkpoint(kind, config, state, weights)


def load_state_checked(model: nn.Module, state: Mapping[str, Tensor], source: str | Path, what: str) -> None:
    """``model.load_state_dict(state)``, with every mismatch (a missing or unexpected tensor, a wrong
    shape) reported as one :class:`~innverse.errors.UserError` line naming ``source``.

    Keys of earlier releases are renamed by the model's own load hook (see ``WINNet``), so they count
    as matching here.
    """
    own = model.state_dict()
    try:
        result = model.load_state_dict(dict(state), strict=False)
    except RuntimeError as e:  # shape mismatches
        first = str(e).split("\n")
        detail = next((ln.strip() for ln in first[1:] if ln.strip()), first[0])
        raise UserError(f"{source}: tensors do not fit a {what} with this configuration ({detail})") from None
    if result.missing_keys:
        k = sorted(result.missing_keys)
        raise UserError(f"{source}: checkpoint lacks {len(k)} {what} tensors (e.g. {k[0]})")
    if result.unexpected_keys:
        k = sorted(result.unexpected_keys)
        raise UserError(f"{source}: unexpected tensor {k[0]!r} for a {what} ({len(own)} expected)")


def mark_source(model: nn.Module, source: str | Path) -> None:
    """Record where ``model`` was loaded from (``model.source``, shown by the CLI and the benchmarks)."""
    model.__dict__["source"] = str(source)
