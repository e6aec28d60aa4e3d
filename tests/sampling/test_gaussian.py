"""The analytic Gaussian eps-model and posterior (ground truths of the sampler tests)."""

from __future__ import annotations

import pytest
import torch

from innverse.diffusion.schedules import NoiseSchedule
from innverse.errors import UserError
from innverse.physics import Downsampling
from innverse.sampling.base import GuidedSampler
from innverse.sampling.gaussian import (
    GaussianEpsModel,
    fit_gaussian,
    gaussian_posterior,
    gaussian_prior,
    operator_matrix,
)


def _random_cov(d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(d, d, generator=g, dtype=torch.float64)
    return m @ m.T / d + 0.01 * torch.eye(d, dtype=torch.float64)


def test_eps_model_is_the_conditional_mean_of_the_noise():
    sch = NoiseSchedule()
    d = 12
    cov = _random_cov(d)
    mean = torch.linspace(-0.5, 0.5, d, dtype=torch.float64)
    model = GaussianEpsModel(mean, cov, (3, 2, 2), sch)
    x = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    t = torch.tensor([0, 10, 300, 700, 999])
    out = model(x, t)
    for b in range(5):
        ab = float(sch.alphas_cumprod[t[b]])
        a, s = ab**0.5, (1 - ab) ** 0.5
        # E[eps | x_t] = s * (a^2 S + s^2 I)^-1 (x_t - a mu), by a plain solve
        want = s * torch.linalg.solve(
            a * a * cov + s * s * torch.eye(d, dtype=torch.float64), x[b].reshape(-1) - a * mean
        )
        torch.testing.assert_close(out[b].reshape(-1), want, rtol=1e-10, atol=1e-12)


def test_diagonal_covariance_equals_the_full_form():
    sch = NoiseSchedule()
    var = torch.linspace(0.1, 1.0, 8, dtype=torch.float64)
    full = GaussianEpsModel(torch.zeros(8), torch.diag(var), (1, 2, 4), sch)
    diag = GaussianEpsModel(torch.zeros(8), var, (1, 2, 4), sch)
    x = torch.randn(3, 1, 2, 4, dtype=torch.float64)
    t = torch.tensor([5, 500, 900])
    torch.testing.assert_close(full(x, t), diag(x, t), rtol=1e-10, atol=1e-12)


def test_unguided_sampling_reproduces_the_gaussian():
    """DDPM with the exact eps-model samples the data distribution: mean and variances match."""
    var = torch.tensor([0.05, 0.2, 0.5, 0.1], dtype=torch.float64)
    mean = torch.tensor([0.3, -0.2, 0.0, 0.5], dtype=torch.float64)
    prior = gaussian_prior(mean, var, (1, 2, 2))
    s = GuidedSampler(prior, Downsampling(1), steps=200)
    n = 4000
    x = s.sample(torch.zeros(n, 1, 2, 2, dtype=torch.float64), torch.Generator().manual_seed(0), clamp=False)
    x = (2 * x - 1).reshape(n, 4)
    se = (var / n).sqrt()
    assert ((x.mean(0) - mean).abs() < 4 * se).all(), (x.mean(0), mean)
    assert ((x.var(0) / var - 1).abs() < 0.12).all(), (x.var(0), var)
    assert s.nfe == 200


def test_posterior_matches_brute_force_conditioning():
    d = 6
    cov = _random_cov(d, 3)
    mean = torch.randn(d, dtype=torch.float64)
    a = torch.randn(3, d, dtype=torch.float64)
    y = torch.randn(2, 3, dtype=torch.float64)
    pm, pc = gaussian_posterior(mean, cov, a, y, 0.3)
    # joint Gaussian of (x, y): condition by the Schur complement
    syy = a @ cov @ a.T + 0.09 * torch.eye(3, dtype=torch.float64)
    sxy = cov @ a.T
    want = mean + (y - mean @ a.T) @ torch.linalg.inv(syy) @ sxy.T
    torch.testing.assert_close(pm, want)
    torch.testing.assert_close(pc, cov - sxy @ torch.linalg.inv(syy) @ sxy.T)


def test_fit_and_operator_matrix():
    x = torch.rand(50, 1, 4, 4, dtype=torch.float64)
    mu, cov = fit_gaussian(x, ridge=0.0)
    torch.testing.assert_close(mu, x.mean(0))
    torch.testing.assert_close(cov, torch.cov(x.reshape(50, -1).T))
    op = Downsampling(2)
    m = operator_matrix(op.A, (1, 4, 4))
    torch.testing.assert_close((x.reshape(50, -1) @ m.T).reshape(50, 1, 2, 2), op.A(x))


def test_bad_shapes_are_refused():
    sch = NoiseSchedule()
    with pytest.raises(UserError, match="mean has"):
        GaussianEpsModel(torch.zeros(3), torch.ones(4), (1, 2, 2), sch)
    with pytest.raises(UserError, match="covariance"):
        GaussianEpsModel(torch.zeros(4), torch.ones(3, 3), (1, 2, 2), sch)
    with pytest.raises(UserError, match="two images"):
        fit_gaussian(torch.zeros(1, 1, 2, 2))
