"""Released checkpoint formats: the WINNet paper's ``.pth`` files (jjhuangcs/WINNet, MIT licence) and
KAIR's DnCNN-S files.

The released files are pickled ``state_dict`` s (WINNet's saved from ``nn.DataParallel``, keys prefixed
by ``module.``).  They are read with ``torch.load(weights_only=True)`` (no arbitrary code runs), the
model configuration is inferred from the keys and the keys are mapped onto innverse's module names.
This module knows the formats only; it imports no model class -- :func:`released_model` is handed
the class to build (the models' ``from_official`` class methods call it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.models.io import load_state_checked, mark_source

__all__ = [
    "read_official_state",
    "detect_released_kind",
    "winnet_key_map",
    "RELEASED_FORMATS",
    "released_model",
]

M = TypeVar("M", bound=nn.Module)
#: (state, path) -> (constructor config, state under innverse's names)
Converter = Callable[[dict[str, Tensor], Path], tuple[dict[str, Any], dict[str, Tensor]]]


def read_official_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Read a released ``.pth`` safely and strip DataParallel prefixes."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: checkpoint not found")
    try:
        sd = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # pickle errors, truncated files, non-checkpoints
        raise UserError(f"{p}: not a readable PyTorch checkpoint ({type(e).__name__})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, Tensor) for v in sd.values()):
        raise UserError(f"{p}: does not hold a state_dict of tensors")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def detect_released_kind(sd: dict[str, Tensor]) -> str | None:
    """``'winnet'``, ``'nenet'``, ``'dncnn'`` (KAIR) or None, from a released state's keys."""
    if any(k.startswith(("innnet.", "ddnnet.")) for k in sd):
        return "winnet"
    if sd and all(re.fullmatch(r"model\.\d+\.(weight|bias)", k) for k in sd):
        return "dncnn"
    if sd and all(re.fullmatch(r"net\.\d+\.weight", k) for k in sd):
        return "nenet"
    return None


# ------------------------------------------------------------------------------------------ WINNet
_PU = {"predictor": "predictor", "updator": "updater"}


def winnet_key_map(key: str) -> str | None:
    """Map one released WINNet key to innverse's name (None if unknown)."""
    m = re.fullmatch(r"innnet\.(\d+)\.net\.(\d+)\.(predictor|updator)\.(.+)", key)
    if m:
        lvl, step, which, rest = m.groups()
        base = f"levels.{lvl}.steps.{step}.{_PU[which]}."
        if rest == "net.0.conv.weight":
            return base + "head"
        if rest == "net.0.soft.thre":
            return base + "head_st.theta"
        if rest == "convOut.weight":
            return base + "tail"
        m2 = re.fullmatch(r"net\.(\d+)\.(conv1|conv2|soft1|soft2)\.?(conv1|conv2)?\.?(weight|thre)", rest)
        if m2:
            blk, part, sub, _ = m2.groups()
            b = int(blk) - 1
            if part.startswith("soft"):
                return base + f"blocks.{b}.st{part[-1]}.theta"
            kind = "dw" if sub == "conv1" else "pw"
            return base + f"blocks.{b}.{kind}{part[-1]}"
        return None
    m = re.fullmatch(r"ddnnet\.(\d+)\.(A|S)\.weight", key)
    if m:
        return f"levels.{m.group(1)}.denoiser.{m.group(2)}"
    m = re.fullmatch(r"ddnnet\.(\d+)\.net\.(\d+)\.thre", key)
    if m:
        return f"levels.{m.group(1)}.denoiser.st.{m.group(2)}.theta"
    return None


def _winnet(sd: dict[str, Tensor], path: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    lvls = {int(m.group(1)) for k in sd if (m := re.match(r"innnet\.(\d+)\.", k))}
    steps = {int(m.group(1)) for k in sd if (m := re.match(r"innnet\.0\.net\.(\d+)\.", k))}
    dn = {int(m.group(1)) for k in sd if (m := re.match(r"ddnnet\.0\.net\.(\d+)\.thre", k))}
    if not lvls or not steps or not dn:
        raise UserError(f"{path}: not a WINNet checkpoint (no innnet/ddnnet keys)")
    config = {
        "levels": max(lvls) + 1,
        "steps": max(steps) + 1,
        "dn_iters": max(dn) + 1,
        # the released blind model is the one trained on sigma in [0, 55] (folder ..._nlvl_0_55)
        "blind": "0_55" in str(path),
    }
    mapped = {}
    for k, v in sd.items():
        nk = winnet_key_map(k)
        if nk is None:
            raise UserError(f"{path}: unexpected key {k!r} for a WINNet checkpoint")
        mapped[nk] = v
    return config, mapped


# ------------------------------------------------------------------------------------------- NENet
def _nenet(sd: dict[str, Tensor], path: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    convs = sorted(
        (int(m.group(1)), v) for k, v in sd.items() if (m := re.fullmatch(r"net\.(\d+)\.weight", k))
    )
    if len(convs) != len(sd) or len(convs) < 2 or any(v.dim() != 3 for _, v in convs):
        raise UserError(f"{path}: not a NENet checkpoint (expected net.N.weight 1-D conv kernels)")
    first = convs[0][1]
    config = {"hidden": first.shape[0], "layers": len(convs) - 2, "ksize": first.shape[-1]}
    return config, {f"convs.{j}": v for j, (_, v) in enumerate(convs)}


# ------------------------------------------------------------------------------------------- DnCNN
def _dncnn(sd: dict[str, Tensor], path: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("model.")})
    if not idx or f"model.{idx[0]}.weight" not in sd:
        raise UserError(f"{path}: not a KAIR DnCNN checkpoint")
    config = {"depth": len(idx), "channels": sd[f"model.{idx[0]}.weight"].shape[0]}
    mapped = {}
    for j, i in enumerate(idx):
        for part in ("weight", "bias"):
            key = f"model.{i}.{part}"
            if key not in sd:
                raise UserError(f"{path}: not a KAIR DnCNN checkpoint (no {key})")
            mapped[f"convs.{j}.{part}"] = sd[key]
    return config, mapped


#: model kind -> converter of its released checkpoint format
RELEASED_FORMATS: dict[str, Converter] = {"winnet": _winnet, "nenet": _nenet, "dncnn": _dncnn}


def released_model(
    cls: Callable[..., M],
    kind: str,
    path: str | Path,
    map_location: str | torch.device = "cpu",
    **overrides: Any,
) -> M:
    """Build ``cls`` from the released checkpoint of model ``kind`` at ``path``, in eval mode.

    The configuration is inferred from the checkpoint (``overrides`` that are not None replace entries
    of it); every tensor must match the model (names and shapes), else
    :class:`~innverse.errors.UserError`.
    """
    p = Path(path)
    if kind not in RELEASED_FORMATS:
        raise UserError(f"no released checkpoint format is known for model kind {kind!r}")
    config, state = RELEASED_FORMATS[kind](read_official_state(p), p)
    config.update({k: v for k, v in overrides.items() if v is not None})
    model = cls(**config)
    load_state_checked(model, state, p, kind)
    mark_source(model, p)
    return model.to(map_location).eval()
