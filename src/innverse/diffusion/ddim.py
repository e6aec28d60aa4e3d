"""The DDIM sampler (Song, Meng & Ermon 2021) with stochasticity ``eta``, on respaced timesteps.

From ``x_t`` to the next sampling step ``s < t`` (``s = -1``: the data, ᾱ = 1):

    σ      = η sqrt((1 - ᾱ_s) / (1 - ᾱ_t)) sqrt(1 - ᾱ_t / ᾱ_s)
    x_s    = sqrt(ᾱ_s) x0_hat + sqrt(1 - ᾱ_s - σ²) ε_hat + σ z

``eta = 0`` is the deterministic DDIM (no noise is drawn, the generator is untouched); ``eta = 1``
has the variance of the DDPM posterior.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from innverse.diffusion.sampler import Sampler, randn_like
from innverse.diffusion.schedules import NoiseSchedule
from innverse.errors import UserError

__all__ = ["DDIMSampler"]


class DDIMSampler(Sampler):
    """DDIM(η) sampling; ``eta`` >= 0 (0: deterministic).

    ``clipped_eps``: take ε from the clamped ``x0_hat`` rather than from the model (see
    :meth:`~innverse.diffusion.sampler.Sampler.predict_x0`; off by default, as in diffusers).
    """

    def __init__(
        self,
        schedule: NoiseSchedule,
        steps: int | None = 50,
        spacing: str = "leading",
        prediction: str = "epsilon",
        clip_sample: float | None = 1.0,
        eta: float = 0.0,
        clipped_eps: bool = False,
    ) -> None:
        super().__init__(schedule, steps, spacing, prediction, clip_sample)
        if not (math.isfinite(eta) and eta >= 0):
            raise UserError(f"DDIM eta must be a finite number >= 0, got {eta}")
        self.eta = float(eta)
        self.clipped_eps = bool(clipped_eps)

    def sigma(self, t: int) -> float:
        """The noise std σ of the step from ``t``."""
        s = self.prev_timestep(t)
        ab_t = float(self.schedule.alpha_bar(int(t)))
        ab_s = float(self.schedule.alpha_bar(s))
        return self.eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)) ** 0.5

    def step(
        self, model_out: Tensor, t: int, x_t: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``(x_prev, x0_hat)``: one DDIM step from ``x_t`` at timestep ``t``."""
        x0, eps = self.predict_x0(model_out, t, x_t, self.clipped_eps)
        ab_s = float(self.schedule.alpha_bar(self.prev_timestep(t)))
        sig = self.sigma(t)
        x_prev = ab_s**0.5 * x0 + max(1 - ab_s - sig**2, 0.0) ** 0.5 * eps
        if sig > 0:
            x_prev = x_prev + sig * randn_like(x_t, generator)
        return x_prev, x0
