"""Atomic training checkpoints.

Layout of ``OUT/checkpoint/``::

    latest.json                    the commit record: {"step", "model", "state", "config"}
    model-<step>-<token>.safetensors   model weights
    state-<step>-<token>.pt            optimizer (+ grad scaler) state, step, epoch/position,
                                       lr back-off, elapsed time, every RNG state, data fingerprint,
                                       the task's own state (TrainTask.state_dict) if any
    config.json                    model kind + constructor config + training recipe

Every file is written to a temporary file in the same folder and moved into place with
``os.replace`` (:func:`innverse.data.io.atomic_write_bytes`); ``latest.json`` is replaced last, so a
crash at any moment leaves either the old or the new checkpoint fully readable, never a mix.  Files
not named by ``latest.json`` are removed after the commit.  The ``.pt`` file holds only tensors and
plain containers and is read back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
import random
import secrets
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from innverse.errors import UserError

__all__ = [
    "CHECKPOINT_DIR",
    "has_checkpoint",
    "read_config",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
]

CHECKPOINT_DIR = "checkpoint"
_LATEST = "latest.json"


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def has_checkpoint(out: str | Path) -> bool:
    """True when ``out`` holds a committed checkpoint."""
    return (Path(out) / CHECKPOINT_DIR / _LATEST).is_file()


def _latest(ckdir: Path) -> dict:
    try:
        rec = json.loads((ckdir / _LATEST).read_text())
        for k in ("step", "model", "state", "config"):
            rec[k]  # noqa: B018 - presence check
        return rec
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{ckdir / _LATEST}: unreadable checkpoint record") from None


def read_config(out: str | Path) -> dict | None:
    """The ``config.json`` of the checkpoint in ``out`` (None when there is none)."""
    ckdir = Path(out) / CHECKPOINT_DIR
    if not (ckdir / _LATEST).is_file():
        return None
    rec = _latest(ckdir)
    try:
        return json.loads((ckdir / rec["config"]).read_text())
    except (OSError, ValueError):
        raise UserError(f"{ckdir / rec['config']}: unreadable checkpoint config") from None


# ------------------------------------------------------------------------------------- RNG state
def rng_state() -> dict:
    """Every global RNG state (torch CPU, CUDA when initialised, Python ``random``, NumPy)."""
    py = random.getstate()
    np_state = np.random.get_state(legacy=True)
    state = {
        "torch": torch.get_rng_state(),
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {
            "kind": str(np_state[0]),
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


# ------------------------------------------------------------------------------- save and load
def save_checkpoint(out: str | Path, model: nn.Module, state: dict, config: dict) -> Path:
    """Write a checkpoint of ``model`` (weights) + ``state`` (see module doc) + ``config``.

    ``state`` must hold ``step``; it is saved with :func:`torch.save`.  Returns the folder.
    """
    from safetensors.torch import save

    from innverse.data.io import atomic_write_bytes

    ckdir = Path(out) / CHECKPOINT_DIR
    ckdir.mkdir(parents=True, exist_ok=True)
    step = int(state["step"])
    token = secrets.token_hex(4)
    model_name = f"model-{step:08d}-{token}.safetensors"
    state_name = f"state-{step:08d}-{token}.pt"
    # clone: safetensors refuses tensors that share storage
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    atomic_write_bytes(ckdir / model_name, save(tensors, metadata={"step": str(step)}), force=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(ckdir / state_name, buf.getvalue(), force=True)
    atomic_write_bytes(ckdir / "config.json", _json_bytes(config), force=True)
    record = {"step": step, "model": model_name, "state": state_name, "config": "config.json"}
    atomic_write_bytes(ckdir / _LATEST, _json_bytes(record), force=True)
    keep = {model_name, state_name, "config.json", _LATEST}
    for p in ckdir.iterdir():
        if p.name not in keep and (p.name.startswith(("model-", "state-")) or p.name.endswith(".tmp")):
            try:
                p.unlink()
            except OSError:
                pass
    return ckdir


def load_checkpoint(out: str | Path, model: nn.Module) -> tuple[dict, dict]:
    """Load the weights into ``model`` (in place); return ``(state, config)``.

    The state is read onto the CPU (RNG states must live there; ``Optimizer.load_state_dict``
    moves its tensors to the parameters' device).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    ckdir = Path(out) / CHECKPOINT_DIR
    if not (ckdir / _LATEST).is_file():
        raise UserError(f"{ckdir}: no checkpoint to resume from")
    rec = _latest(ckdir)
    try:
        sd = load_file(str(ckdir / rec["model"]), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise UserError(f"{ckdir / rec['model']}: unreadable checkpoint weights ({e})") from None
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError:
        raise UserError(f"{ckdir / rec['model']}: weights do not fit this model") from None
    try:
        state = torch.load(ckdir / rec["state"], map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as e:
        raise UserError(f"{ckdir / rec['state']}: unreadable checkpoint state ({e})") from None
    config = read_config(out) or {}
    return state, config
