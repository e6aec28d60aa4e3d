"""DPS, diffusion posterior sampling (Chung, Kim, McCann, Klasky & Ye, ICLR 2023), Gaussian noise.

Each step: one network evaluation gives ``x0_t``; ``x'_{t-1}`` is the sampler's unguided step; then

``x_{t-1} = x'_{t-1} - zeta_t ∇_{x_t} |y - A(x0_t)|^2``  with  ``zeta_t = zeta / |y - A(x0_t)|``

per image (the paper's normalised step; its released code writes the same update as
``zeta/2 ∇|y - A(x0_t)|``).  ``A`` is the operator's differentiable stand-in
:meth:`~innverse.physics.base.Operator.A_surrogate` (``A`` itself for the linear operators; the
straight-through rounding for :class:`~innverse.physics.QuantizedDownsampling`), applied to
``x0_t`` mapped to ``[0, 1]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from innverse.errors import UserError
from innverse.sampling.base import GuidedSampler, normalized_step, scale_per_sample, to_image

__all__ = ["DPS"]


class DPS(GuidedSampler):
    """DPS with step ``zeta`` >= 0; other arguments as :class:`~innverse.sampling.base.GuidedSampler`."""

    name: ClassVar[str] = "dps"
    uses_gradient: ClassVar[bool] = True

    def __init__(
        self,
        prior: Any,
        operator: Any,
        zeta: float = 1.0,
        steps: int | None = 100,
        sampler: str = "ddpm",
        eta: float = 0.0,
        spacing: str = "leading",
    ) -> None:
        super().__init__(prior, operator, steps, sampler, eta, spacing)
        if not float(zeta) >= 0:
            raise UserError(f"dps: zeta must be a number >= 0, got {zeta!r}")
        self.zeta = float(zeta)

    def loss(self, x0: Tensor) -> Tensor:
        """``|y - A(x0)|^2`` per image (``y`` and ``A`` on ``[0, 1]``)."""
        r = self.y - self.operator.A_surrogate(to_image(x0))
        return r.square().flatten(1).sum(1)

    def step(self, x_t: Tensor, t: int) -> Tensor:
        x0, eps, grad, value = self.denoise_with_gradient(x_t, t, self.loss)
        with torch.no_grad():
            x_prev = self.unguided(self.clamp(x0), eps, x_t, t)
            zeta = normalized_step(self.zeta, value)
            return x_prev - scale_per_sample(zeta, grad) * grad

    def describe(self) -> dict:
        return {**super().describe(), "zeta": self.zeta, "zeta_schedule": "normalized"}
