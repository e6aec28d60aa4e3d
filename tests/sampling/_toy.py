"""A small Gaussian super-resolution problem with known answers, shared by the sampler tests.

Images are 8x8 gray, ``x_pm ~ N(0.3, S)`` on the prior's [-1, 1] scale with a smooth squared-exponential
covariance (so 2x averaging loses little), and the prior is the exact eps-model of that Gaussian
(:mod:`innverse.sampling.gaussian`): a correct posterior sampler then has an expected squared error of
twice the posterior variance, which :func:`mmse` gives in closed form.
"""

from __future__ import annotations

import torch

from innverse.models.indigo_inn import INDigoINN
from innverse.physics import Downsampling
from innverse.sampling.gaussian import gaussian_posterior, gaussian_prior, operator_matrix

H = 8
SHAPE = (1, H, H)
#: the prior mean on the [-1, 1] scale (0.65 on [0, 1]: a wrong offset or scale shows)
MEAN = 0.3


def covariance(var: float = 0.04, length: float = 2.0) -> torch.Tensor:
    ii, jj = torch.meshgrid(torch.arange(H), torch.arange(H), indexing="ij")
    p = torch.stack([ii.flatten(), jj.flatten()], 1).double()
    d2 = ((p[:, None] - p[None]) ** 2).sum(-1)
    return var * torch.exp(-d2 / (2 * length**2)) + 1e-4 * torch.eye(H * H, dtype=torch.float64)


def problem(n: int = 16, sigma: float = 0.0, seed: int = 1):
    """(prior, operator, truths x on [0, 1], observations y, MMSE per pixel)."""
    cov = covariance()
    mean = torch.full((H * H,), MEAN, dtype=torch.float64)
    prior = gaussian_prior(mean, cov, SHAPE)
    op = Downsampling(2, "average", sigma=sigma)
    g = torch.Generator().manual_seed(seed)
    xpm = MEAN + torch.randn(n, H * H, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    x = ((xpm + 1) / 2).reshape(n, *SHAPE)
    y = op.A(x)
    if sigma:
        y = y + sigma * torch.randn(y.shape, generator=g, dtype=torch.float64)
    return prior, op, x, y, mmse(cov, op, x, y, sigma)


def mmse(cov, op, x, y, sigma):
    """Mean squared error (per pixel, [0, 1] scale) of the exact posterior mean."""
    a = operator_matrix(op.A, SHAPE)
    ones = torch.ones(1, *SHAPE, dtype=torch.float64)
    ypm = (2 * y - op.A(ones)).reshape(len(y), -1)
    pm, _ = gaussian_posterior(torch.full((H * H,), MEAN, dtype=torch.float64), cov, a, ypm, 2 * sigma)
    return float((((pm + 1) / 2).reshape(x.shape) - x).square().mean())


def tiny_inn(scale: int = 2) -> INDigoINN:
    """The Haar INDigo INN (untrained: zero last layers), small networks, float64."""
    return INDigoINN(1, scale, steps=1, hidden=4, blocks=0).double()


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).square().mean())
