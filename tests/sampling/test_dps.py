"""DPS: the normalised gradient step, sample quality, and the surrogate of a non-linear operator."""

from __future__ import annotations

import pytest
import torch

from innverse.errors import UserError
from innverse.physics import QuantizedDownsampling
from innverse.sampling import DPS, GuidedSampler, generators_for
from innverse.sampling.base import to_image

from ._toy import mse, problem


def test_step_is_normalised_gradient_of_the_residual():
    """x_{t-1} = x'_{t-1} - zeta / |r| ∇|r|^2 with r = y - A(x0_t), checked by finite differences."""
    prior, op, x, y, _ = problem(2)
    s = DPS(prior, op, zeta=0.7, steps=10)
    s.prepare(y)
    t = s.sampler.timesteps.tolist()[3]
    x_t = torch.randn(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    @torch.no_grad()
    def res2(xt, b):
        _, x0, _ = s.denoise(xt, t)
        return float((y[b] - op.A(to_image(x0))[b]).square().sum())

    s._gens = torch.Generator().manual_seed(1)
    got = s.step(x_t, t)
    s._gens = torch.Generator().manual_seed(1)
    step = GuidedSampler.step(s, x_t, t) - got
    h = 1e-6
    for idx in [(0, 0, 1, 1), (1, 0, 6, 3)]:
        b = idx[0]
        e = torch.zeros_like(x_t)
        e[idx] = h
        fd = (res2(x_t + e, b) - res2(x_t - e, b)) / (2 * h)
        want = 0.7 / res2(x_t, b) ** 0.5 * fd
        assert abs(float(step[idx]) - want) < 1e-6 * max(1.0, abs(want)), (float(step[idx]), want)


def test_samples_are_close_to_the_posterior():
    prior, op, x, y, mmse = problem(16)
    out = DPS(prior, op, 1.0, 40).sample(y, generators_for(0, 16))
    free = GuidedSampler(prior, op, 40).sample(y, generators_for(0, 16))
    assert mse(out, x) < 4 * mmse, (mse(out, x), mmse)
    assert mse(out, x) < 0.1 * mse(free, x)


def test_runs_on_the_straight_through_surrogate():
    prior, _, _, _, _ = problem(1)
    op = QuantizedDownsampling(2, quality=75)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    y = op.A(x)
    s = DPS(prior, op, 1.0, 5)
    out = s.sample(y, generators_for(0, 2))
    assert torch.isfinite(out).all()
    s.prepare(y)
    x0 = torch.rand(2, 1, 8, 8, dtype=torch.float64).requires_grad_(True)
    (g,) = torch.autograd.grad(s.loss(x0).sum(), x0)
    assert g.abs().sum() > 0  # the rounding's zero gradient is replaced by the identity


def test_bad_zeta():
    prior, op, _, _, _ = problem(1)
    with pytest.raises(UserError, match="zeta"):
        DPS(prior, op, float("nan"))


@pytest.mark.parametrize("zeta", [4.0, 5.6, 32.0])
def test_a_zero_residual_gives_a_finite_unguided_step(zeta: float) -> None:
    """A quantised y can be matched exactly (|r| = 0, so the gradient is 0): the normalised step must
    stay finite (dividing by finfo.tiny overflowed to inf for zeta >= 4 in float32, and 0 * inf = NaN)."""
    from innverse.sampling.base import NORM_FLOOR, normalized_step

    v = torch.zeros(3)
    z = normalized_step(zeta, v)
    assert bool(torch.isfinite(z).all()) and float(z[0]) == pytest.approx(zeta / NORM_FLOOR)
    assert bool(torch.isfinite(z * torch.zeros(3)).all())
    # and in a real step: y = A(x0) for the first image is not needed; a zero gradient is enough
    prior, op, x, y, _ = problem(2)
    s = DPS(prior, op, zeta=zeta, steps=4)
    s.prepare(y)
    t = s.sampler.timesteps.tolist()[1]
    s.loss = lambda x0: 0.0 * x0.flatten(1).sum(1)  # type: ignore[method-assign]
    s._gens = torch.Generator().manual_seed(1)
    x_t = torch.randn(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = s.step(x_t, t)
    s._gens = torch.Generator().manual_seed(1)
    assert torch.equal(out, GuidedSampler.step(s, x_t, t))
