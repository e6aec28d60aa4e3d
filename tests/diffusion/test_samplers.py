"""Tests of the DDPM and DDIM samplers and the sampling loop."""

from __future__ import annotations

import pytest
import torch

from innverse.diffusion import DDIMSampler, DDPMSampler, NoiseSchedule, sample
from innverse.errors import UserError


class GaussianOracle:
    """The exact ε-model E[ε | x_t] when the data are i.i.d. N(mu, s²) per pixel."""

    def __init__(self, schedule: NoiseSchedule, mu: float, s: float) -> None:
        self.ab, self.mu, self.s = schedule.alphas_cumprod, mu, s

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.ab[t].to(x).view(-1, *([1] * (x.ndim - 1)))
        return (1 - ab).sqrt() * (x - ab.sqrt() * self.mu) / (ab * self.s**2 + 1 - ab)


def test_ddpm_posterior_matches_gaussian_conditioning() -> None:
    sch = NoiseSchedule("linear", 1000)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    xt = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    for steps in (None, 50, 7):
        smp = DDPMSampler(sch, steps)
        for t in smp.timesteps.tolist()[:-1]:
            s = smp.prev_timestep(t)
            ab_t, ab_s = float(sch.alphas_cumprod[t]), float(sch.alphas_cumprod[s])
            a = ab_t / ab_s  # q(x_t | x_s) = N(sqrt(a) x_s, 1 - a); q(x_s | x0) = N(sqrt(ab_s) x0, 1 - ab_s)
            prec = a / (1 - a) + 1 / (1 - ab_s)
            mean = (a**0.5 / (1 - a) * xt + ab_s**0.5 / (1 - ab_s) * x0) / prec
            m, v = smp.posterior(x0, xt, t)
            torch.testing.assert_close(m, mean, rtol=1e-10, atol=1e-10)
            assert abs(v - 1 / prec) <= 1e-12 * max(1.0, 1 / prec)
        assert smp.posterior(x0, xt, 0)[1] == 0.0


def test_ddpm_step_noise_has_the_posterior_variance() -> None:
    sch = NoiseSchedule("cosine", 1000)
    smp = DDPMSampler(sch, 20, clip_sample=None)
    t = int(smp.timesteps[5])
    xt = torch.zeros(20000, 1, 1, 1, dtype=torch.float64)
    out = torch.zeros_like(xt)
    x_prev, x0 = smp.step(out, t, xt, torch.Generator().manual_seed(0))
    mean, var = smp.posterior(x0, xt, t)
    assert abs(float((x_prev - mean).var()) / var - 1) < 0.03


