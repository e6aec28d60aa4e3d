"""``innverse train ddpm``: an unconditional diffusion prior (ε-prediction UNet, DDPM loss).

Data: ``fashion-mnist`` (the 60,000 training images, padded 28 -> 32 with the black background,
or resized when ``--size`` is not 32; validation on the test images) or a folder of images, from
which random ``size × size`` crops are drawn (after shrinking each image so that its shorter side
is ``--resize`` pixels, when given).  The last tenth of a folder's images (at least one, when
there are two or more) is held out for validation.  Pixels are mapped to [-1, 1].

The batch of step ``s`` is a pure function of ``(seed, s)``: image indices (and crop offsets),
horizontal flips, the timesteps ``t`` (uniform on ``0 .. T-1``) and the noise ``ε``; the loss is
``MSE(model(x_t, t), target)`` with ``x_t = sqrt(ᾱ_t) x0 + sqrt(1-ᾱ_t) ε`` and target ε (or v).

Validation: the PSNR (on the [0, 1] scale) of ``x0_hat`` recovered from ``x_t`` for the first
``--val-images`` held-out images at each of ``--val-t`` (noise seeded per t), and, when the engine
gives a run folder, a grid of ``--val-samples`` DDIM-50 samples (seed 0) written to
``samples_step{step}.png`` there.  The exported model folder loads with
:func:`innverse.diffusion.load_prior`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.diffusion.checkpoint import save_unet, scheduler_config
from innverse.diffusion.images import image_grid
from innverse.diffusion.prior import DiffusionPrior, load_prior
from innverse.diffusion.schedules import PREDICTIONS, SCHEDULES, NoiseSchedule
from innverse.diffusion.unet import UNet
from innverse.errors import UserError
from innverse.train.patches import mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["DDPMTask", "DDPMTrainConfig", "RECOMMENDED_UNET"]

#: the UNet of the shipped ``ddpm-fmnist`` prior (chosen by ``benchmarks/unet_speed.py``)
RECOMMENDED_UNET: dict[str, Any] = {
    "width": 32,
    "mults": (1, 2, 2, 2),
    "blocks": (1, 1, 1, 2),
    "attention": (2,),
    "mid_attention": True,
    "head_channels": 0,
    "groups": 8,
    "dropout": 0.0,
}


@dataclass
class DDPMTrainConfig:
    """Diffusion-prior settings."""

    data: str = field(
        default="fashion-mnist",
        metadata={
            "help": "fashion-mnist (the data root's fashion-mnist/ folder) or a folder of images",
            "metavar": "DIR",
        },
    )
    size: int = field(default=32, metadata={"help": "image side in pixels (a multiple of 2^(levels-1))"})
    channels: int = field(default=1, metadata={"help": "1 (gray) or 3 (colour)", "choices": [1, 3]})
    resize: int = field(
        default=0,
        metadata={
            "help": "image folders: shrink each image so its shorter side is this many pixels (0: as is)"
        },
    )
    flip: bool = field(default=True, metadata={"help": "random horizontal flips"})
    schedule: str = field(default="linear", metadata={"help": "noise schedule", "choices": list(SCHEDULES)})
    T: int = field(default=1000, metadata={"help": "diffusion steps"})
    beta_start: float = field(default=1e-4, metadata={"help": "first beta of the linear schedule"})
    beta_end: float = field(default=0.02, metadata={"help": "last beta of the linear schedule"})
    prediction: str = field(
        default="epsilon", metadata={"help": "model output", "choices": list(PREDICTIONS)}
    )
    width: int = field(
        default=RECOMMENDED_UNET["width"], metadata={"help": "UNet channels at full resolution"}
    )
    mults: tuple[int, ...] = field(
        default=RECOMMENDED_UNET["mults"], metadata={"help": "channel multiplier per resolution level"}
    )
    blocks: tuple[int, ...] = field(
        default=RECOMMENDED_UNET["blocks"],
        metadata={"help": "residual blocks per encoder level (one number, or one per level)"},
    )
    attention: tuple[int, ...] = field(
        default=RECOMMENDED_UNET["attention"],
        metadata={"help": "levels (0 = full resolution) with self-attention"},
    )
    mid_attention: bool = field(default=True, metadata={"help": "self-attention in the middle block"})
    head_channels: int = field(default=0, metadata={"help": "channels per attention head (0: one head)"})
    groups: int = field(default=8, metadata={"help": "GroupNorm groups"})
    dropout: float = field(default=0.0, metadata={"help": "dropout in the residual blocks"})
    val_images: int = field(
        default=500, metadata={"help": "held-out images for the validation PSNR", "recipe": False}
    )
    val_t: tuple[int, ...] = field(
        default=(100, 300, 600), metadata={"help": "timesteps of the validation PSNR", "recipe": False}
    )
    val_samples: int = field(
        default=16,
        metadata={
            "help": "DDIM-50 samples in the grid written at each validation (0: none)",
            "recipe": False,
        },
    )


def _resize_uint8(x: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) uint8 -> (N, size, size), bicubic (Pillow)."""
    from PIL import Image

    bicubic = Image.Resampling.BICUBIC
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), bicubic)) for im in x])


