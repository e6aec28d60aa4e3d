"""ILVR, iterative latent variable refinement (Choi, Kim, Jeong, Gwon & Yoon, ICCV 2021).

Each step takes the sampler's unguided step ``x'_{t-1}``, draws the reference at the same noise level,
``r_{t-1} = sqrt(ab_{t-1}) r + sqrt(1 - ab_{t-1}) z`` (fresh noise), and replaces the low-pass part:

``x_{t-1} = phi(r_{t-1}) + x'_{t-1} - phi(x'_{t-1})``.

The low-pass filter matching the degradation is the projector ``phi = A^+ A`` onto the row space of
``A`` (for averaging: block means, replicated), and the reference is ``r = A^+ y`` on the prior's
``[-1, 1]`` scale (``y -> 2 y - A(1)``), so that ``phi(r) = r`` and the final sample satisfies
``A(x) = y`` when ``y`` is noise-free.  A noisy ``y`` is used as it is (ILVR has no noise model).
Non-linear operators are refused with one line.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from innverse.sampling.base import GuidedSampler

__all__ = ["ILVR"]


class ILVR(GuidedSampler):
    """ILVR with the low-pass filter ``A^+ A`` of a linear ``operator``; arguments as
    :class:`~innverse.sampling.base.GuidedSampler`."""

    name: ClassVar[str] = "ilvr"

    def __init__(
        self,
        prior: Any,
        operator: Any,
        steps: int | None = 100,
        sampler: str = "ddpm",
        eta: float = 0.0,
        spacing: str = "leading",
    ) -> None:
        super().__init__(prior, operator, steps, sampler, eta, spacing)

    def check_operator(self, operator: Any) -> None:
        operator.require_linear("ilvr")

    def low_pass(self, x: Tensor) -> Tensor:
        """``A^+ A x``."""
        return self.operator.A_pinv(self.operator.A(x))

    def prepare(self, y: Tensor) -> None:
        super().prepare(y)
        shape = self.image_shape(y)
        ones = torch.ones((1, *shape[1:]), dtype=y.dtype, device=y.device)
        self.reference = self.operator.A_pinv(2.0 * y - self.operator.A(ones))

    @torch.no_grad()
    def step(self, x_t: Tensor, t: int) -> Tensor:
        _, x0, eps = self.denoise(x_t, t)
        x_prev = self.unguided(self.clamp(x0), eps, x_t, t)
        ab = self.alpha_bar(self.sampler.prev_timestep(t))
        ref = ab**0.5 * self.reference
        if ab < 1:
            ref = ref + (1 - ab) ** 0.5 * self.low_pass(self.noise_like(x_prev))
        return ref + x_prev - self.low_pass(x_prev)
