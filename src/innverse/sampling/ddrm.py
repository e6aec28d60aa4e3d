"""DDRM, denoising diffusion restoration models (Kawar, Elad, Ermon & Song, NeurIPS 2022).

DDRM works in the spectral basis of ``A = U diag(s) V^T`` (the operator's exact
:meth:`~innverse.physics.base.LinearOperator.svd`) and on the variance-exploding scale
``x_t / sqrt(ab_t)``, with ``sigma_t = sqrt((1 - ab_t) / ab_t)``.  With ``x0 = V^T x0_t``,
``ybar = U^T y / s`` and ``z`` standard normal, component ``i`` of the next iterate is

* unobserved (``i >= M``, or ``s_i <= zero * max(s)``, default ``zero = 1e-3``: the authors'
  deblurring operators also zero small singular values):
  ``x0_i + sqrt(1 - eta^2) sigma_s (V^T eps)_i + eta sigma_s z_i``;
* less noisy than ``y`` (``s_i sigma_s < sigma_y``):
  ``x0_i + sqrt(1 - eta^2) sigma_s (U^T y - s x0)_i / sigma_y + eta sigma_s z_i``;
* noisier than ``y`` (``s_i sigma_s > sigma_y``):
  ``eta_b ybar_i + (1 - eta_b) x0_i + sqrt(sigma_s^2 - eta_b^2 sigma_y^2 / s_i^2) z_i``;

then ``x_s = sqrt(ab_s) V(.)``  (the authors' ``efficient_generalized_steps``; ``eta = 0.85`` and
``eta_b = 1`` are their defaults).  ``y`` and ``sigma_y`` are mapped to the prior's ``[-1, 1]``
scale (``2 y - A(1)``, ``2 sigma_y``); ``x0_t`` is not clamped, as in the authors' code.  DDRM
follows its own update, so ``sampler`` only chooses the timestep respacing.  An operator without an
SVD (bicubic downscaling, non-linear ones) is refused with one line.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from innverse.errors import UserError
from innverse.sampling.base import GuidedSampler

__all__ = ["DDRM"]


class DDRM(GuidedSampler):
    """DDRM(``eta``, ``eta_b``); ``sigma_y`` (``[0, 1]`` scale) defaults to ``operator.sigma``;
    singular values ``<= zero * max(s)`` count as zero."""

    name: ClassVar[str] = "ddrm"

    def __init__(
        self,
        prior: Any,
        operator: Any,
        steps: int | None = 100,
        eta: float = 0.85,
        eta_b: float = 1.0,
        sigma_y: float | None = None,
        spacing: str = "leading",
        zero: float = 1e-3,
    ) -> None:
        super().__init__(prior, operator, steps, "ddim", 0.0, spacing)
        self.zero = float(zero)
        if not (0 <= float(eta) <= 1 and 0 <= float(eta_b) <= 1):
            raise UserError(f"ddrm: eta and eta_b must be in [0, 1], got {eta!r}, {eta_b!r}")
        self.eta, self.eta_b = float(eta), float(eta_b)
        self.sigma_y = float(operator.sigma if sigma_y is None else sigma_y)
        if not self.sigma_y >= 0:
            raise UserError(f"ddrm: sigma_y must be >= 0, got {sigma_y!r}")

    def check_operator(self, operator: Any) -> None:
        operator.require_svd("ddrm")

    def prepare(self, y: Tensor) -> None:
        super().prepare(y)
        shape = self.image_shape(y)
        self.svd = self.operator.svd(shape[1:], device=y.device)
        ones = torch.ones((1, *shape[1:]), dtype=y.dtype, device=y.device)
        self.s = self.svd.singular_values().to(device=y.device, dtype=y.dtype)
        self.uty = self.svd.U_adjoint(2.0 * y - self.operator.A(ones))
        self.sig0 = 2.0 * self.sigma_y
        self.seen = self.s > self.zero * float(self.s.abs().max())
        self.ybar = torch.where(
            self.seen, self.uty / torch.where(self.seen, self.s, torch.ones_like(self.s)), 0.0
        )

    @torch.no_grad()
    def step(self, x_t: Tensor, t: int) -> Tensor:
        _, x0, eps = self.denoise(x_t, t)
        ab_s = self.alpha_bar(self.sampler.prev_timestep(t))
        sig_s = ((1 - ab_s) / ab_s) ** 0.5
        svd, m, eta, eb, sig0, s = self.svd, self.svd.M, self.eta, self.eta_b, self.sig0, self.s
        v0 = svd.V_adjoint(x0)
        z = self.noise_like(v0)
        out = v0 + (1 - eta**2) ** 0.5 * sig_s * svd.V_adjoint(eps) + eta * sig_s * z
        head = out[:, :m]
        before = self.seen & (s * sig_s > sig0)
        after = self.seen & (s * sig_s < sig0)
        if bool(after.any()):
            less = (
                v0[:, :m]
                + (1 - eta**2) ** 0.5 * sig_s * (self.uty - s * v0[:, :m]) / sig0
                + eta * sig_s * z[:, :m]
            )
            head = torch.where(after, less, head)
        if bool(before.any()):
            safe = torch.where(self.seen, s, torch.ones_like(s))
            std = (sig_s**2 - (eb * sig0 / safe) ** 2).clamp_min(0).sqrt()
            more = eb * self.ybar + (1 - eb) * v0[:, :m] + std * z[:, :m]
            head = torch.where(before, more, head)
        out = torch.cat([head, out[:, m:]], dim=1)
        return ab_s**0.5 * svd.V(out).reshape(x_t.shape)

    def describe(self) -> dict:
        d = super().describe()
        d.update(sampler="ddrm", eta=self.eta, eta_b=self.eta_b, sigma_y=self.sigma_y)
        return d
