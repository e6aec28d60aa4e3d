"""INDigo (You, Floros & Dragotti, MMSP 2023): diffusion guided by an INN that mimics the degradation.

The INN ``f`` (:class:`~innverse.models.indigo_inn.INDigoINN`) is trained so that the coarse part of
``f(x) = (c, d)`` matches ``A(x)``; its details ``d`` carry what ``A`` loses.  Each step (Algorithm 1):

1. ``x0_t = (x_t - sqrt(1 - ab_t) eps(x_t, t)) / sqrt(ab_t)``  (one network evaluation);
2. ``x~_{t-1}`` = the sampler's unguided step (DDPM: posterior mean ``+ sigma_t z``; or DDIM(eta),
   the accelerated variant);
3. ``(c_t, d_t) = f(x0_t)``;  4. ``x^0 = f^-1(y, d_t)`` (:meth:`INDigoINN.merge`);
5. ``x_{t-1} = x~_{t-1} - zeta_t ∇_{x_t} |x^0 - x0_t|^2`` (the gradient flows through the network
   and through ``d_t``).

``zeta_t`` is ``zeta`` (``schedule="constant"``) or ``zeta / |x^0 - x0_t|`` per image
(``"normalized"``, DPS's normalisation).  Neither an SVD nor a differentiable ``A`` is needed, so
non-linear degradations work as long as the INN was trained for them.  ``y`` may be noisy: the
algorithm is unchanged and ``zeta`` is chosen for the noise level (see
:mod:`innverse.apps.superres` for the defaults and how they were chosen).  The INN works on
``[0, 1]`` images, the norm is taken on the prior's ``[-1, 1]`` scale.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from innverse.errors import UserError
from innverse.sampling.base import GuidedSampler, normalized_step, scale_per_sample, to_image, to_model

__all__ = ["INDigo", "ZETA_SCHEDULES"]

#: how the step size depends on the step
ZETA_SCHEDULES = ("constant", "normalized")


class INDigo(GuidedSampler):
    """INDigo with the INN ``inn`` (``merge(y, x)`` and ``levels``); ``zeta`` >= 0, ``schedule`` one
    of :data:`ZETA_SCHEDULES`; other arguments as :class:`~innverse.sampling.base.GuidedSampler`."""

    name: ClassVar[str] = "indigo"
    uses_gradient: ClassVar[bool] = True

    def __init__(
        self,
        prior: Any,
        operator: Any,
        inn: Any,
        zeta: float = 1.0,
        schedule: str = "normalized",
        steps: int | None = 100,
        sampler: str = "ddpm",
        eta: float = 0.0,
        spacing: str = "leading",
    ) -> None:
        super().__init__(prior, operator, steps, sampler, eta, spacing)
        if not float(zeta) >= 0:
            raise UserError(f"indigo: zeta must be a number >= 0, got {zeta!r}")
        if schedule not in ZETA_SCHEDULES:
            raise UserError(
                f"indigo: unknown zeta schedule {schedule!r} (expected {', '.join(ZETA_SCHEDULES)})"
            )
        factor = int(getattr(operator, "factor", 0))
        if factor and 2 ** int(inn.levels) != factor:
            raise UserError(
                f"indigo: the INN downscales by {2 ** int(inn.levels)}, the degradation by {factor}"
            )
        self.inn = inn
        self.zeta = float(zeta)
        self.schedule_kind = schedule

    def loss(self, x0: Tensor) -> Tensor:
        """``|f^-1(y, d(x0)) - x0|^2`` per image, on the ``[-1, 1]`` scale."""
        merged = to_model(self.inn.merge(self.y, to_image(x0)))
        return (merged - x0).square().flatten(1).sum(1)

    def step(self, x_t: Tensor, t: int) -> Tensor:
        x0, eps, grad, value = self.denoise_with_gradient(x_t, t, self.loss)
        with torch.no_grad():
            x_prev = self.unguided(self.clamp(x0), eps, x_t, t)
            zeta = torch.full_like(value, self.zeta)
            if self.schedule_kind == "normalized":
                zeta = normalized_step(zeta, value)
            return x_prev - scale_per_sample(zeta, grad) * grad

    def describe(self) -> dict:
        return {**super().describe(), "zeta": self.zeta, "zeta_schedule": self.schedule_kind}