class DDPMTask(TrainTask):
    """Train an ε-prediction UNet on images (a diffusion prior for sampling and inverse problems)."""

    name = "ddpm"
    #: command lines shown by ``innverse train ddpm --help``
    examples = (
        "innverse train ddpm --data fashion-mnist --size 32 --channels 1 --ema 0.999 --out runs/ddpm-fmnist",
        "innverse train ddpm --data DIR --size 64 --channels 3 --resize 64 --out runs/ddpm-photos",
    )
    summary = "unconditional diffusion prior (UNet, DDPM loss): Fashion-MNIST or a folder of images"
    Config = DDPMTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 64,
        "lr": 2e-4,
        "init_lr": 1e-4,
        "lr_schedule": "constant",
        "warmup": 200,
        "clip": 1.0,
        "ema": 0.999,
        "epochs": 20.0,
    }
    log_fields = ()
    cfg: DDPMTrainConfig

    # ------------------------------------------------------------------ settings
    @property
    def val_fields(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(f"val_psnr_t{t}" for t in self.cfg.val_t)

    def check(self) -> None:
        c = self.cfg
        c.mults = tuple(int(m) for m in c.mults)
        c.blocks = tuple(int(b) for b in c.blocks)
        c.attention = tuple(int(a) for a in c.attention)
        c.val_t = tuple(int(t) for t in c.val_t)
        if c.channels not in (1, 3):
            raise UserError(f"--channels must be 1 or 3, got {c.channels}")
        if not c.mults or min(c.mults) < 1 or c.width < 1:
            raise UserError("--width and every --mults entry must be at least 1")
        if len(c.blocks) not in (1, len(c.mults)) or min(c.blocks, default=0) < 1:
            raise UserError(f"--blocks needs one number or one per level ({len(c.mults)}), each >= 1")
        m = 2 ** (len(c.mults) - 1)
        if c.size < m or c.size % m:
            raise UserError(f"--size {c.size} must be a multiple of {m} (2^(levels-1))")
        if c.resize < 0 or (c.resize and c.resize < c.size):
            raise UserError(f"--resize must be 0 or at least --size ({c.size})")
        if c.val_images < 0 or c.val_samples < 0:
            raise UserError("--val-images and --val-samples must be >= 0")
        if any(not 0 <= t < c.T for t in c.val_t):
            raise UserError(f"--val-t entries must be in 0..{c.T - 1}")
        if not 0 <= c.dropout < 1:
            raise UserError("--dropout must be in [0, 1)")
        self.schedule = NoiseSchedule(c.schedule, int(c.T), float(c.beta_start), float(c.beta_end))
        self.unet_config()  # raises UserError on an inconsistent UNet

    def unet_config(self) -> dict:
        """The UNet constructor arguments of these settings."""
        c = self.cfg
        cfg = {
            "in_channels": c.channels,
            "width": c.width,
            "mults": tuple(c.mults),
            "blocks": int(c.blocks[0]) if len(c.blocks) == 1 else tuple(c.blocks),
            "attention": tuple(c.attention),
            "mid_attention": bool(c.mid_attention),
            "head_channels": int(c.head_channels) or None,
            "groups": c.groups,
            "dropout": c.dropout,
            "sample_size": c.size,
        }
        UNet(**cfg)  # validates (cheap at these sizes)
        return cfg

    # ------------------------------------------------------------------ data and model
    def prepare(self, rank: int, world_size: int) -> None:
        if not hasattr(self, "schedule"):
            self.check()
        c = self.cfg
        if c.data == "fashion-mnist" or (
            Path(c.data).is_dir() and (Path(c.data) / "train-images-idx3-ubyte.gz").is_file()
        ):
            self._prepare_fmnist(None if c.data == "fashion-mnist" else c.data)
        else:
            self._prepare_folder(Path(c.data))

    def _prepare_fmnist(self, root: str | None) -> None:
        from innverse.data.fashion_mnist import load_fashion_mnist, pad_images

        c = self.cfg
        if c.channels != 1:
            raise UserError("Fashion-MNIST is gray: use --channels 1")
        tr, _ = load_fashion_mnist("train", root=root)
        te, _ = load_fashion_mnist("test", root=root)
        te = te[: c.val_images]
        if c.size >= 32:
            tr, te = pad_images(tr, 32), pad_images(te, 32)
            if c.size > 32:
                tr, te = _resize_uint8(tr, c.size), _resize_uint8(te, c.size)
        else:
            tr, te = _resize_uint8(tr, c.size), _resize_uint8(te, c.size)
        self.train_u8 = torch.from_numpy(np.ascontiguousarray(tr))[:, None]  # (N, 1, S, S) uint8
        self.crops = False
        self.val_x = torch.from_numpy(np.ascontiguousarray(te))[:, None].float() / 127.5 - 1

    def _prepare_folder(self, folder: Path) -> None:
        from PIL import Image

        from innverse.data.io import read_image
        from innverse.data.listing import list_images

        c = self.cfg
        files = list_images(folder)
        images = []
        for f in files:
            a, _ = read_image(f)
            if c.channels == 1 and a.ndim == 3:
                a = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
            elif c.channels == 3 and a.ndim == 2:
                a = np.repeat(a[..., None], 3, axis=2)
            u8 = np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
            if c.resize:
                h, w = u8.shape[:2]
                s = c.resize / min(h, w)
                if s < 1:
                    im = Image.fromarray(u8).resize(
                        (max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS
                    )
                    u8 = np.asarray(im)
            if min(u8.shape[:2]) < c.size:
                raise UserError(f"{f}: {u8.shape[1]}x{u8.shape[0]} pixels, smaller than --size {c.size}")
            u8 = u8[None] if u8.ndim == 2 else np.moveaxis(u8, 2, 0)
            images.append(torch.from_numpy(np.ascontiguousarray(u8)))
        n_val = len(images) // 10 if len(images) >= 10 else (1 if len(images) >= 2 else 0)
        self.folder_train = images[: len(images) - n_val] if n_val else images
        held = images[len(images) - n_val :] if n_val else []
        self.crops = True
        # validation: crops on a fixed grid of the held-out images, up to val_images of them
        s, val = c.size, []
        for im in held:
            h, w = im.shape[1:]
            for y in range(0, h - s + 1, s):
                for x in range(0, w - s + 1, s):
                    val.append(im[:, y : y + s, x : x + s])
        if val and c.val_images:
            pick = torch.randperm(len(val), generator=torch.Generator().manual_seed(0))[: c.val_images]
            self.val_x = torch.stack([val[int(i)] for i in sorted(pick.tolist())]).float() / 127.5 - 1
        else:
            self.val_x = torch.zeros(0, c.channels, s, s)
        sizes = [im.shape[1] * im.shape[2] for im in self.folder_train]
        self.weights = torch.tensor(sizes, dtype=torch.float64)
        self.n_crops = max(1, sum((hw // (s * s)) for hw in sizes))

    def build_model(self) -> nn.Module:
        return UNet(**self.unet_config())

    def fingerprint(self) -> dict:
        if self.crops:
            return {
                "images": len(self.folder_train),
                "pixels": int(self.weights.sum()),
                "checksum": int(sum(int(im[:, :8, :8].sum()) for im in self.folder_train)),
            }
        return {
            "images": int(self.train_u8.shape[0]),
            "size": int(self.train_u8.shape[-1]),
            "checksum": int(self.train_u8[:, :, 12:20, 12:20].sum()),
        }

    def epoch_size(self) -> int:
        return self.n_crops if self.crops else int(self.train_u8.shape[0])

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        """Images x0 in [-1, 1], noise and timesteps of this rank's share of the step's global batch."""
        c = self.cfg
        g = torch.Generator().manual_seed(mix_seed(self.seed, 21, step))
        B, S = batch_size, c.size
        if self.crops:
            idx = torch.multinomial(self.weights, B, replacement=True, generator=g)
            u = torch.rand(B, 2, generator=g, dtype=torch.float64)
        else:
            idx = torch.randint(0, int(self.train_u8.shape[0]), (B,), generator=g)
        flip = (torch.rand(B, generator=g) < 0.5) & bool(c.flip)
        t = torch.randint(0, c.T, (B,), generator=g)
        noise = torch.randn(B, c.channels, S, S, generator=g)
        rank, world = shard
        b = B // world
        sl = slice(rank * b, (rank + 1) * b)
        if self.crops:
            xs = []
            for j in range(sl.start, sl.stop):
                im = self.folder_train[int(idx[j])]
                h, w = im.shape[1:]
                y, x = int(u[j, 0] * (h - S + 1)), int(u[j, 1] * (w - S + 1))
                xs.append(im[:, y : y + S, x : x + S])
            x0 = torch.stack(xs)
        else:
            x0 = self.train_u8[idx[sl]]
        x0 = x0.float() / 127.5 - 1
        f = flip[sl]
        if bool(f.any()):
            x0[f] = x0[f].flip(-1)
        return {"x0": x0.contiguous(), "noise": noise[sl].contiguous(), "t": t[sl].contiguous()}

    # ------------------------------------------------------------------ optimisation
    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        x0, noise, t = batch["x0"], batch["noise"], batch["t"]
        xt = self.schedule.add_noise(x0, noise, t)
        target = noise if self.cfg.prediction == "epsilon" else self.schedule.velocity(x0, noise, t)
        with self.autocast(x0.device.type):
            out = model(xt, t)
        return F.mse_loss(out.float(), target), {}

    # ------------------------------------------------------------------ evaluation and export
    def has_validation(self) -> bool:
        return len(self.val_x) > 0 or bool(self.cfg.val_samples)

    def prior(self, model: nn.Module) -> DiffusionPrior:
        """``model`` (a UNet being trained) with this run's schedule, as a sampling prior."""
        c = self.cfg
        return DiffusionPrior(model, self.schedule, c.prediction, 1.0, c.size, c.channels)

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        c = self.cfg
        prior = self.prior(model)
        out: dict[str, float] = {}
        if len(self.val_x):
            for t in c.val_t:
                g = torch.Generator().manual_seed(mix_seed(0, 31, t))
                se = []
                for s in range(0, len(self.val_x), 100):
                    x0 = self.val_x[s : s + 100]
                    noise = torch.randn(x0.shape, generator=g)
                    xt = self.schedule.add_noise(x0, noise, t).to(device)
                    tt = torch.full((len(x0),), t, dtype=torch.int64, device=device)
                    x0h, _ = self.schedule.split(prior(xt, tt).float(), xt, t, c.prediction)
                    err = ((x0h.clamp(-1, 1).cpu() - x0) / 2) ** 2
                    se.append(err.flatten(1).mean(1))
                mse = torch.cat(se).clamp(min=1e-12)
                out[f"val_psnr_t{t}"] = float((10 * torch.log10(1 / mse)).mean())
        if c.val_samples and self.out_dir is not None:
            step = getattr(self, "step", None)
            if step is None:
                self._val_calls = getattr(self, "_val_calls", 0) + 1
                step = self._val_calls
            imgs = prior.generate(c.val_samples, steps=50, sampler="ddim", seed=0, device=device)
            from innverse.data.io import write_image

            write_image(Path(self.out_dir) / f"samples_step{step}.png", image_grid(imgs), force=True)
        return out

    def describe_validation(self, scores: dict[str, float]) -> str:
        if not scores:
            return ""
        return "x0 PSNR " + ", ".join(f"t={k.rsplit('t', 1)[1]} {v:.2f} dB" for k, v in scores.items())

    def export(self, model: nn.Module, directory: Path, card: dict) -> None:
        c = self.cfg
        card = dict(card)
        card.setdefault("data", c.data)
        card.setdefault("image_size", c.size)
        card.setdefault("channels", c.channels)
        save_unet(model, directory, card=card, scheduler=scheduler_config(self.schedule, c.prediction, 1.0))

    def load_init(self, spec: str) -> nn.Module:
        return load_prior(spec).unet

    def describe_init(self, src: nn.Module, model: nn.Module) -> str | None:
        a, b = getattr(src, "config", None), getattr(model, "config", None)
        if a != b:
            return f"its UNet config {a} differs from this run's {b}"
        return None
