"""Shared by the WINNet and NENet tasks: patches of gray images plus seeded Gaussian noise.

Recipe (the WINNet paper's): patches of the training images at scales 1, 0.9, 0.8, 0.7, stride
10, 40x40 for a fixed noise level and 50x50 (each position twice per epoch) for blind training and
NENet, random flips/rotations (:mod:`innverse.train.patches`); noise ``x + sigma/255 * n`` with
``n ~ N(0, 1)``, ``sigma`` fixed or drawn once per batch from ``U[A, B]`` (blind).  The batch, its
noise and its sigma are pure functions of ``(seed, step)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from innverse.bench.protocol import mean_psnr, mean_sigma_error
from innverse.errors import UserError
from innverse.train.patches import PatchSampler, load_gray_tensors, mix_seed
from innverse.train.task import Batch, TrainTask

__all__ = ["NoisyPatchConfig", "NoisyPatchTask", "validate_denoiser", "validate_estimator"]


@dataclass
class NoisyPatchConfig:
    """Data and noise settings shared by the noisy-patch tasks (noise levels on the 0-255 scale)."""

    data: str = field(
        default="",
        metadata={"help": "folder of training images (converted to gray)", "recipe": False, "metavar": "DIR"},
    )
    val: str | None = field(
        default=None,
        metadata={"help": "folder of validation images (seeded noise)", "recipe": False, "metavar": "DIR"},
    )
    sigma: float | None = field(default=None, metadata={"help": "train at this noise level (0-255)"})
    sigma_range: tuple[float, float] | None = field(
        default=None, metadata={"help": "blind training: sigma ~ U[A, B] per batch (0-255)"}
    )
    val_sigma: float | None = field(
        default=None,
        metadata={
            "help": "noise level of the validation, 0-255 (default: --sigma, or 25 when blind)",
            "recipe": False,
        },
    )
    patch_size: int | None = field(default=None, metadata={"help": "patch side (default 40; 50 blind)"})
    stride: int = field(default=10, metadata={"help": "patch grid stride"})
    scales: tuple[float, ...] = field(default=(1.0, 0.9, 0.8, 0.7), metadata={"help": "image scales"})
    aug_times: int | None = field(
        default=None, metadata={"help": "passes over each position per epoch (default 1; 2 blind)"}
    )

    @property
    def blind(self) -> bool:
        """True when sigma is drawn per batch (``sigma_range``)."""
        return self.sigma_range is not None


class NoisyPatchTask(TrainTask):
    """Patches of gray images + seeded noise; subclasses add the model and the loss.

    The model is ``build_model(model_kind, cfg.model_config)`` (:func:`innverse.models.build_model`):
    a subclass names its :attr:`model_kind` and gives its config a ``model_config`` dict.
    """

    #: the model kind of :mod:`innverse.models.registry` this task trains
    model_kind: ClassVar[str]
    cfg: NoisyPatchConfig

    def check(self) -> None:
        c = self.cfg
        if c.sigma is not None and c.sigma_range is not None:
            raise UserError("give either --sigma or --sigma-range, not both")
        if c.sigma is not None and not (0.0 <= c.sigma <= 255.0):
            raise UserError(f"--sigma {c.sigma} is outside [0, 255] (noise levels are on the 0-255 scale)")
        if c.sigma_range is not None:
            a, b = (float(v) for v in c.sigma_range)
            if not (0.0 <= a <= b <= 255.0):
                raise UserError(f"--sigma-range {a:g} {b:g} must satisfy 0 <= A <= B <= 255")
            c.sigma_range = (a, b)
        if c.patch_size is None:
            c.patch_size = 50 if c.blind else 40
        if c.aug_times is None:
            c.aug_times = 2 if c.blind else 1
        for name in ("patch_size", "stride", "aug_times"):
            if int(getattr(c, name)) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1")
        if c.val_sigma is None:
            c.val_sigma = float(c.sigma) if c.sigma is not None else 25.0
        if not (0.0 <= c.val_sigma <= 255.0):
            raise UserError(f"--val-sigma {c.val_sigma} is outside [0, 255]")
        if not c.data:
            raise UserError("no training data: pass --data DIR")
        c.scales = tuple(float(s) for s in c.scales)

    def has_validation(self) -> bool:
        return bool(self.cfg.val)

    def recipe(self) -> dict:
        r = super().recipe()
        r["model_config"] = dict(self.cfg.model_config)
        return r

    def build_model(self) -> nn.Module:
        from innverse.models import build_model

        config = self.cfg.model_config
        try:
            return build_model(self.model_kind, dict(config))
        except TypeError as e:
            raise UserError(f"bad {self.model_kind} configuration {config}: {e}") from None

    def prepare(self, rank: int, world_size: int) -> None:
        c = self.cfg
        self.sampler = PatchSampler.from_folder(
            c.data,
            patch=c.patch_size,
            stride=c.stride,
            scales=c.scales,
            aug_times=c.aug_times,
            seed=self.seed,
        )
        # every rank reads the validation folder, so a bad folder fails everywhere alike
        self.val_images = load_gray_tensors(c.val) if c.val else None

    def fingerprint(self) -> dict:
        return self.sampler.fingerprint()

    def epoch_size(self) -> int:
        return self.sampler.epoch_size

    def batch(self, step: int, batch_size: int, shard: tuple[int, int]) -> Batch:
        """``clean``, ``noisy`` (b, 1, P, P) and ``sigma`` (b,) on the data scale, this rank's shard."""
        c = self.cfg
        i, n = shard
        u8 = self.sampler.batch(step, batch_size, shard)
        # element-wise work in NumPy (single-threaded): torch would spread these small ops over its
        # intra-op threads, ~50x slower on cores busy with the training step
        clean_np = u8.numpy()[:, None].astype(np.float32) / np.float32(255.0)
        g = torch.Generator().manual_seed(mix_seed(self.seed, 3, step))
        if c.sigma_range is not None:
            a, b = c.sigma_range
            s255 = a + (b - a) * float(torch.rand((), generator=g))
        else:
            s255 = float(c.sigma if c.sigma is not None else 25.0)
        p = int(c.patch_size)  # type: ignore[arg-type]
        noise = torch.randn((batch_size, 1, p, p), generator=g)
        bs = batch_size // n
        noisy_np = clean_np + noise[i * bs : (i + 1) * bs].numpy() * np.float32(s255 / 255.0)
        return {
            "clean": torch.from_numpy(clean_np),
            "noisy": torch.from_numpy(noisy_np),
            "sigma": torch.full((bs,), s255 / 255.0),
        }


@torch.no_grad()
def validate_denoiser(model: nn.Module, images: list[Tensor], sigma255: float, device="cpu") -> float:
    """Mean PSNR (dB) of ``model(noisy, sigma)`` clamped to [0, 1] over ``images`` ((1,1,H,W) in [0,1]):
    :func:`innverse.bench.protocol.mean_psnr`, the images and their seeded noise on the CPU, the
    model on ``device``."""

    def restore(y: Tensor) -> Tensor:
        sig = torch.full((y.shape[0],), sigma255 / 255.0, device=device)
        return model(y.to(device), sig).float().cpu()

    return mean_psnr(restore, images, sigma255)


@torch.no_grad()
def validate_estimator(model: nn.Module, images: list[Tensor], sigma255: float, device="cpu") -> float:
    """Mean |sigma_hat - sigma| in grey levels (0-255) over ``images``, with their seeded noise:
    :func:`innverse.bench.protocol.mean_sigma_error`, the model on ``device``."""
    return mean_sigma_error(lambda y: model(y.to(device)), images, sigma255)


def config_fields(cls: type) -> list[str]:
    """Field names of a task config dataclass (helper for tests and the CLI)."""
    return [f.name for f in dataclasses.fields(cls)]
