"""``innverse train classifier``: a Fashion-MNIST classifier (cross-entropy, shifts and flips).

The 60,000 training images are split once into 55,000 for training and the last 5,000 for
validation (accuracy); the 5,000 test images are used by no training and no selection, only by the
benchmark that reports test accuracy.  Augmentation: a random shift of up to ``shift`` pixels (zero
padding) and a horizontal flip with probability 1/2, both drawn from ``(seed, step)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.patches import mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["ClassifierTask", "ClassifierTrainConfig", "VAL_COUNT"]

#: training images held out (the last ones of the training file) for validation
VAL_COUNT = 5000


@dataclass
class ClassifierTrainConfig:
    """Classifier settings."""

    data: str = field(
        default="fashion-mnist",
        metadata={
            "help": "fashion-mnist (the data root's fashion-mnist/ folder) or a folder holding its IDX files",
            "recipe": False,
            "metavar": "DIR",
        },
    )
    arch: str = field(
        default="resnet",
        metadata={
            "help": "resnet (fmnist-classifier) or convnet (fmnist-classifier-b)",
            "choices": ["resnet", "convnet"],
        },
    )
    width: int = field(default=24, metadata={"help": "base width"})
    blocks: tuple[int, ...] = field(
        default=(1, 1, 1), metadata={"help": "residual blocks per stage (resnet)"}
    )
    hidden: int = field(default=128, metadata={"help": "hidden units (convnet)"})
    shift: int = field(default=2, metadata={"help": "largest random shift in pixels"})
    flip: bool = field(default=True, metadata={"help": "random horizontal flips"})
    label_smoothing: float = field(default=0.0, metadata={"help": "cross-entropy label smoothing"})


class ClassifierTask(TrainTask):
    """Train a Fashion-MNIST classifier (the attack target and the local-FID feature network)."""

    name = "classifier"
    #: command lines shown by ``innverse train classifier --help``
    examples = (
        "innverse train classifier --data fashion-mnist --out runs/fmnist-classifier",
        "innverse train classifier --arch convnet --out runs/fmnist-classifier-b",
    )
    summary = "Fashion-MNIST classifier (ResNet or plain ConvNet): attack target, local-FID features"
    Config = ClassifierTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 128,
        "lr": 2e-3,
        "init_lr": 2e-4,
        "lr_schedule": "cosine",
        "lr_drop": 0.01,
        "warmup": 100,
        "clip": 5.0,
        "epochs": 8.0,
    }
    log_fields = ("accuracy",)
    val_fields = ("val_accuracy",)
    cfg: ClassifierTrainConfig

    def check(self) -> None:
        c = self.cfg
        if c.width < 1 or c.hidden < 1 or not c.blocks or min(c.blocks) < 1:
            raise UserError("--width, --hidden and every --blocks entry must be at least 1")
        if not (0 <= c.shift <= 8):
            raise UserError("--shift must be between 0 and 8 pixels")
        if not (0.0 <= c.label_smoothing < 1.0):
            raise UserError("--label-smoothing must be in [0, 1)")
        c.blocks = tuple(int(b) for b in c.blocks)

    def prepare(self, rank: int, world_size: int) -> None:
        from innverse.data.fashion_mnist import load_fashion_mnist

        root = None if self.cfg.data == "fashion-mnist" else self.cfg.data
        images, labels = load_fashion_mnist("train", root=root)
        self.train_x, self.train_y = images[:-VAL_COUNT], labels[:-VAL_COUNT]
        self.val_x = torch.from_numpy(images[-VAL_COUNT:].astype(np.float32) / 255.0)[:, None]
        self.val_y = torch.from_numpy(labels[-VAL_COUNT:].astype(np.int64))

    def build_model(self) -> nn.Module:
        from innverse.models.classifier import ConvNetClassifier, ResNetClassifier

        c = self.cfg
        if c.arch == "resnet":
            return ResNetClassifier(width=c.width, blocks=c.blocks)
        return ConvNetClassifier(width=c.width, hidden=c.hidden)

    def fingerprint(self) -> dict:
        return {"images": int(self.train_x.shape[0]), "checksum": int(self.train_x[:, 10:18, 10:18].sum())}

    def epoch_size(self) -> int:
        return int(self.train_x.shape[0])

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        n_img = self.epoch_size()
        spe = n_img // batch_size
        epoch, k = divmod(int(step), spe)
        g = torch.Generator().manual_seed(mix_seed(self.seed, 11, epoch))
        idx = torch.randperm(n_img, generator=g)[k * batch_size : (k + 1) * batch_size]
        g.manual_seed(mix_seed(self.seed, 12, step))
        s = self.cfg.shift
        dy = torch.randint(-s, s + 1, (batch_size,), generator=g)
        dx = torch.randint(-s, s + 1, (batch_size,), generator=g)
        flip = (
            torch.rand(batch_size, generator=g) < 0.5
            if self.cfg.flip
            else torch.zeros(batch_size, dtype=torch.bool)
        )
        i, n = shard
        b = batch_size // n
        sl = slice(i * b, (i + 1) * b)
        x = self.train_x[idx[sl].numpy()]
        pad = np.pad(x, ((0, 0), (s, s), (s, s)))
        h, w = x.shape[1:]
        out = np.empty_like(x)
        for j, (yy, xx, ff) in enumerate(
            zip(dy[sl].tolist(), dx[sl].tolist(), flip[sl].tolist(), strict=True)
        ):
            crop = pad[j, s + yy : s + yy + h, s + xx : s + xx + w]
            out[j] = crop[:, ::-1] if ff else crop
        images = torch.from_numpy(out.astype(np.float32) / np.float32(255.0))[:, None]
        return {"images": images, "labels": torch.from_numpy(self.train_y[idx[sl].numpy()].astype(np.int64))}

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        x, y = batch["images"], batch["labels"]
        with self.autocast(x.device.type):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.cfg.label_smoothing)
        acc = (logits.argmax(1) == y).float().mean()
        return loss, {"accuracy": acc.detach()}

    def has_validation(self) -> bool:
        return True

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        correct = 0
        for s in range(0, VAL_COUNT, 500):
            logits = model(self.val_x[s : s + 500].to(device))
            correct += int((logits.argmax(1).cpu() == self.val_y[s : s + 500]).sum())
        return {"val_accuracy": correct / VAL_COUNT}

    def describe_validation(self, scores: dict[str, float]) -> str:
        return (
            f"validation accuracy {100 * scores['val_accuracy']:.2f} % ({VAL_COUNT} held-out training images)"
        )
