"""AdvINN's guide images: what the invertible network mixes into the image to move it to a class.

Three kinds, as in the AdvINN paper, one guide per class ``c``:

* **CGT** (learned class guide) -- starts as a mid-gray image (:func:`cgt_start`) and is optimised during
  the attack itself (:func:`innverse.attacks.advinn.advinn` with ``learn_guide``), so that the classifier
  reads it as class ``c``;
* **HCT** (high-confidence target) -- a real image of class ``c``: among a pool of labelled images, the
  one of label ``c`` the classifier gives the highest probability of ``c`` (:func:`high_confidence_images`);
* **UAP** (universal perturbation) -- a *targeted universal adversarial perturbation* ``d_c`` (one
  perturbation, ``|d_c| <= radius``, that pushes the pool's images towards ``c``: projected signed-gradient
  descent of the mean cross-entropy of ``c`` over random batches of the pool,
  :func:`universal_perturbations`), shown as an image ``(d_c / radius + 1) / 2`` on ``[0, 1]``.

HCT and UAP guides depend on the classifier and need data; :func:`compute_guides` builds them from the
Fashion-MNIST training split's held-out tail (the 5,000 validation images, never the test images) and
:func:`shipped_guides` loads those built for a shipped classifier (``<name>.guides.safetensors`` beside
its weights, written by :func:`save_guides`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.attacks.base import predict
from innverse.errors import UserError

__all__ = [
    "Guides",
    "cgt_start",
    "high_confidence_images",
    "universal_perturbations",
    "compute_guides",
    "save_guides",
    "load_guides",
    "shipped_guides",
    "guides_for",
    "UAP_RADIUS",
    "POOL",
]

#: L∞ radius of the universal perturbations (on [0, 1])
UAP_RADIUS = 16 / 255
#: the pool HCT and UAP guides are built from: the held-out tail of the training split (images, first index)
POOL = ("train", -5000)


@dataclass
class Guides:
    """One HCT and one UAP guide image per class, ``(K, C, H, W)`` on [0, 1], and how they were made."""

    hct: Tensor
    uap: Tensor
    info: dict[str, Any] = field(default_factory=dict)

    def of(self, kind: str, classes: Tensor) -> Tensor:
        """The ``kind`` (``"hct"`` or ``"uap"``) guide of each class in ``classes`` (B,) -> (B, C, H, W)."""
        table = {"hct": self.hct, "uap": self.uap}.get(kind)
        if table is None:
            raise UserError(f"unknown guide kind {kind!r} (expected 'hct' or 'uap')")
        return table[classes.cpu()]


def cgt_start(x: Tensor) -> Tensor:
    """The starting CGT guides for images ``x``: mid-gray (0.5) images of the same shape."""
    return torch.full_like(x, 0.5)


@torch.no_grad()
def high_confidence_images(classifier: nn.Module, images: Tensor, labels: Tensor, classes: int = 10):
    """``(guides (K, C, H, W), probabilities (K,), pool indices (K,))``: for each class ``c`` the image of
    label ``c`` with the highest classifier probability of ``c``."""
    p = torch.softmax(predict(classifier, images), dim=1)
    guides, probs, index = [], [], []
    for c in range(classes):
        idx = (labels == c).nonzero()[:, 0]
        if idx.numel() == 0:
            raise UserError(f"the guide pool has no image of class {c}")
        best = idx[p[idx, c].argmax()]
        guides.append(images[best])
        probs.append(float(p[best, c]))
        index.append(int(best))
    return torch.stack(guides), torch.tensor(probs), torch.tensor(index)


def universal_perturbations(
    classifier: nn.Module,
    images: Tensor,
    classes: int = 10,
    radius: float = UAP_RADIUS,
    steps: int = 60,
    batch: int = 32,
    seed: int = 0,
) -> Tensor:
    """Targeted universal perturbations ``(K, C, H, W)``, ``|d_c| <= radius``, one per class: ``steps``
    signed-gradient steps of size ``radius / 10`` down the mean cross-entropy of ``c`` on
    ``clip(x + d_c)`` over random batches of ``batch`` pool images (the same batch for every class)."""
    g = torch.Generator().manual_seed(int(seed))
    d = torch.zeros(classes, *images.shape[1:], dtype=images.dtype)
    target = torch.arange(classes).repeat_interleave(batch)
    for _ in range(steps):
        pick = torch.randint(0, images.shape[0], (batch,), generator=g)
        xb = images[pick]
        dv = d.clone().requires_grad_(True)
        v = (xb[None] + dv[:, None]).clamp(0, 1).reshape(classes * batch, *images.shape[1:])
        with torch.enable_grad():
            loss = F.cross_entropy(classifier(v), target)
            (grad,) = torch.autograd.grad(loss, dv)
        d = (d - radius / 10 * grad.sign()).clamp(-radius, radius)
    return d


@torch.no_grad()
def _uap_fooling(classifier: nn.Module, images: Tensor, d: Tensor) -> list[float]:
    """Per class: the fraction of ``images`` the classifier reads as ``c`` after adding ``d_c``."""
    return [
        float((predict(classifier, (images + d[c]).clamp(0, 1)).argmax(1) == c).float().mean())
        for c in range(d.shape[0])
    ]


def _pool(data: str | Path | None) -> tuple[Tensor, Tensor]:
    from innverse.data.fashion_mnist import load_fashion_mnist

    images, labels = load_fashion_mnist(POOL[0], root=data)
    x = torch.from_numpy(images[POOL[1] :].astype(np.float32) / np.float32(255.0))[:, None]
    return x, torch.from_numpy(labels[POOL[1] :].astype(np.int64))


def compute_guides(
    classifier: nn.Module, data: str | Path | None = None, seed: int = 0, uap_steps: int = 60
) -> Guides:
    """HCT and UAP guides for ``classifier`` from the pool (the held-out tail of the Fashion-MNIST training
    split under ``data``, default the data root).  ``info`` records the HCT probabilities and the UAP
    fooling rates (the fraction of the whole pool read as ``c`` after adding ``d_c``; the perturbations
    are fitted on random batches of the same pool, so these are training-set rates)."""
    x, y = _pool(data)
    hct, probs, index = high_confidence_images(classifier, x, y)
    d = universal_perturbations(classifier, x, steps=uap_steps, seed=seed)
    info = {
        "pool": f"Fashion-MNIST {POOL[0]} images [{POOL[1]}:] (held out of classifier training)",
        "hct_pool_index": index.tolist(),
        "hct_probability": [round(float(p), 6) for p in probs],
        "uap_radius_255": UAP_RADIUS * 255,
        "uap_steps": uap_steps,
        "uap_batch": 32,
        "uap_seed": seed,
        "uap_fooling_rate": [round(v, 4) for v in _uap_fooling(classifier, x, d)],
    }
    return Guides(hct, (d / UAP_RADIUS + 1) / 2, info)


def save_guides(guides: Guides, path: str | Path, force: bool = True) -> Path:
    """Write guides as safetensors (``hct``, ``uap``; ``info`` as JSON metadata), atomically."""
    from safetensors.torch import save

    from innverse.data.io import atomic_write_bytes

    tensors = {"hct": guides.hct.float().contiguous(), "uap": guides.uap.float().contiguous()}
    data = save(tensors, metadata={"info": json.dumps(guides.info)})
    return atomic_write_bytes(path, lambda f: f.write(data), force=force)


def load_guides(path: str | Path) -> Guides:
    """Read guides written by :func:`save_guides` (a :class:`UserError` when unreadable)."""
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            hct, uap = f.get_tensor("hct"), f.get_tensor("uap")
    except (OSError, SafetensorError, KeyError) as e:
        raise UserError(f"{p}: not a guides file ({e})") from None
    return Guides(hct, uap, json.loads(meta.get("info", "{}")))


def shipped_guides(name: str) -> Guides | None:
    """The guides shipped for the shipped classifier ``name``, or None."""
    from innverse.models.registry import weights_dir

    p = weights_dir() / f"{name}.guides.safetensors"
    return load_guides(p) if p.is_file() else None


def guides_for(classifier: nn.Module, name: str | None, data: str | Path | None = None) -> Guides:
    """The shipped guides of the classifier ``name`` (a shipped name; a path or None has none), else
    guides computed from the data (a :class:`UserError` saying so when the data is missing)."""
    if name is not None and "/" not in name and "\\" not in name and not Path(name).exists():
        found = shipped_guides(name)
        if found is not None:
            return found
    try:
        return compute_guides(classifier, data)
    except UserError as e:
        raise UserError(
            f"HCT/UAP guides for {name or 'this classifier'} are not shipped and cannot be computed: {e}"
        ) from None
