"""DDRM: the spectral update on the exact SVD, consistency, noisy observations, refusals."""

from __future__ import annotations

import pytest
import torch

from innverse.errors import UserError
from innverse.physics import Downsampling, QuantizedDownsampling
from innverse.sampling import DDRM, GuidedSampler, generators_for

from ._toy import mse, problem


def test_noise_free_samples_match_y_and_the_posterior():
    prior, op, x, y, mmse = problem(16)
    s = DDRM(prior, op, 40)
    out = s.sample(y, generators_for(0, 16), clamp=False)
    free = GuidedSampler(prior, op, 40).sample(y, generators_for(0, 16), clamp=False)
    assert mse(out, x) < 4 * mmse, (mse(out, x), mmse)
    assert mse(out, x) < 0.1 * mse(free, x)
    cons = float((op.A(out) - y).square().mean().sqrt())
    assert cons < 0.005, cons
    assert s.nfe == 40


def test_noisy_observations_use_both_spectral_branches():
    """With sigma_y > 0 components switch from 'noisier than y' to 'less noisy than y' during sampling;
    the result stays near the noisy posterior (2 x its MMSE) and does not copy the noise."""
    prior, op, x, y, mmse = problem(16, sigma=0.05)
    s = DDRM(prior, op, 40)
    assert s.sigma_y == 0.05
    s.prepare(y)
    sig = [((1 - s.alpha_bar(t)) / s.alpha_bar(t)) ** 0.5 for t in s.sampler.timesteps.tolist()]
    s0 = float(s.s[0])  # all singular values of 2x averaging are 1/2
    assert max(sig) * s0 > s.sig0 > min(sig) * s0
    out = s.sample(y, generators_for(0, 16), clamp=False)
    assert mse(out, x) < 3 * mmse, (mse(out, x), mmse)
    naive = op.A_pinv(y)  # replicating the noisy low-res pixels
    assert mse(out, x) < mse(naive, x)


def test_eta_settings_and_defaults():
    prior, op, _, _, _ = problem(1)
    s = DDRM(prior, op, 5)
    assert (s.eta, s.eta_b) == (0.85, 1.0)
    assert s.describe()["eta"] == 0.85
    with pytest.raises(UserError, match="eta"):
        DDRM(prior, op, 5, eta=1.5)


@pytest.mark.parametrize(
    "op, needle",
    [(QuantizedDownsampling(2), "non-linear"), (Downsampling(2, "bicubic"), "singular value decomposition")],
)
def test_refuses_operators_without_an_svd(op, needle):
    prior, _, _, _, _ = problem(1)
    with pytest.raises(UserError, match=needle) as e:
        DDRM(prior, op, 5)
    assert "\n" not in str(e.value) and str(e.value).startswith("ddrm")


def test_one_step_matches_the_componentwise_formulas():
    """A circular blur has singular values of every size, so one step mixes all three cases; compare with
    the paper's formulas applied component by component with dense V and U."""
    from innverse.physics import CircularBlur

    prior, _, _, _, _ = problem(1)
    k = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=torch.float64) / 16
    op = CircularBlur(k, sigma=0.02)
    g = torch.Generator().manual_seed(0)
    y = op.A(0.5 + 0.2 * torch.randn(1, 1, 8, 8, generator=g, dtype=torch.float64))
    s = DDRM(prior, op, 10, eta=0.6, eta_b=0.8)
    s.prepare(y)
    d = 64
    svd = op.svd((1, 8, 8))
    vm = svd.V(torch.eye(d, dtype=torch.float64)).reshape(d, d).T  # column j = V e_j
    sv = svd.singular_values().double()
    uty = svd.U_adjoint(2 * y - op.A(torch.ones(1, 1, 8, 8, dtype=torch.float64)))[0]
    t = s.sampler.timesteps.tolist()[7]
    ab_t = s.alpha_bar(t)
    ab_s = s.alpha_bar(s.sampler.prev_timestep(t))
    sig = ((1 - ab_s) / ab_s) ** 0.5
    sig0 = 0.04
    x_t = torch.randn(1, 1, 8, 8, generator=g, dtype=torch.float64)
    s._gens = torch.Generator().manual_seed(4)
    got = s.step(x_t, t)
    eps = prior(x_t, torch.tensor([t]))
    x0 = (x_t - (1 - ab_t) ** 0.5 * eps) / ab_t**0.5
    z = torch.randn((1, d), generator=torch.Generator().manual_seed(4)).double()[0]
    v0, ve = vm.T @ x0.reshape(-1), vm.T @ eps.reshape(-1)
    comp = torch.empty(d, dtype=torch.float64)
    kinds = set()
    for i in range(d):
        si = float(sv[i]) if i < len(sv) else 0.0
        if si <= 1e-3 * float(sv.max()):
            comp[i] = v0[i] + (1 - 0.36) ** 0.5 * sig * ve[i] + 0.6 * sig * z[i]
            kinds.add("missing")
        elif si * sig < sig0:
            comp[i] = v0[i] + (1 - 0.36) ** 0.5 * sig * (uty[i] - si * v0[i]) / sig0 + 0.6 * sig * z[i]
            kinds.add("less noisy")
        else:
            ybar = uty[i] / si
            comp[i] = 0.8 * ybar + 0.2 * v0[i] + (sig**2 - 0.64 * sig0**2 / si**2) ** 0.5 * z[i]
            kinds.add("noisier")
    assert kinds == {"missing", "less noisy", "noisier"}
    want = ab_s**0.5 * (vm @ comp).reshape(1, 1, 8, 8)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
