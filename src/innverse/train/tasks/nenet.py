"""``innverse train nenet``: the NENet noise estimator, trained blind over ``sigma ~ U[0, 55]``.

Loss ``mean((255 * (sigma_hat - sigma))^2)`` on the estimate pooled over the batch's patches
(one sigma per batch); Adam 1e-3 -> 1e-4 at 60 %, 8 epochs of 50x50 patches, batch 16.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from innverse.errors import UserError
from innverse.train.losses import sigma_loss
from innverse.train.task import Batch
from innverse.train.tasks.noisy_patches import NoisyPatchConfig, NoisyPatchTask, validate_estimator

__all__ = ["NENetTask", "NENetTrainConfig"]


@dataclass
class NENetTrainConfig(NoisyPatchConfig):
    """NENet settings (always blind; ``sigma_range`` defaults to 0 55)."""

    model_config: dict = field(default_factory=dict, metadata={"cli": False, "recipe": False})


class NENetTask(NoisyPatchTask):
    """Train a NENet noise-level estimator."""

    name = "nenet"
    #: command lines shown by ``innverse train nenet --help``
    examples = ("innverse train nenet --data DIR --out runs/nenet --max-steps 20000",)
    model_kind = "nenet"
    summary = "NENet noise-level estimator (blind, sigma ~ U[0, 55])"
    Config = NENetTrainConfig
    engine_defaults: ClassVar[dict[str, Any]] = {
        "batch_size": 16,
        "lr": 1e-3,
        "init_lr": 2e-4,
        "lr_schedule": "step",
        "lr_drop_at": 0.6,
        "lr_drop": 0.1,
        "clip": 1.0,
        "epochs": 8.0,
    }
    log_fields = ("data_loss",)
    val_fields = ("val_sigma_mae",)
    cfg: NENetTrainConfig

    def check(self) -> None:
        c = self.cfg
        if c.sigma is not None:
            raise UserError(
                "NENet estimates the noise level: train it blind (--sigma-range), not at one --sigma"
            )
        if c.sigma_range is None:
            c.sigma_range = (0.0, 55.0)
        super().check()

    def loss(self, model: nn.Module, batch: Batch, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        noisy, sigma = batch["noisy"], batch["sigma"]
        scatter = getattr(model, "scatter", None)
        if callable(scatter):
            # NENet: the estimate from the patches of the whole batch pooled (one sigma per batch,
            # as drawn).  A 50x50 patch alone holds too few 8x8 patches for a well-conditioned
            # smallest eigenvalue; pooling the batch is closer to the whole images NENet sees at
            # inference.  Float32: the smallest eigenvalue is ~1e-4 of the largest, beyond bf16.
            scat, wsum = scatter(noisy.float())
            lam = torch.linalg.eigvalsh(scat.sum(0).double())[0].clamp_min(0)
            est = torch.sqrt(lam / wsum.sum().double()).float().reshape(1)
            data = sigma_loss(est, sigma[:1])
        else:  # any other estimator: one estimate per image
            with self.autocast(noisy.device.type):
                data = sigma_loss(model(noisy), sigma)
        return data, {"data_loss": data.detach()}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        assert self.val_images is not None
        return {
            "val_sigma_mae": validate_estimator(model, self.val_images, float(self.cfg.val_sigma), device)
        }

    def describe_validation(self, scores: dict[str, float]) -> str:
        return f"validation at sigma {float(self.cfg.val_sigma):g}: {scores['val_sigma_mae']:.3f} grey levels"
