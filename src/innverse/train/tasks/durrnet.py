"""``innverse train durrnet``: reflection removal on synthetic pairs (ERRNet's synthesis).

Images: the colour photographs of ``<data root>/photos`` and CBSD68's images 0-55 (sorted order) form
the training pool; CBSD68's images 56-67 are the fixed test split (:func:`test_pairs`), which no
training or validation touches.  A batch draws two random crops (``size`` x ``size``, random flips)
from the pool as ``T`` and ``R`` and mixes them with
:func:`innverse.physics.reflection.synthesize_reflection`, all seeded by ``(seed, step)``.

Loss: ``|T̂ − T|² + |R̂ − R|² + w_rec |T̂ + R̂ − I|² + w_excl E(T̂, R̂)`` (means), ``E`` the exclusion
prior on Haar detail bands.  The paper's VGG perceptual and adversarial terms need ImageNet weights
that cannot be had offline; they are left out.

``--model durrnet`` (the invertible wavelet prior), ``durrnet-haar`` (the prior frozen at the Haar
wavelet: no lifting steps), ``durrnet-noexcl`` (no exclusion gradient in the network and no exclusion
loss) and ``unet`` (a plain residual U-Net with about the same parameter count).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.patches import mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["DURRNetTask", "DURRNetTrainConfig", "load_pool", "test_pairs", "MODELS", "TEST_FIRST"]

#: CBSD68 images from this index on (sorted order) are the test split
TEST_FIRST = 56
MODELS = ("durrnet", "durrnet-haar", "durrnet-noexcl", "unet")


def _read_rgb(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def load_pool(root: str | None = None, max_side: int = 640) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(training pool, test images): photos + CBSD68[:56] downscaled to at most ``max_side``; CBSD68[56:]."""
    from PIL import Image

    from innverse.data.listing import list_images
    from innverse.paths import data_path

    base = data_path() if root is None else root
    if base is None:
        raise UserError("no data root: set INNVERSE_DATA to the folder holding photos/ and CBSD68/")
    from pathlib import Path

    base = Path(base)
    cbsd = list_images(base / "CBSD68")
    photos = list_images(base / "photos") if (base / "photos").is_dir() else []
    pool = []
    for p in photos:
        with Image.open(p) as im:
            im = im.convert("RGB")
            s = max_side / max(im.size)
            if s < 1:
                im = im.resize(
                    (max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.Resampling.LANCZOS
                )
            pool.append(np.asarray(im, dtype=np.uint8).copy())
    pool += [_read_rgb(p) for p in cbsd[:TEST_FIRST]]
    test = [_read_rgb(p) for p in cbsd[TEST_FIRST:]]
    return pool, test


def _center(im: np.ndarray, s: int) -> np.ndarray:
    h, w = im.shape[:2]
    y, x = (h - s) // 2, (w - s) // 2
    return im[y : y + s, x : x + s]


def test_pairs(test: list[np.ndarray], size: int = 128, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """The fixed test pairs: T = centre crop of test image i, R = centre crop of image i+1 (cyclic),
    mixed by the ERRNet synthesis with a generator seeded by ``seed``; returns ``(I, T, R)``."""
    from innverse.physics.reflection import synthesize_reflection

    t = np.stack([_center(im, size) for im in test])
    r = np.roll(t, -1, axis=0)
    T = torch.from_numpy(t).permute(0, 3, 1, 2).float() / 255.0
    R = torch.from_numpy(r).permute(0, 3, 1, 2).float() / 255.0
    return synthesize_reflection(T, R, generator=torch.Generator().manual_seed(seed))


@dataclass
class DURRNetTrainConfig:
    """DURRNet settings."""

    data: str = field(
        default="",
        metadata={
            "help": "data root holding photos/ and CBSD68/ (default: the innverse data root)",
            "recipe": False,
            "metavar": "DIR",
        },
    )
    model: str = field(default="durrnet", metadata={"help": "what to train", "choices": list(MODELS)})
    size_name: str = field(
        default="lite", metadata={"help": "DURRNet size: lite or full", "choices": ["lite", "full"]}
    )
    unet_width: int = field(
        default=29, metadata={"help": "U-Net width (29: about lite DURRNet's parameters)"}
    )
    crop: int = field(default=64, metadata={"help": "training crop size"})
    w_rec: float = field(default=0.2, metadata={"help": "weight of the reconstruction loss |T+R-I|^2"})
    w_excl: float = field(default=0.05, metadata={"help": "weight of the exclusion loss"})


class DURRNetTask(TrainTask):
    """Train DURRNet (or its ablations / the U-Net baseline) on synthetic reflection pairs."""

    name = "durrnet"
    #: command lines shown by ``innverse train durrnet --help``
    examples = (
        "innverse train durrnet --model durrnet --out runs/durrnet-lite",
        "innverse train durrnet --model unet --out runs/unet-baseline",
    )
    summary = "DURRNet reflection removal (unfolded, invertible wavelet prior), its ablations and a U-Net"
    Config = DURRNetTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 8,
        "lr": 1e-3,
        "init_lr": 2e-4,
        "lr_schedule": "cosine",
        "lr_drop": 0.05,
        "warmup": 50,
        "clip": 1.0,
        "max_steps": 2000,
    }
    log_fields = ("t_mse",)
    val_fields = ("val_t_psnr",)
    cfg: DURRNetTrainConfig

    def check(self) -> None:
        c = self.cfg
        if c.model not in MODELS:
            raise UserError(f"--model {c.model!r}: expected one of {', '.join(MODELS)}")
        if c.crop < 16 or c.crop % 2:
            raise UserError("--crop must be an even number >= 16")
        if c.w_rec < 0 or c.w_excl < 0:
            raise UserError("loss weights must be >= 0")
        if c.model == "durrnet-noexcl":
            c.w_excl = 0.0

    def prepare(self, rank: int, world_size: int) -> None:
        self.pool, _ = load_pool(self.cfg.data or None)
        small = [im for im in self.pool if min(im.shape[:2]) < self.cfg.crop]
        if small:
            raise UserError(f"{len(small)} training images are smaller than --crop {self.cfg.crop}")
        self.sizes = [im.shape[:2] for im in self.pool]
        v = self._pairs(10**9, 8)  # fixed validation pairs from the training pool
        self.val = (v["I"], v["T"])

    def build_model(self) -> nn.Module:
        c = self.cfg
        if c.model == "unet":
            from innverse.models.unet_separator import UNetSeparator

            return UNetSeparator(width=c.unet_width)
        from innverse.models.durrnet import DURRNet, durrnet_config

        kw = durrnet_config(c.size_name)
        kw["lifting"] = c.model != "durrnet-haar"
        kw["exclusion"] = c.model != "durrnet-noexcl"
        return DURRNet(**kw)

    def fingerprint(self) -> dict:
        return {"images": len(self.pool), "pixels": int(sum(h * w for h, w in self.sizes))}

    def epoch_size(self) -> int:
        return 1000 * len(self.pool)  # crops are drawn at random; an "epoch" is a nominal 1000 per image

    def _crop(self, g: torch.Generator) -> np.ndarray:
        i = int(torch.randint(len(self.pool), (1,), generator=g))
        im = self.pool[i]
        h, w = im.shape[:2]
        s = self.cfg.crop
        y = int(torch.randint(h - s + 1, (1,), generator=g))
        x = int(torch.randint(w - s + 1, (1,), generator=g))
        out = im[y : y + s, x : x + s]
        if float(torch.rand((), generator=g)) < 0.5:
            out = out[:, ::-1]
        return out

    def _pairs(self, step: int, n: int) -> Batch:
        from innverse.physics.reflection import synthesize_reflection

        g = torch.Generator().manual_seed(mix_seed(self.seed, 31, step))
        t = np.stack([self._crop(g) for _ in range(n)])
        r = np.stack([self._crop(g) for _ in range(n)])
        T = torch.from_numpy(t.copy()).permute(0, 3, 1, 2).float() / 255.0
        R = torch.from_numpy(r.copy()).permute(0, 3, 1, 2).float() / 255.0
        mix, T, R = synthesize_reflection(T, R, generator=g)
        return {"I": mix, "T": T, "R": R}

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        full = self._pairs(step, batch_size)
        i, n = shard
        b = batch_size // n
        return {k: v[i * b : (i + 1) * b] for k, v in full.items()}

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        from innverse.models.durrnet import exclusion_loss

        img, t, r = batch["I"], batch["T"], batch["R"]
        with self.autocast(img.device.type):
            t_hat, r_hat = model(img)
        t_hat, r_hat = t_hat.float(), r_hat.float()
        t_mse = (t_hat - t).square().mean()
        total = t_mse + (r_hat - r).square().mean() + self.cfg.w_rec * (t_hat + r_hat - img).square().mean()
        if self.cfg.w_excl:
            total = total + self.cfg.w_excl * exclusion_loss(t_hat, r_hat)
        return total, {"t_mse": t_mse.detach()}

    def has_validation(self) -> bool:
        return True

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        img, t = self.val
        t_hat, _ = model(img.to(device))
        mse = (t_hat.clamp(0, 1).cpu() - t).square().flatten(1).mean(1)
        return {"val_t_psnr": float((10 * torch.log10(1 / mse.clamp_min(1e-12))).mean())}

    def describe_validation(self, scores: dict[str, float]) -> str:
        return f"T PSNR on 8 validation pairs from the training pool: {scores['val_t_psnr']:.2f} dB"
