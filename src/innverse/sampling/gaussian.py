"""An analytic diffusion prior: the exact ε-model of Gaussian data, and the exact Gaussian posterior.

For data ``x0 ~ N(mu, S)`` (on the prior's ``[-1, 1]`` scale, flattened to ``D`` values) and
``x_t = a x0 + s eps`` with ``a = sqrt(ab_t)``, ``s = sqrt(1 - ab_t)``, the minimum-MSE noise prediction
is linear:

``eps*(x_t, t) = E[eps | x_t] = s (a^2 S + s^2 I)^-1 (x_t - a mu)``
``= Q diag(s / (a^2 l + s^2)) Q^T (x_t - a mu)``

with ``S = Q diag(l) Q^T``.  A diffusion sampler driven by it samples ``N(mu, S)`` exactly in the
limit of many steps, so it is a ground truth for testing samplers (and, fitted to a data set by
:func:`fit_gaussian`, a weak but honest prior that needs no training).  For a linear ``A`` and
``y = A x0 + n``, ``n ~ N(0, sigma^2 I)``, the posterior is Gaussian with mean
``mu + S A^T (A S A^T + sigma^2 I)^-1 (y - A mu)`` (:func:`gaussian_posterior`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from innverse.diffusion.prior import DiffusionPrior
from innverse.diffusion.schedules import NoiseSchedule
from innverse.errors import UserError

__all__ = ["GaussianEpsModel", "gaussian_prior", "fit_gaussian", "gaussian_posterior", "operator_matrix"]


class GaussianEpsModel(nn.Module):
    """The exact ε-model of ``N(mean, cov)`` images of shape ``(C, H, W)`` under ``schedule``.

    ``mean``: ``(C, H, W)`` or ``(D,)``; ``cov``: ``(D, D)`` symmetric PSD, or ``(D,)`` for a diagonal
    covariance.  ``forward(x_t, t)`` with ``t`` a ``(B,)`` int tensor (or a scalar) returns ``eps*``
    in ``x_t``'s dtype; the eigendecomposition is float64.
    """

    mean: Tensor
    lam: Tensor
    q: Tensor
    ab: Tensor

    def __init__(
        self, mean: Tensor, cov: Tensor, shape: tuple[int, int, int], schedule: NoiseSchedule
    ) -> None:
        super().__init__()
        d = shape[0] * shape[1] * shape[2]
        mean = mean.detach().to(torch.float64).reshape(-1)
        cov = cov.detach().to(torch.float64)
        if mean.numel() != d:
            raise UserError(f"GaussianEpsModel: mean has {mean.numel()} values, the shape {shape} needs {d}")
        if cov.dim() == 1:
            if cov.numel() != d:
                raise UserError(f"GaussianEpsModel: diagonal covariance needs {d} values, got {cov.numel()}")
            lam, q = cov.clamp_min(0), None
        elif tuple(cov.shape) == (d, d):
            lam, q = torch.linalg.eigh((cov + cov.T) / 2)
            lam = lam.clamp_min(0)
        else:
            raise UserError(
                f"GaussianEpsModel: covariance must be ({d},) or ({d}, {d}), got {tuple(cov.shape)}"
            )
        self.shape = tuple(int(n) for n in shape)
        self.register_buffer("mean", mean)
        self.register_buffer("lam", lam)
        self.register_buffer("q", q if q is not None else torch.empty(0, dtype=torch.float64))
        self.register_buffer("ab", schedule.alphas_cumprod.clone())

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.shape:
            shape = "x".join(map(str, self.shape))
            raise UserError(
                f"this Gaussian prior is for {shape} images, got {'x'.join(map(str, x.shape[1:]))}"
            )
        t = torch.as_tensor(t, device=x.device).to(torch.int64).reshape(-1).expand(x.shape[0])
        ab = self.ab.to(x.device)[t].reshape(-1, 1)
        a, s = ab.sqrt(), (1 - ab).sqrt()
        r = x.reshape(x.shape[0], -1).to(torch.float64) - a * self.mean
        gain = s / (a * a * self.lam + s * s)
        if self.q.numel():
            out = ((r @ self.q) * gain) @ self.q.T
        else:
            out = r * gain
        return out.to(x.dtype).reshape(x.shape)


def gaussian_prior(
    mean: Tensor,
    cov: Tensor,
    shape: tuple[int, int, int],
    schedule: NoiseSchedule | None = None,
    clip_sample: float | None = None,
) -> DiffusionPrior:
    """A :class:`~innverse.diffusion.prior.DiffusionPrior` whose network is :class:`GaussianEpsModel`
    (default schedule: linear, ``T = 1000``; no clamp of ``x0_hat`` unless ``clip_sample``)."""
    schedule = schedule or NoiseSchedule()
    model = GaussianEpsModel(mean, cov, shape, schedule)
    prior = DiffusionPrior(
        model,
        schedule,
        "epsilon",
        clip_sample,
        shape[-1],
        shape[0],
        {"name": "gaussian", "summary": "analytic Gaussian prior (exact eps-model)"},
    )
    prior.source = "gaussian"
    return prior.eval()


def fit_gaussian(images: Tensor, ridge: float = 1e-4) -> tuple[Tensor, Tensor]:
    """Mean ``(C, H, W)`` and covariance ``(D, D)`` (float64, ``+ ridge I``) of images ``(N, C, H, W)``
    on the prior's ``[-1, 1]`` scale."""
    if images.dim() != 4 or images.shape[0] < 2:
        raise UserError(f"fit_gaussian: need at least two images (N, C, H, W), got {tuple(images.shape)}")
    x = images.to(torch.float64).reshape(images.shape[0], -1)
    mu = x.mean(0)
    c = x - mu
    cov = c.T @ c / (x.shape[0] - 1) + ridge * torch.eye(x.shape[1], dtype=torch.float64)
    return mu.reshape(images.shape[1:]), cov


def operator_matrix(A: Callable[[Tensor], Tensor], shape: tuple[int, int, int]) -> Tensor:
    """The ``(M, D)`` float64 matrix of a linear ``A`` on images of shape ``shape`` (columns = ``A`` of
    the basis images)."""
    d = shape[0] * shape[1] * shape[2]
    basis = torch.eye(d, dtype=torch.float64).reshape(d, *shape)
    return A(basis).reshape(d, -1).T.contiguous()


def gaussian_posterior(
    mean: Tensor, cov: Tensor, a: Tensor, y: Tensor, sigma: float
) -> tuple[Tensor, Tensor]:
    """Mean ``(B, D)`` and covariance ``(D, D)`` of ``x | y`` for ``x ~ N(mean, cov)``, ``y = a x + n``,
    ``n ~ N(0, sigma^2 I)``; ``a`` is ``(M, D)``, ``y`` ``(B, M)`` (all float64)."""
    mu = mean.reshape(-1).to(torch.float64)
    cov = cov.to(torch.float64)
    a = a.to(torch.float64)
    g = a @ cov @ a.T + sigma**2 * torch.eye(a.shape[0], dtype=torch.float64)
    k = torch.linalg.solve(g, a @ cov).T  # (D, M) = S A^T G^-1
    post_mean = mu + (y.to(torch.float64) - mu @ a.T) @ k.T
    post_cov = cov - k @ a @ cov
    return post_mean, post_cov
