"""Tests of :mod:`innverse.diffusion.schedules`."""

from __future__ import annotations

import math

import pytest
import torch

from innverse.diffusion.schedules import NoiseSchedule, cosine_betas, linear_betas, respace
from innverse.errors import UserError


def test_linear_and_cosine_betas() -> None:
    b = linear_betas(1000)
    assert b.dtype == torch.float64 and b[0] == 1e-4 and abs(float(b[-1]) - 0.02) < 1e-15
    c = cosine_betas(1000)
    assert c.shape == (1000,) and float(c.max()) <= 0.999 and float(c.min()) > 0
    # ᾱ of the cosine schedule follows cos²((t/T + s)/(1 + s) π/2) / f(0)
    ab = torch.cumprod(1 - c, 0)
    s, T = 0.008, 1000
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 100, 500, 900):
        assert abs(float(ab[t]) - f(t + 1) / f(0)) < 1e-12


def test_add_noise_and_velocity_round_trip() -> None:
    sch = NoiseSchedule("cosine", 1000)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64)
    eps = torch.randn(4, 1, 8, 8, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 10, 500, 999])
    xt = sch.add_noise(x0, eps, t)
    ab = sch.alphas_cumprod[t].view(4, 1, 1, 1)
    torch.testing.assert_close(xt, ab.sqrt() * x0 + (1 - ab).sqrt() * eps, rtol=0, atol=1e-14)
    for pred, out in (("epsilon", eps), ("v_prediction", sch.velocity(x0, eps, t))):
        for i in range(4):
            x0h, epsh = sch.split(out[i : i + 1], xt[i : i + 1], int(t[i]), pred)
            torch.testing.assert_close(x0h, x0[i : i + 1], rtol=0, atol=1e-8 if t[i] == 999 else 1e-11)
            torch.testing.assert_close(epsh, eps[i : i + 1], rtol=0, atol=1e-11)


def test_respace() -> None:
    assert respace(1000, 50).tolist() == list(range(980, -1, -20))
    assert respace(1000, 1000).tolist() == list(range(999, -1, -1))
    tr = respace(1000, 3, "trailing").tolist()
    assert tr[0] == 999 and tr == sorted(tr, reverse=True) and len(set(tr)) == 3
    ls = respace(1000, 5, "linspace").tolist()
    assert ls[0] == 999 and ls[-1] == 0 and len(ls) == 5
    for spacing in ("leading", "trailing", "linspace"):
        for steps in (1, 7, 50, 333, 1000):
            ts = respace(1000, steps, spacing)
            assert len(ts) == steps and (ts[:-1] > ts[1:]).all() and ts.min() >= 0 and ts.max() <= 999
    with pytest.raises(UserError):
        respace(1000, 0)
    with pytest.raises(UserError):
        respace(1000, 10, "quadratic")


def test_config_round_trip_and_errors() -> None:
    s = NoiseSchedule("linear", 200, 1e-4, 0.03)
    assert NoiseSchedule.from_config(s.config) == s
    assert torch.equal(NoiseSchedule.from_config(s.config).alphas_cumprod, s.alphas_cumprod)
    for bad in ({"kind": "sigmoid"}, {"T": 0}, {"beta_start": 0.5, "beta_end": 0.1}):
        with pytest.raises(UserError):
            NoiseSchedule(**bad)
    with pytest.raises(UserError):
        NoiseSchedule.from_config({"kind": "linear", "gamma": 1})


def test_matches_diffusers_alphas() -> None:
    diffusers = pytest.importorskip("diffusers")
    for kind, name in (("linear", "linear"), ("cosine", "squaredcos_cap_v2")):
        ref = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=name)
        ours = NoiseSchedule(kind, 1000)
        torch.testing.assert_close(ours.alphas_cumprod.float(), ref.alphas_cumprod, rtol=1e-5, atol=1e-7)
