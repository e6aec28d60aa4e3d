"""Loading models: by shipped name, from one of our checkpoints, or from a released ``.pth``.

``load_model(name_or_path)`` accepts a pretrained name (``innverse models`` lists them), a directory or
``.safetensors`` file of our own checkpoint, or a released WINNet/NENet (paper) or DnCNN (KAIR) ``.pth``;
the model comes back in eval mode.  :func:`load_denoiser` and :func:`load_estimator` also check the
model's role and return it typed by its protocol.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from innverse.errors import UserError
from innverse.models.io import load_state_checked, mark_source, read_checkpoint
from innverse.models.official import detect_released_kind, read_official_state
from innverse.models.protocols import Denoiser, NoiseEstimator
from innverse.models.registry import build_model, get_kind, kind_of, list_pretrained, weights_dir

__all__ = ["load_checkpoint", "pretrained", "load_released", "load_model", "load_denoiser", "load_estimator"]

_RELEASED_SUFFIXES = (".pth", ".pt")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load one of our checkpoints (see :func:`innverse.models.io.read_checkpoint`), in eval mode."""
    ck = read_checkpoint(path)
    try:
        model = build_model(ck.kind, ck.config)
    except TypeError as e:
        raise UserError(f"{path}: bad {ck.kind} configuration in its config JSON ({e})") from None
    load_state_checked(model, ck.state, ck.weights, ck.kind)
    mark_source(model, path)
    return model.to(map_location).eval()


def pretrained(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """Load a shipped model by name (e.g. ``'winnet-s25'``, ``'winnet-blind'``, ``'nenet'``)."""
    f = weights_dir() / f"{name}.safetensors"
    if not f.is_file():
        names = ", ".join(list_pretrained()) or "none shipped"
        raise UserError(f"unknown pretrained model {name!r} (available: {names})")
    return load_checkpoint(f, device)


def load_released(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load a checkpoint in its authors' released format; the kind is recognised from its keys."""
    p = Path(path)
    kind = detect_released_kind(read_official_state(p))
    loader = get_kind(kind).from_released if kind is not None else None
    if loader is None:
        raise UserError(f"{p}: not a released WINNet, NENet or DnCNN (KAIR) checkpoint")
    return loader(p, device)


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A pretrained name, one of our checkpoints, or a released ``.pth``; returned in eval mode."""
    s = str(name_or_path)
    p = Path(s).expanduser()
    if not p.exists():
        if "/" not in s and not s.endswith((*_RELEASED_SUFFIXES, ".safetensors")):
            return pretrained(s, device)
        raise UserError(f"{s}: model file not found")
    if p.suffix in _RELEASED_SUFFIXES:
        return load_released(p, device)
    return load_checkpoint(p, device)


def load_denoiser(name_or_path: str | Path, device: str | torch.device = "cpu") -> Denoiser:
    """:func:`load_model`, refusing a model that is not a denoiser (one clear line)."""
    m = load_model(name_or_path, device)
    kind = kind_of(m)
    if kind is not None and kind.role != "denoiser":
        raise UserError(f"{name_or_path}: is a {kind.name} checkpoint ({kind.role}), not a denoiser")
    if not isinstance(m, Denoiser):
        raise UserError(f"{name_or_path}: is not a denoiser")
    return m


def load_estimator(name_or_path: str | Path, device: str | torch.device = "cpu") -> NoiseEstimator:
    """:func:`load_model`, refusing a model that is not a noise estimator (one clear line)."""
    m = load_model(name_or_path, device)
    kind = kind_of(m)
    if kind is not None and kind.role != "noise-estimator":
        raise UserError(f"{name_or_path}: is a {kind.name} checkpoint ({kind.role}), not a noise estimator")
    if not isinstance(m, NoiseEstimator):
        raise UserError(f"{name_or_path}: is not a noise estimator")
    return m
