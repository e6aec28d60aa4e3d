"""INDigo: the guidance gradient, its equivalence with DPS for the Haar INN, and sample quality."""

from __future__ import annotations

import pytest
import torch

from innverse.errors import UserError
from innverse.models.indigo_inn import INDigoINN
from innverse.physics import Downsampling, QuantizedDownsampling
from innverse.sampling import DPS, GuidedSampler, INDigo, generators_for
from innverse.sampling.base import to_image, to_model

from ._toy import mse, problem, tiny_inn


def _random_inn(scale=2, seed=0) -> INDigoINN:
    """An INN whose lifting networks are not zero (so that the details depend on the image)."""
    inn = INDigoINN(1, scale, steps=1, hidden=4, blocks=1).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in inn.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return inn


def test_step_is_the_unguided_step_minus_zeta_times_the_gradient():
    """x_{t-1} = x~_{t-1} - zeta ∇_{x_t} |f^-1(y, d(x0_t)) - x0_t|^2, the gradient by finite differences."""
    prior, op, x, y, _ = problem(2)
    inn = _random_inn()
    s = INDigo(prior, op, inn, zeta=0.3, schedule="constant", steps=10)
    s.prepare(y)
    t = s.sampler.timesteps.tolist()[4]
    x_t = torch.randn(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    @torch.no_grad()
    def loss(xt):
        _, x0, _ = s.denoise(xt, t)
        merged = to_model(inn.merge(y, to_image(x0)))
        return float((merged - x0).square().sum())

    s._gens = torch.Generator().manual_seed(5)
    got = s.step(x_t, t)
    s._gens = torch.Generator().manual_seed(5)
    unguided = GuidedSampler.step(s, x_t, t)
    grad = (unguided - got) / 0.3
    h = 1e-6
    for idx in [(0, 0, 3, 4), (1, 0, 0, 7), (1, 0, 5, 2)]:
        e = torch.zeros_like(x_t)
        e[idx] = h
        fd = (loss(x_t + e) - loss(x_t - e)) / (2 * h)
        assert abs(float(grad[idx]) - fd) < 1e-6 * max(1.0, abs(fd)), (idx, float(grad[idx]), fd)


def test_haar_inn_makes_indigo_dps_with_eight_times_zeta():
    """For 4x averaging the Haar INN gives |x^0 - x0|^2 = 64 |y - A(x0)|^2 (on [-1, 1] vs [0, 1]), so the
    normalised INDigo step with zeta equals DPS's with 8 zeta."""
    prior, _, _, _, _ = problem(1)
    op = Downsampling(4)
    inn = INDigoINN(1, 4, steps=1, hidden=4, blocks=0).double()
    x0 = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    y = torch.rand(3, 1, 2, 2, dtype=torch.float64)
    a, b = INDigo(prior, op, inn, 1.0, steps=5), DPS(prior, op, 1.0, steps=5)
    a.prepare(y)
    b.prepare(y)
    torch.testing.assert_close(a.loss(x0), 64 * b.loss(x0))
    ya = torch.rand(2, 1, 2, 2, dtype=torch.float64)
    ia = INDigo(prior, op, inn, 0.25, "normalized", 8).sample(ya, generators_for(0, 2))
    da = DPS(prior, op, 2.0, 8).sample(ya, generators_for(0, 2))
    torch.testing.assert_close(ia, da, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_samples_are_close_to_the_posterior(sampler):
    """On the Gaussian toy, INDigo's error is near that of an exact posterior sampler (2 x MMSE) and far
    below the unguided prior draw's."""
    prior, op, x, y, mmse = problem(16)
    s = INDigo(prior, op, tiny_inn(), 0.5, "constant", 40, sampler=sampler, eta=0.5)
    out = s.sample(y, generators_for(0, 16))
    free = GuidedSampler(prior, op, 40).sample(y, generators_for(0, 16))
    err = mse(out, x)
    assert err < 4 * mmse, (err, mmse)
    assert err < 0.1 * mse(free, x)
    assert float((op.A(out) - y).square().mean().sqrt()) < 0.01


def test_zeta_zero_is_the_unguided_sampler():
    prior, op, x, y, _ = problem(2)
    a = INDigo(prior, op, tiny_inn(), 0.0, "constant", 6).sample(y, generators_for(0, 2))
    b = GuidedSampler(prior, op, 6).sample(y, generators_for(0, 2))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_works_on_a_non_linear_degradation():
    """No SVD or adjoint is needed: the quantised degradation runs (with an INN of its scale)."""
    prior, _, _, _, _ = problem(1)
    op = QuantizedDownsampling(2, quality=75)
    y = op.A(torch.rand(2, 1, 8, 8, dtype=torch.float64))
    out = INDigo(prior, op, tiny_inn(), 0.5, "normalized", 4).sample(y, generators_for(0, 2))
    assert out.shape == (2, 1, 8, 8) and torch.isfinite(out).all()


def test_bad_settings():
    prior, op, _, _, _ = problem(1)
    with pytest.raises(UserError, match="zeta"):
        INDigo(prior, op, tiny_inn(), -1.0)
    with pytest.raises(UserError, match="schedule"):
        INDigo(prior, op, tiny_inn(), 1.0, "cosine")
    with pytest.raises(UserError, match="downscales by 4"):
        INDigo(prior, op, tiny_inn(4), 1.0)
