"""``innverse train winnet``: a WINNet/LINN denoiser, the paper's recipe.

Loss ``0.5 * sum||x_hat - x||^2 / B + w_orth * orthogonality + w_spec * spectral`` (the last every
``spec_every`` steps); Adam, lr 1e-3 dropping to 1e-4 at 60 % of the run, gradient norm clipped at 1,
50 epochs of 40x40 patches (``--init`` fine-tunes default to lr 2e-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.losses import denoising_loss
from innverse.train.task import Batch
from innverse.train.tasks.noisy_patches import NoisyPatchConfig, NoisyPatchTask, validate_denoiser

__all__ = ["WINNetTask", "WINNetTrainConfig"]


@dataclass
class WINNetTrainConfig(NoisyPatchConfig):
    """WINNet settings: the data/noise recipe plus the model and its regularisers."""

    levels: int | None = field(default=None, metadata={"help": "WINNet levels K (default 1)"})
    train_pad: int = field(
        default=0,
        metadata={
            "help": "reflect padding while training (0: circular frame on the bare patch, 1.44x "
            "cheaper than the inference padding 4 on 40x40 patches)"
        },
    )
    w_orth: float = field(default=10.0, metadata={"help": "weight of the CLISTA orthogonality loss"})
    w_spec: float = field(
        default=0.1, metadata={"help": "weight of the predictor/updater spectral-norm loss"}
    )
    spec_every: int = field(default=10, metadata={"help": "add the spectral-norm loss every N steps"})
    model_config: dict = field(default_factory=dict, metadata={"cli": False, "recipe": False})


class WINNetTask(NoisyPatchTask):
    """Train a WINNet denoiser (non-blind at ``sigma`` or blind over ``sigma_range``)."""

    name = "winnet"
    #: command lines shown by ``innverse train winnet --help``
    examples = (
        "innverse train winnet --data ../shared/data/Train400 --val ../shared/data/Set12 --sigma 25 "
        "--out runs/s25",
        "innverse train winnet --data DIR --sigma-range 0 55 --levels 2 --out runs/blind",
        "innverse train winnet --data DIR --sigma 15 --init winnet-s25 --out runs/s15",
    )
    model_kind = "winnet"
    summary = "WINNet/LINN denoiser (lifting INN + CLISTA), non-blind or blind"
    Config = WINNetTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 32,
        "lr": 1e-3,
        "init_lr": 2e-4,
        "lr_schedule": "step",
        "lr_drop_at": 0.6,
        "lr_drop": 0.1,
        "clip": 1.0,
        "epochs": 50.0,
    }
    log_fields = ("data_loss",)
    val_fields = ("val_psnr",)
    cfg: WINNetTrainConfig

    def check(self) -> None:
        c = self.cfg
        if c.sigma is None and c.sigma_range is None:
            c.sigma = 25.0
        super().check()
        if c.train_pad < 0 or c.train_pad >= int(c.patch_size):  # type: ignore[arg-type]
            raise UserError(f"--train-pad {c.train_pad} must be >= 0 and smaller than the patch size")
        if c.levels is not None:
            if c.levels < 1:
                raise UserError("--levels must be at least 1")
            c.model_config["levels"] = int(c.levels)
        if c.blind and "blind" not in c.model_config:
            c.model_config["blind"] = True
        if c.spec_every < 0:
            raise UserError("--spec-every must be >= 0")

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        c = self.cfg
        noisy, clean, sigma = batch["noisy"], batch["clean"], batch["sigma"]
        with self.autocast(noisy.device.type):
            x_hat = (
                model(noisy, sigma, pad=c.train_pad)
                if getattr(model, "pad", None) is not None
                else model(noisy, sigma)
            )
        data = denoising_loss(x_hat, clean)
        total = data
        with torch.autocast(device_type=noisy.device.type, enabled=False):
            if c.w_orth:
                total = total + c.w_orth * model.orthogonality_loss()
            if c.spec_every > 0 and step % c.spec_every == 0 and c.w_spec:
                total = total + c.w_spec * model.spectral_norm_loss()
        return total, {"data_loss": data.detach()}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        assert self.val_images is not None
        return {"val_psnr": validate_denoiser(model, self.val_images, float(self.cfg.val_sigma), device)}

    def describe_validation(self, scores: dict[str, float]) -> str:
        return f"validation at sigma {float(self.cfg.val_sigma):g}: {scores['val_psnr']:.3f} dB"

    def describe_init(self, src: nn.Module, model: nn.Module) -> str | None:
        """Blind and non-blind WINNets are the same network (the thresholds scale with the sigma
        given), so the ``blind`` label is not compared."""
        a = {k: v for k, v in (getattr(src, "config", None) or {}).items() if k != "blind"}
        b = {k: v for k, v in (getattr(model, "config", None) or {}).items() if k != "blind"}
        if a != b:
            return (
                f"its model config {getattr(src, 'config', None)} differs from this run's "
                f"{getattr(model, 'config', None)}"
            )
        return None
