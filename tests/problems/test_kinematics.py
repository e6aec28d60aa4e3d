"""Inverse kinematics: the forward model as published, and the ABC reference sampler."""

from __future__ import annotations

import math

import pytest
import torch

from innverse.errors import UserError
from innverse.problems import Kinematics
from innverse.problems.kinematics import LENGTHS, PRIOR_STD


def test_forward_by_hand() -> None:
    k = Kinematics()
    assert LENGTHS == (0.5, 0.5, 1.0) and PRIOR_STD == (0.25, 0.5, 0.5, 0.5)
    h = math.pi / 2
    x = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.3, h, 0.0, 0.0], [0.0, 0.0, h, -h]], dtype=torch.float64)
    y = k.forward(x)
    want = torch.tensor([[2.0, 0.0], [0.0, 2.3], [1.5, 0.5]], dtype=torch.float64)
    torch.testing.assert_close(y, want, atol=1e-12, rtol=0)
    j = k.joints(x)
    assert j.shape == (3, 4, 2)
    torch.testing.assert_close(j[:, -1], y)
    torch.testing.assert_close(j[1, 0], torch.tensor([0.0, 0.3], dtype=torch.float64))
    seg = (j[:, 1:] - j[:, :-1]).norm(dim=-1)
    torch.testing.assert_close(seg, torch.tensor(LENGTHS, dtype=torch.float64).expand(3, 3))


def test_prior_samples() -> None:
    k = Kinematics()
    x = k.sample_prior(200_000, torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(x.std(0), torch.tensor(PRIOR_STD, dtype=torch.float64), atol=3e-3, rtol=0)
    lp = k.log_prior(torch.zeros(4))
    assert abs(float(lp) - (-2 * math.log(2 * math.pi) - math.log(0.25 * 0.5**3))) < 1e-12


def test_abc_matches_plain_rejection_and_threshold() -> None:
    """The sampler (rail height integrated analytically) draws the same distribution as plain rejection."""
    k = Kinematics()
    y_star = torch.tensor([1.6, 0.75])
    eps = 0.15
    s, draws = k.abc_posterior(y_star, 6000, eps, torch.Generator().manual_seed(1))
    assert s.shape == (6000, 4) and draws > 0
    assert float((k.forward(s.double()) - y_star.double()).norm(dim=-1).max()) < eps
    x = k.sample_prior(1 << 21, torch.Generator().manual_seed(2), dtype=torch.float64)
    plain = x[(k.forward(x) - y_star.double()).norm(dim=-1) < eps]
    assert len(plain) > 3000
    torch.testing.assert_close(s.double().mean(0), plain.mean(0), atol=0.03, rtol=0)
    torch.testing.assert_close(s.double().std(0), plain.std(0), atol=0.03, rtol=0)


def test_abc_gives_up_on_unreachable_targets() -> None:
    with pytest.raises(UserError, match="accepted only"):
        Kinematics().abc_posterior(torch.tensor([-3.0, 0.0]), 10, 0.02, max_draws=1 << 18)
    with pytest.raises(UserError, match="2 values"):
        Kinematics().abc_posterior(torch.zeros(3), 10)
    with pytest.raises(UserError, match=r"\(\.\.\., 4\)"):
        Kinematics().forward(torch.zeros(2, 3))