def test_matches_diffusers_schedulers() -> None:
    diffusers = pytest.importorskip("diffusers")
    sch = NoiseSchedule("linear", 1000)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 8, 8, generator=g)
    out = torch.randn(2, 1, 8, 8, generator=g)
    ref = diffusers.DDPMScheduler(num_train_timesteps=1000, clip_sample=True)
    ref.set_timesteps(50)
    ours = DDPMSampler(sch, 50)
    assert ours.timesteps.tolist() == ref.timesteps.tolist()
    for t in (980, 500, 20, 0):
        r = ref.step(out, t, x, generator=torch.Generator().manual_seed(t))
        o = ours.step(out, t, x, torch.Generator().manual_seed(t))
        torch.testing.assert_close(o[1], r.pred_original_sample, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(o[0], r.prev_sample, rtol=1e-5, atol=1e-5)
    refi = diffusers.DDIMScheduler(num_train_timesteps=1000, clip_sample=True)
    refi.set_timesteps(50)
    for eta in (0.0, 0.5, 1.0):
        ours_i = DDIMSampler(sch, 50, eta=eta)
        assert ours_i.timesteps.tolist() == refi.timesteps.tolist()
        for t in (980, 300, 0):
            r = refi.step(out, t, x, eta=eta, generator=torch.Generator().manual_seed(t))
            o = ours_i.step(out, t, x, torch.Generator().manual_seed(t))
            torch.testing.assert_close(o[0], r.prev_sample, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(o[1], r.pred_original_sample, rtol=1e-5, atol=1e-5)


def test_ddim_eta0_keeps_the_noise_of_a_point_mass() -> None:
    """Data = one point: the exact ε is constant along a DDIM(0) path, so every x_s = add_noise(mu, ε, s)."""
    sch = NoiseSchedule("linear", 1000)
    mu = torch.linspace(-0.8, 0.8, 16, dtype=torch.float64).view(1, 1, 4, 4)
    smp = DDIMSampler(sch, 25, clip_sample=None)
    eps0 = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x = sch.add_noise(mu, eps0, int(smp.timesteps[0]))
    for t in smp.timesteps.tolist():
        ab = float(sch.alphas_cumprod[t])
        eps = (x - ab**0.5 * mu) / (1 - ab) ** 0.5
        x, x0 = smp.step(eps, t, x, generator=None)
        torch.testing.assert_close(x0, mu.expand_as(x0), rtol=0, atol=1e-10)
        s = smp.prev_timestep(t)
        expect = mu.expand_as(x) if s < 0 else sch.add_noise(mu, eps0, s)
        torch.testing.assert_close(x, expect, rtol=0, atol=1e-10)


def test_ddim_eta0_is_deterministic_and_ignores_the_generator() -> None:
    sch = NoiseSchedule("linear", 1000)
    oracle = GaussianOracle(sch, 0.3, 0.5)
    xT = torch.randn(8, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    a = sample(oracle, DDIMSampler(sch, 20), xT.shape, torch.Generator().manual_seed(1), x_T=xT)
    b = sample(oracle, DDIMSampler(sch, 20), xT.shape, torch.Generator().manual_seed(2), x_T=xT)
    assert torch.equal(a, b)
    c = sample(oracle, DDIMSampler(sch, 20, eta=1.0), xT.shape, torch.Generator().manual_seed(1), x_T=xT)
    assert not torch.equal(a, c)


@pytest.mark.parametrize(
    "make, tol",
    [
        (lambda s: DDPMSampler(s, None, clip_sample=None), 0.03),
        (lambda s: DDIMSampler(s, 1000, clip_sample=None), 0.03),
        (lambda s: DDPMSampler(s, 100, clip_sample=None, variance="fixed_large"), 0.05),
        # few steps: the fixed variances and the ODE discretisation shrink the spread a little
        (lambda s: DDPMSampler(s, 100, clip_sample=None), 0.12),
        (lambda s: DDIMSampler(s, 50, clip_sample=None), 0.12),
        (lambda s: DDIMSampler(s, 50, clip_sample=None, eta=1.0), 0.15),
    ],
    ids=["ddpm1000", "ddim1000", "ddpm100-large", "ddpm100", "ddim50", "ddim50-eta1"],
)
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_oracle_samples_have_the_data_statistics(make, tol, kind) -> None:
    sch = NoiseSchedule(kind, 1000)
    mu, s = 0.3, 0.4
    x = sample(
        GaussianOracle(sch, mu, s),
        make(sch),
        (4000, 1, 2, 2),
        torch.Generator().manual_seed(0),
        dtype=torch.float64,
    )
    assert abs(float(x.mean()) - mu) < 0.015
    assert abs(float(x.std()) / s - 1) < tol


def test_ddim_converges_with_steps() -> None:
    sch = NoiseSchedule("linear", 1000)
    errs = []
    for n in (20, 100, 500):
        x = sample(
            GaussianOracle(sch, 0.3, 0.4),
            DDIMSampler(sch, n, clip_sample=None),
            (4000, 1, 1, 1),
            torch.Generator().manual_seed(0),
            dtype=torch.float64,
        )
        errs.append(abs(float(x.std()) - 0.4))
    assert errs[0] > errs[1] > errs[2]


def test_sampling_is_reproducible_and_seed_dependent() -> None:
    sch = NoiseSchedule("linear", 1000)
    oracle = GaussianOracle(sch, 0.0, 0.5)
    runs = [
        sample(oracle, DDPMSampler(sch, 10), (2, 1, 4, 4), torch.Generator().manual_seed(k))
        for k in (5, 5, 6)
    ]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_with_a_cpu_generator() -> None:
    sch = NoiseSchedule("linear", 1000)
    oracle = GaussianOracle(sch, 0.1, 0.5)
    a = sample(oracle, DDPMSampler(sch, 20), (4, 1, 8, 8), torch.Generator().manual_seed(0))
    b = sample(oracle, DDPMSampler(sch, 20), (4, 1, 8, 8), torch.Generator().manual_seed(0), device="cuda")
    torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-4)
    g = torch.Generator("cuda").manual_seed(0)
    c = sample(oracle, DDIMSampler(sch, 20, eta=1.0), (4, 1, 8, 8), g, device="cuda")
    g = torch.Generator("cuda").manual_seed(0)
    d = sample(oracle, DDIMSampler(sch, 20, eta=1.0), (4, 1, 8, 8), g, device="cuda")
    assert torch.equal(c, d)


def test_errors() -> None:
    sch = NoiseSchedule("linear", 100)
    with pytest.raises(UserError):
        DDIMSampler(sch, 200)
    with pytest.raises(UserError):
        DDIMSampler(sch, 10, eta=-1)
    with pytest.raises(UserError):
        DDPMSampler(sch, 10, variance="learned")
    with pytest.raises(UserError):
        DDPMSampler(sch, 10, prediction="sample")
    with pytest.raises(UserError):
        DDPMSampler(sch, 10).prev_timestep(5)
