"""``innverse train glow``: a Glow normalizing flow on 8-bit grey images, by maximum likelihood.

Data: ``--data fashion-mnist`` (the data root's ``fashion-mnist/`` IDX files) or a folder holding
the four IDX files, or a folder of 8-bit grey images of one size.  The last ``val_count`` training
images are held out for validation (test bits/dim is the benchmark's job, on the test split).

Each step's batch is dequantised as ``x = (x_uint8 + u) / 256`` with ``u ~ U[0, 1)`` drawn from
``(seed, step)``; the loss is the batch's mean bits per dimension,
``(-log p(x) + D log 256) / (D ln 2)``, exactly the number :meth:`~innverse.models.glow.Glow.bits_per_dim`
reports.  ``--checkpoint`` trains through :class:`~innverse.nn.InvertibleCheckpoint` (memory-saving
backward: activations are recomputed from the inverse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.patches import mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["GlowTask", "GlowTrainConfig", "load_gray_images"]


def _opt(default: Any, help_: str, **meta: Any) -> Any:
    return field(default=default, metadata={"help": help_, **meta})


@dataclass
class GlowTrainConfig:
    """Glow settings."""

    data: str = _opt("fashion-mnist", "fashion-mnist, a folder of its IDX files, or a folder of 8-bit grey "
                     "images of one size", recipe=False, metavar="DIR")  # fmt: skip
    levels: int = _opt(2, "levels (squeezes); Fashion-MNIST 28x28 takes 2 (28 -> 14 -> 7)")
    steps_per_level: int = _opt(8, "flow steps per level (K)")
    width: int = _opt(128, "hidden channels of the coupling sub-networks (W)")
    coupling: str = _opt("affine", "affine or additive", choices=["affine", "additive"])
    permutation: str = _opt("1x1", "1x1 (LU convolution), shuffle or reverse",
                            choices=["1x1", "shuffle", "reverse"])  # fmt: skip
    clamp: float = _opt(2.0, "soft clamp of the affine log-scales")
    preprocess: str = _opt("center", "center (x - 1/2, Glow's) or logit (RealNVP's "
                           "logit(alpha + (1 - 2 alpha) x))",
                           choices=["center", "logit"])  # fmt: skip
    alpha: float = _opt(0.05, "alpha of --preprocess logit, in (0, 0.5)")
    checkpoint: bool = _opt(False, "memory-saving backward (InvertibleCheckpoint) for each level",
                            recipe=False)  # fmt: skip
    val_count: int = _opt(5000, "training images held out for validation (the last ones)")
    val_images: int = _opt(2000, "held-out images scored at each validation")


def load_gray_images(spec: str) -> np.ndarray:
    """``(N, H, W)`` uint8 training images from ``spec`` (see :class:`GlowTrainConfig`'s ``data``)."""
    from innverse.data.fashion_mnist import load_fashion_mnist

    if spec == "fashion-mnist":
        return np.asarray(load_fashion_mnist("train")[0])
    p = Path(spec).expanduser()
    if not p.is_dir():
        raise UserError(f"--data {spec}: not a folder (nor 'fashion-mnist')")
    if (p / "train-images-idx3-ubyte.gz").is_file() or (p / "train-images-idx3-ubyte").is_file():
        return np.asarray(load_fashion_mnist("train", root=p)[0])
    from innverse.data.io import read_image
    from innverse.data.listing import list_images

    files = list_images(p)
    arrays = []
    for f in files:
        a, _ = read_image(f)
        if a.ndim != 2:
            raise UserError(f"{f}: Glow trains on grey images; this one has colour")
        arrays.append(np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8))
    if len({a.shape for a in arrays}) != 1:
        raise UserError(f"{p}: the images differ in size ({sorted({a.shape for a in arrays})[:3]} ...)")
    return np.stack(arrays)


