"""``innverse train indigo-inn``: the INDigo INN, trained so that its coarse part mimics a degradation.

Loss ``mean |c(x) - A(x)|^2 + w_merge mean |f⁻¹(A(x), d(x)) - x|^2`` over pairs ``(x, A(x))`` of
training images (INDigo, You et al. 2023): the first term makes the coarse part mimic the degradation;
the second keeps the inverse stable when the coarse part is replaced by ``y`` (INDigo's merge step;
without it a learned INN can amplify the small mismatch ``y - c(x)`` many times).  The INN stays exactly
invertible whatever it learns, and its details carry what ``A`` loses.
Degradations (:data:`DEGRADATIONS`): ``sr4`` (4x4 block averaging: the untrained Haar INN already
matches it exactly, so training keeps the loss at zero), ``sr4-bicubic`` (bicubic 4x downscaling),
``sr4-nonlinear`` (4x averaging followed by JPEG-like quantisation of the low-resolution image).
Data: Fashion-MNIST's training images padded to 32x32 (the last 5,000 held out for validation), or a
folder of images (gray, random ``size`` crops).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.patches import mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["INDigoINNTask", "INDigoINNTrainConfig", "DEGRADATIONS", "degradation"]


def _sr4() -> Any:
    from innverse.physics.downsampling import Downsampling

    return Downsampling(4, kind="average")


def _sr4_bicubic() -> Any:
    from innverse.physics.downsampling import Downsampling

    return Downsampling(4, kind="bicubic")


def _sr4_nonlinear() -> Any:
    from innverse.physics.quantized import QuantizedDownsampling

    return QuantizedDownsampling(4, quality=75)


#: degradation name -> the noise-free operator (an :class:`innverse.physics.base.Operator`)
DEGRADATIONS: dict[str, Callable[[], Any]] = {
    "sr4": _sr4,
    "sr4-bicubic": _sr4_bicubic,
    "sr4-nonlinear": _sr4_nonlinear,
}


def degradation(name: str) -> Any:
    """The operator of a degradation name (UserError when unknown)."""
    if name not in DEGRADATIONS:
        raise UserError(f"unknown degradation {name!r} (expected one of {', '.join(DEGRADATIONS)})")
    return DEGRADATIONS[name]()


@dataclass
class INDigoINNTrainConfig:
    """INDigo INN settings."""

    data: str = field(
        default="fashion-mnist",
        metadata={"help": "fashion-mnist or a folder of images", "recipe": False, "metavar": "DIR"},
    )
    degradation: str = field(
        default="sr4", metadata={"help": "what the coarse part mimics", "choices": list(DEGRADATIONS)}
    )
    size: int = field(default=32, metadata={"help": "training image size (a multiple of 4)"})
    steps: int = field(default=2, metadata={"help": "lifting steps per level"})
    hidden: int = field(default=32, metadata={"help": "width of the predictor/updater networks"})
    blocks: int = field(default=2, metadata={"help": "residual blocks per predictor/updater"})
    w_merge: float = field(
        default=1.0,
        metadata={
            "help": "weight of |f^-1(A(x), d(x)) - x|^2, which keeps the inverse stable when the "
            "coarse part is replaced by y (INDigo's merge step)"
        },
    )


class INDigoINNTask(TrainTask):
    """Train the INDigo INN for a degradation."""

    name = "indigo-inn"
    #: command lines shown by ``innverse train indigo-inn --help``
    examples = ("innverse train indigo-inn --data fashion-mnist --degradation sr4 --out runs/indigo-sr4",)
    summary = "INDigo's INN: lifting steps whose coarse part mimics a degradation (sr4, nonlinear)"
    Config = INDigoINNTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 64,
        "lr": 1e-3,
        "init_lr": 2e-4,
        "lr_schedule": "cosine",
        "lr_drop": 0.05,
        "warmup": 50,
        "clip": 1.0,
        "epochs": 2.0,
    }
    log_fields = ("coarse_mse",)
    val_fields = ("val_coarse_psnr",)
    cfg: INDigoINNTrainConfig

    def check(self) -> None:
        c = self.cfg
        if c.degradation not in DEGRADATIONS:
            raise UserError(f"--degradation {c.degradation!r}: expected one of {', '.join(DEGRADATIONS)}")
        if c.size < 8 or c.size % 4:
            raise UserError("--size must be a multiple of 4, at least 8")
        if c.w_merge < 0:
            raise UserError("--w-merge must be >= 0")
        if min(c.steps, c.hidden) < 1 or c.blocks < 0:
            raise UserError("--steps and --hidden must be >= 1, --blocks >= 0")

    def prepare(self, rank: int, world_size: int) -> None:
        self.operator = degradation(self.cfg.degradation)
        if self.cfg.data == "fashion-mnist":
            from innverse.data.fashion_mnist import load_fashion_mnist, pad_images

            images, _ = load_fashion_mnist("train")
            images = pad_images(images, 32)
            if self.cfg.size != 32:
                raise UserError("--size must be 32 for fashion-mnist (28x28 padded to 32x32)")
            self.train_u8 = images[:-5000]
            self.val = torch.from_numpy(images[-500:].astype(np.float32) / 255.0)[:, None]
        else:
            from innverse.data.listing import list_images
            from innverse.train.patches import load_gray

            imgs = [load_gray(p) for p in list_images(self.cfg.data)]
            s = self.cfg.size
            crops = []
            for im in imgs:
                h, w = im.shape
                if h < s or w < s:
                    continue
                for y in range(0, h - s + 1, s // 2):
                    for x in range(0, w - s + 1, s // 2):
                        crops.append(im[y : y + s, x : x + s])
            if len(crops) < 2:
                raise UserError(f"{self.cfg.data}: fewer than two {s}x{s} crops in its images")
            arr = np.stack(crops)
            n_val = max(1, len(arr) // 20)
            self.train_u8 = arr[:-n_val]
            self.val = torch.from_numpy(arr[-n_val:].astype(np.float32) / 255.0)[:, None]

    def build_model(self) -> nn.Module:
        from innverse.models.indigo_inn import INDigoINN

        c = self.cfg
        return INDigoINN(channels=1, scale=4, steps=c.steps, hidden=c.hidden, blocks=c.blocks)

    def fingerprint(self) -> dict:
        return {
            "images": int(self.train_u8.shape[0]),
            "size": int(self.train_u8.shape[-1]),
            "checksum": int(self.train_u8[:, ::7, ::7].astype(np.int64).sum()),
        }

    def epoch_size(self) -> int:
        return int(self.train_u8.shape[0])

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        n = self.epoch_size()
        epoch, k = divmod(int(step), n // batch_size)
        g = torch.Generator().manual_seed(mix_seed(self.seed, 21, epoch))
        idx = torch.randperm(n, generator=g)[k * batch_size : (k + 1) * batch_size]
        g.manual_seed(mix_seed(self.seed, 22, step))
        flip = (torch.rand(batch_size, generator=g) < 0.5).numpy()
        i, w = shard
        b = batch_size // w
        sl = slice(i * b, (i + 1) * b)
        x = self.train_u8[idx[sl].numpy()].copy()
        x[flip[sl]] = x[flip[sl]][:, :, ::-1]
        return {"x": torch.from_numpy(x.astype(np.float32) / np.float32(255.0))[:, None]}

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch["x"]
        with torch.no_grad():
            y = self.operator.A(x)
        with self.autocast(x.device.type):
            c, details = model.analysis(x)
        coarse = (c.float() - y).square().mean()
        total = coarse
        if self.cfg.w_merge:
            merged = model.synthesis(y.to(c.dtype), details)
            total = total + self.cfg.w_merge * (merged.float() - x).square().mean()
        return total, {"coarse_mse": coarse.detach()}

    def has_validation(self) -> bool:
        return True

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        x = self.val.to(device)
        mse = (model.coarse(x) - self.operator.A(x)).square().mean().item()
        return {"val_coarse_psnr": 10.0 * float(np.log10(1.0 / max(mse, 1e-20)))}

    def describe_validation(self, scores: dict[str, float]) -> str:
        return f"coarse part vs A(x) on held-out images: {scores['val_coarse_psnr']:.2f} dB"
