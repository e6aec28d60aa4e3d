"""Inverse kinematics of Kruse et al., "Benchmarking invertible architectures on inverse problems"
(ICML 2019 workshop / arXiv 2101.10763), as in the authors' released ``inn_toy_data`` code.

An articulated arm moves vertically on a rail at horizontal position 0 and bends at three joints.
``x = (x1, θ1, θ2, θ3)``: the rail height and the three joint angles (radians), with prior
``N(0, diag(0.25, 0.5, 0.5, 0.5)^2)``.  The segments have lengths ``l = (0.5, 0.5, 1.0)``; the
observation ``y`` is the end-effector position (2-D)::

    y = ( sum_i l_i cos(θ1 + ... + θi),  x1 + sum_i l_i sin(θ1 + ... + θi) )

The posterior ``p(x | y*)`` has no closed form; the reference is approximate Bayesian computation by
rejection: draw ``x`` from the prior and keep those with ``||f(x) - y*||_2 < eps``
(:meth:`Kinematics.abc_posterior`; ``eps = 0.02`` by default, see :data:`ABC_EPS`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from innverse.errors import UserError

__all__ = ["Kinematics", "LENGTHS", "PRIOR_STD", "ABC_EPS"]

#: segment lengths l1, l2, l3
LENGTHS = (0.5, 0.5, 1.0)
#: prior standard deviations of (x1, θ1, θ2, θ3)
PRIOR_STD = (0.25, 0.5, 0.5, 0.5)
#: the default ABC acceptance radius (end-effector distance, same units as the segment lengths)
ABC_EPS = 0.02


class Kinematics:
    """The 4-D -> 2-D inverse-kinematics problem (rail + three joints)."""

    x_dim = 4
    y_dim = 2
    name = "kinematics"

    def __init__(self) -> None:
        self.lengths = LENGTHS
        self.prior_std = torch.tensor(PRIOR_STD, dtype=torch.float64)

    # ------------------------------------------------------------------ the model
    def sample_prior(self, n: int, generator: torch.Generator | None = None, dtype=torch.float32) -> Tensor:
        """``n`` draws ``(n, 4)`` from the prior."""
        return (torch.randn(n, 4, generator=generator, dtype=torch.float64) * self.prior_std).to(dtype)

    def log_prior(self, x: Tensor) -> Tensor:
        """``log p(x)`` of the Gaussian prior (float64), ``x`` of shape ``(..., 4)``."""
        z = x.double() / self.prior_std
        return -0.5 * (z**2).sum(-1) - torch.log(self.prior_std).sum() - 2 * math.log(2 * math.pi)

    def joints(self, x: Tensor) -> Tensor:
        """Positions of the rail point and the three segment ends, ``(..., 4, 2)``; the last is ``y``."""
        self._check(x)
        h = x[..., 0]
        ang = torch.cumsum(x[..., 1:], dim=-1)
        pts = [torch.stack((torch.zeros_like(h), h), dim=-1)]
        for i, length in enumerate(self.lengths):
            step = torch.stack((length * torch.cos(ang[..., i]), length * torch.sin(ang[..., i])), dim=-1)
            pts.append(pts[-1] + step)
        return torch.stack(pts, dim=-2)

    def forward(self, x: Tensor) -> Tensor:
        """The end-effector position ``y = f(x)``, ``(..., 2)``."""
        self._check(x)
        ang = torch.cumsum(x[..., 1:], dim=-1)
        l1, l2, l3 = self.lengths
        u = l1 * torch.cos(ang[..., 0]) + l2 * torch.cos(ang[..., 1]) + l3 * torch.cos(ang[..., 2])
        v = l1 * torch.sin(ang[..., 0]) + l2 * torch.sin(ang[..., 1]) + l3 * torch.sin(ang[..., 2])
        v = x[..., 0] + v
        return torch.stack((u, v), dim=-1)

    __call__ = forward

    def sample_joint(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``(x, y)`` float32 pairs: ``x`` from the prior and ``y = f(x)``."""
        x = self.sample_prior(n, generator, dtype=torch.float64)
        return x.float(), self.forward(x).float()

    @staticmethod
    def _check(x: Tensor) -> None:
        if x.shape[-1] != 4:
            raise UserError(f"kinematics x must have shape (..., 4); got {tuple(x.shape)}")

    # ------------------------------------------------------------------ reference posterior
    def abc_posterior(
        self,
        y_star: Tensor,
        n: int,
        eps: float = ABC_EPS,
        generator: torch.Generator | None = None,
        chunk: int = 1 << 18,
        max_draws: int = 1 << 27,
    ) -> tuple[Tensor, int]:
        """Rejection-ABC reference posterior for one observation ``y_star`` (2,).

        The target is the prior restricted to ``||f(x) - y*||_2 < eps``.  Since ``y2`` depends on the
        rail height ``x1`` only through ``+ x1``, the sampler draws the angles from the prior and
        integrates ``x1`` analytically: the angles are accepted with probability ``P(θ) / B``, where
        ``P(θ)`` is the prior mass of the ``x1`` interval that puts the end effector within ``eps`` of
        ``y*`` and ``B = erf(eps / (0.25 sqrt 2))`` the largest such mass; ``x1`` is then drawn from its
        prior truncated to that interval.  This is an exact rejection sampler of the same distribution
        as "draw x from the prior, keep it if within eps", with about ``1/B`` times fewer draws.

        Draws angles in chunks of ``chunk`` until ``n`` samples are accepted; returns ``(samples (n, 4)
        float32, number of prior draws)``.  Raises UserError when ``max_draws`` draws accept fewer than
        ``n`` (a ``y*`` the arm reaches only with very low prior probability).
        """
        y_star = torch.as_tensor(y_star, dtype=torch.float64).reshape(-1)
        if y_star.shape != (2,):
            raise UserError(f"y* must hold 2 values; got {tuple(y_star.shape)}")
        if not eps > 0:
            raise UserError(f"the ABC threshold must be positive; got {eps}")
        s1 = float(self.prior_std[0])
        root2 = math.sqrt(2.0)
        bound = math.erf(eps / (s1 * root2))
        kept: list[Tensor] = []
        have, draws = 0, 0
        while have < n:
            if draws >= max_draws:
                raise UserError(
                    f"ABC: {draws} prior draws accepted only {have} of {n} samples within {eps} of "
                    f"{[round(v, 4) for v in y_star.tolist()]}"
                )
            theta = torch.randn(chunk, 3, generator=generator, dtype=torch.float64) * self.prior_std[1:]
            draws += chunk
            x = torch.cat((torch.zeros(chunk, 1, dtype=torch.float64), theta), dim=1)
            uv = self.forward(x)  # end effector for x1 = 0
            du = uv[:, 0] - y_star[0]
            half = torch.sqrt((eps * eps - du * du).clamp_min(0.0))
            centre = y_star[1] - uv[:, 1]  # x1 must lie in (centre - half, centre + half)
            # work on the side of the prior's centre (the reflection keeps the CDF away from 1)
            sign = torch.where(centre > 0, -1.0, 1.0).to(torch.float64)
            lo, hi = (sign * centre - half) / s1, (sign * centre + half) / s1
            c_lo, c_hi = torch.special.ndtr(lo), torch.special.ndtr(hi)
            mass = (c_hi - c_lo).clamp_min(0.0)
            accept = torch.rand(chunk, generator=generator, dtype=torch.float64) * bound < mass
            accept &= half > 0
            if not bool(accept.any()):
                continue
            u = torch.rand(int(accept.sum()), generator=generator, dtype=torch.float64)
            q = c_lo[accept] + u * mass[accept]
            x1 = sign[accept] * s1 * torch.special.ndtri(q.clamp(1e-300, 1.0 - 1e-16))
            kept.append(torch.cat((x1[:, None], theta[accept]), dim=1))
            have += len(x1)
        return torch.cat(kept)[:n].float(), draws
