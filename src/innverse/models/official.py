"""Import the checkpoints released with the WINNet paper (jjhuangcs/WINNet, MIT licence).

The released files are pickled ``state_dict``s saved from ``nn.DataParallel`` (keys prefixed by
``module.``).  They are read with ``torch.load(weights_only=True)`` (no arbitrary code runs) and
their keys are mapped onto innverse's own module names.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor

from innverse.errors import UserError

__all__ = ["read_official_state", "load_official_winnet", "load_official_nenet", "winnet_key_map"]


def read_official_state(path: str | Path, map_location="cpu") -> dict[str, Tensor]:
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


_PU = {"predictor": "predict", "updator": "update"}


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


def load_official_winnet(path: str | Path, map_location="cpu", blind: bool | None = None, **kwargs):
    """Build a :class:`~innverse.models.winnet.WINNet` from a released ``net_WINNet.pth``."""
    from innverse.models.winnet import WINNet

    sd = read_official_state(path, map_location)
    lvls = {int(m.group(1)) for k in sd if (m := re.match(r"innnet\.(\d+)\.", k))}
    steps = {int(m.group(1)) for k in sd if (m := re.match(r"innnet\.0\.net\.(\d+)\.", k))}
    dn = {int(m.group(1)) for k in sd if (m := re.match(r"ddnnet\.0\.net\.(\d+)\.thre", k))}
    if not lvls or not steps or not dn:
        raise UserError(f"{path}: not a WINNet checkpoint (no innnet/ddnnet keys)")
    if blind is None:
        blind = "0_55" in str(path)
    model = WINNet(levels=max(lvls) + 1, steps=max(steps) + 1, dn_iters=max(dn) + 1, blind=blind, **kwargs)
    mapped = {}
    for k, v in sd.items():
        nk = winnet_key_map(k)
        if nk is None:
            raise UserError(f"{path}: unexpected key {k!r} for a WINNet checkpoint")
        mapped[nk] = v
    own = model.state_dict()
    missing = sorted(set(own) - set(mapped))
    if missing:
        raise UserError(f"{path}: checkpoint lacks {len(missing)} WINNet tensors (e.g. {missing[0]})")
    for k, v in mapped.items():
        if own[k].shape != v.shape:
            raise UserError(f"{path}: tensor {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}")
    model.load_state_dict(mapped)
    model.source = str(path)
    return model.to(map_location).eval()


def load_official_nenet(path: str | Path, map_location="cpu"):
    """Build a :class:`~innverse.models.nenet.NENet` from the released ``net_NENet.pth``."""
    from innverse.models.nenet import NENet

    sd = read_official_state(path, map_location)
    convs = sorted(
        (int(m.group(1)), v) for k, v in sd.items() if (m := re.fullmatch(r"net\.(\d+)\.weight", k))
    )
    if len(convs) != len(sd) or len(convs) < 2 or any(v.dim() != 3 for _, v in convs):
        raise UserError(f"{path}: not a NENet checkpoint (expected net.N.weight 1-D conv kernels)")
    model = NENet(hidden=convs[0][1].shape[0], layers=len(convs) - 2, ksize=convs[0][1].shape[-1])
    own = model.state_dict()
    names = [k for k in own if k.startswith("convs.")]
    if len(names) != len(convs):
        raise UserError(f"{path}: NENet layer count mismatch")
    mapped = {}
    for name, (_, v) in zip(names, convs, strict=True):
        if own[name].shape != v.shape:
            raise UserError(
                f"{path}: tensor {name} has shape {tuple(v.shape)}, expected {tuple(own[name].shape)}"
            )
        mapped[name] = v
    model.load_state_dict(mapped)
    model.source = str(path)
    return model.to(map_location).eval()