class GlowTask(TrainTask):
    """Train a Glow flow (bits/dim) on 8-bit grey images."""

    name = "glow"
    #: command lines shown by ``innverse train glow --help``
    examples = (
        "innverse train glow --data fashion-mnist --levels 2 --steps-per-level 8 --out runs/glow-fmnist",
    )
    summary = "Glow normalizing flow on Fashion-MNIST or grey images (maximum likelihood, bits/dim)"
    Config = GlowTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 64, "lr": 1e-3, "init_lr": 2e-4, "lr_schedule": "cosine", "lr_drop": 0.05,
        "warmup": 200, "clip": 50.0, "epochs": 10.0,
    }  # fmt: skip
    log_fields = ("bpd",)
    val_fields = ("val_bpd",)
    cfg: GlowTrainConfig

    def check(self) -> None:
        c = self.cfg
        if min(c.levels, c.steps_per_level, c.width) < 1:
            raise UserError("--levels, --steps-per-level and --width must be >= 1")
        if c.val_count < 0 or c.val_images < 0:
            raise UserError("--val-count and --val-images must be >= 0")
        if not c.clamp > 0:
            raise UserError("--clamp must be positive")
        if not 0.0 < c.alpha < 0.5:
            raise UserError("--alpha must be in (0, 0.5)")

    def prepare(self, rank: int, world_size: int) -> None:
        images = load_gray_images(self.cfg.data)
        m = 2**self.cfg.levels
        if images.shape[1] % m or images.shape[2] % m:
            h, w = images.shape[1:]
            raise UserError(
                f"--data images are {h}x{w}: with --levels {self.cfg.levels} both sides must be multiples of "
                f"{m}"
            )
        n_val = min(self.cfg.val_count, len(images) - 1)
        self.train_images = torch.from_numpy(np.array(images[: len(images) - n_val], copy=True))
        self.val_images = torch.from_numpy(np.array(images[len(images) - n_val :], copy=True))[:, None]
        self._perm: tuple[int, Tensor] | None = None

    def build_model(self) -> nn.Module:
        from innverse.models.glow import Glow

        c = self.cfg
        model = Glow(
            in_channels=1, levels=c.levels, steps=c.steps_per_level, width=c.width, coupling=c.coupling,
            permutation=c.permutation, clamp=c.clamp, image_size=list(self.train_images.shape[1:]),
            checkpoint=c.checkpoint, seed=self.seed, preprocess=c.preprocess, alpha=c.alpha,
        )  # fmt: skip
        # ActNorm's data-dependent initialisation, here on one batch every rank draws alike (so DDP
        # ranks start from identical weights; a checkpoint or --init overwrites it)
        with torch.no_grad():
            model.train().log_prob(self.batch(0, min(256, self.epoch_size()), (0, 1))["x"])
        return model

    def fingerprint(self) -> dict:
        t = self.train_images
        return {"images": int(t.shape[0]), "size": list(t.shape[1:]), "checksum": int(t[:500].sum())}

    def epoch_size(self) -> int:
        return int(self.train_images.shape[0])

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        spe = self.epoch_size() // batch_size
        epoch, k = divmod(int(step), spe)
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(mix_seed(self.seed, 31, epoch))
            self._perm = (epoch, torch.randperm(self.epoch_size(), generator=g))
        idx = self._perm[1][k * batch_size : (k + 1) * batch_size]
        g = torch.Generator().manual_seed(mix_seed(self.seed, 32, step))
        u = torch.rand(batch_size, 1, *self.train_images.shape[1:], generator=g)
        i, n = shard
        b = batch_size // n
        sl = slice(i * b, (i + 1) * b)
        x = (self.train_images[idx[sl]][:, None].float() + u[sl]) / 256.0
        return {"x": x}

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch["x"]
        d = x[0].numel()
        with self.autocast(x.device.type):
            logp = model.log_prob(x)
        bpd = ((-logp.float() + d * math.log(256.0)) / (d * math.log(2.0))).mean()
        return bpd, {"bpd": bpd.detach()}

    def has_validation(self) -> bool:
        return self.cfg.val_images > 0 and len(self.val_images) > 0

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        imgs = self.val_images[: self.cfg.val_images]
        total = 0.0
        for s in range(0, len(imgs), 250):
            total += float(model.bits_per_dim(imgs[s : s + 250], seed=s).sum())
        return {"val_bpd": total / len(imgs)}

    def describe_validation(self, scores: dict[str, float]) -> str:
        n = min(self.cfg.val_images, len(self.val_images))
        return f"validation {scores['val_bpd']:.4f} bits/dim ({n} held-out training images)"
