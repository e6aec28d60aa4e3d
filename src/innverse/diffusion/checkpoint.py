"""Our diffusion-prior files: ``model.safetensors`` + ``config.json`` (+ ``card.json``).

* ``model.safetensors`` (``NAME.safetensors`` for shipped weights) -- the UNet's weights;
* ``config.json`` (``NAME.json``) -- ``{"kind": "ddpm", "config": <UNet config>, "scheduler":
  {"schedule": <NoiseSchedule config>, "prediction": "epsilon", "clip_sample": 1.0}}``;
* ``card.json`` (``NAME.card.json``, optional) -- the model card.

Every file is written atomically (:func:`innverse.data.io.atomic_write_bytes`).
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from innverse.diffusion.schedules import NoiseSchedule
from innverse.errors import UserError

__all__ = ["KIND", "scheduler_config", "save_unet", "read_json"]

#: the ``kind`` of our prior configs
KIND = "ddpm"


def scheduler_config(
    schedule: NoiseSchedule, prediction: str = "epsilon", clip_sample: float | None = 1.0
) -> dict:
    """The ``"scheduler"`` entry of ``config.json``."""
    return {"schedule": schedule.config, "prediction": prediction, "clip_sample": clip_sample}


def save_unet(
    model: nn.Module, directory: str | Path, card: dict | None = None, scheduler: dict | None = None
) -> Path:
    """Write ``model.safetensors``, ``config.json`` (with ``scheduler`` when given) and ``card.json``."""
    from safetensors.torch import save

    from innverse.data.io import atomic_write_bytes

    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{d}: cannot create the model folder ({e.strerror or e})") from None
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(d / "model.safetensors", save(tensors, metadata={"kind": KIND}), force=True)
    cfg = {"kind": KIND, "config": model.config}
    if scheduler is not None:
        cfg["scheduler"] = scheduler
    atomic_write_bytes(d / "config.json", (json.dumps(cfg, indent=2) + "\n").encode(), force=True)
    if card is not None:
        atomic_write_bytes(d / "card.json", (json.dumps(card, indent=2) + "\n").encode(), force=True)
    return d


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; UserError naming the file when unreadable or not an object."""
    try:
        d = json.loads(path.read_text())
    except (ValueError, OSError) as e:
        raise UserError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(d, dict):
        raise UserError(f"{path}: not a model config")
    return d
