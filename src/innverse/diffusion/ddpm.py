"""The DDPM ancestral sampler (Ho et al. 2020), on the full or a respaced timestep sequence.

Between consecutive sampling steps ``t > s`` (``s = -1``: the data) the effective step has
``β = 1 - ᾱ_t / ᾱ_s``; the sample is drawn from the posterior ``q(x_s | x_t, x0_hat)``:

    mean = sqrt(ᾱ_s) β / (1 - ᾱ_t) · x0_hat + sqrt(1 - β) (1 - ᾱ_s) / (1 - ᾱ_t) · x_t
    var  = (1 - ᾱ_s) / (1 - ᾱ_t) · β        ("fixed_small", the posterior variance)
    var  = β                                 ("fixed_large")

and no noise is added on the last step.  With all ``T`` steps this is Ho et al.'s sampler; with
fewer it is Nichol & Dhariwal's respaced DDPM (what diffusers' ``DDPMScheduler`` does).
"""

from __future__ import annotations

import torch
from torch import Tensor

from innverse.diffusion.sampler import Sampler, randn_like
from innverse.diffusion.schedules import NoiseSchedule
from innverse.errors import UserError

__all__ = ["DDPMSampler"]

_VARIANCES = ("fixed_small", "fixed_large")


class DDPMSampler(Sampler):
    """Ancestral sampling; ``variance`` is ``"fixed_small"`` (default) or ``"fixed_large"``."""

    def __init__(
        self,
        schedule: NoiseSchedule,
        steps: int | None = None,
        spacing: str = "leading",
        prediction: str = "epsilon",
        clip_sample: float | None = 1.0,
        variance: str = "fixed_small",
    ) -> None:
        super().__init__(schedule, steps, spacing, prediction, clip_sample)
        if variance not in _VARIANCES:
            raise UserError(f"unknown DDPM variance {variance!r} (expected one of {', '.join(_VARIANCES)})")
        self.variance = variance

    def posterior(self, x0: Tensor, x_t: Tensor, t: int) -> tuple[Tensor, float]:
        """Mean and variance of ``q(x_prev | x_t, x0)`` for this sampler's step from ``t``."""
        s = self.prev_timestep(t)
        ab_t = float(self.schedule.alpha_bar(int(t)))
        ab_s = float(self.schedule.alpha_bar(s))
        beta = 1 - ab_t / ab_s
        c0 = ab_s**0.5 * beta / (1 - ab_t)
        ct = (1 - beta) ** 0.5 * (1 - ab_s) / (1 - ab_t)
        mean = c0 * x0 + ct * x_t
        if s < 0:
            var = 0.0
        elif self.variance == "fixed_small":
            var = (1 - ab_s) / (1 - ab_t) * beta
        else:
            var = beta
        return mean, var

    def step(
        self, model_out: Tensor, t: int, x_t: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(x_prev, x0_hat)``: one ancestral step from ``x_t`` at timestep ``t``."""
        x0, _ = self.predict_x0(model_out, t, x_t)
        mean, var = self.posterior(x0, x_t, t)
        if var > 0:
            mean = mean + var**0.5 * randn_like(x_t, generator)
        return mean, x0
