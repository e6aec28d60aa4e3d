"""The 8-modes toy: the published layout, exact posterior samples and densities."""

from __future__ import annotations

import math

import pytest
import torch

from innverse.errors import UserError
from innverse.problems import EightModes, get_problem
from innverse.problems.eight_modes import LABEL_MAPS, MODE_STD, VERTICES


def test_published_layout() -> None:
    v = torch.tensor(VERTICES)
    # a regular octagon: all vertices at radius sqrt(1 + 2.4142^2), 45 degrees apart
    r = v.norm(dim=1)
    assert torch.allclose(r, torch.full((8,), math.sqrt(1 + 2.4142**2)))
    ang = torch.sort(torch.remainder(torch.atan2(v[:, 1], v[:, 0]), 2 * math.pi)).values
    torch.testing.assert_close(ang.diff(), torch.full((7,), math.pi / 4), atol=1e-4, rtol=0)
    torch.testing.assert_close(ang[0], torch.tensor(math.pi / 8), atol=1e-4, rtol=0)
    assert LABEL_MAPS["some"] == (0, 0, 0, 0, 1, 1, 2, 3) and MODE_STD == 0.2


def test_joint_samples_match_the_mixture() -> None:
    p = EightModes("some")
    x, lab = p.sample_joint(80_000, torch.Generator().manual_seed(0))
    assert x.shape == (80_000, 2) and lab.dtype == torch.int64
    # label frequencies: 4/8, 2/8, 1/8, 1/8
    freq = torch.bincount(lab, minlength=4).double() / len(lab)
    want = torch.tensor([0.5, 0.25, 0.125, 0.125], dtype=torch.float64)
    torch.testing.assert_close(freq, want, atol=0.01, rtol=0)
    # each point lies near a mode of its own label
    d = ((x[:, None, :].double() - p.centres) ** 2).sum(-1)
    nearest = d.argmin(1)
    assert float((p.mode_label[nearest] == lab).double().mean()) > 0.999


def test_posterior_samples_and_density() -> None:
    p = EightModes("some")
    g = torch.Generator().manual_seed(1)
    s = p.posterior_sample(torch.tensor([0, 3]), 20_000, g)
    assert s.shape == (2, 20_000, 2)
    # label 3 is the single mode (-2.4142, -1): mean and spread
    centre = torch.tensor([-2.4142, -1.0], dtype=torch.float64)
    torch.testing.assert_close(s[1].double().mean(0), centre, atol=0.01, rtol=0)
    spread = torch.full((2,), 0.2, dtype=torch.float64)
    torch.testing.assert_close(s[1].double().std(0), spread, atol=0.005, rtol=0)
    # label 0 covers the first four modes equally
    d = ((s[0][:, None, :].double() - p.centres) ** 2).sum(-1).argmin(1)
    counts = torch.bincount(d, minlength=8).double() / 20_000
    torch.testing.assert_close(counts[:4], torch.full((4,), 0.25, dtype=torch.float64), atol=0.015, rtol=0)
    assert float(counts[4:].sum()) < 1e-3
    # the closed-form density integrates to one (grid quadrature) and matches a single Gaussian
    lin = torch.linspace(-4, 4, 401, dtype=torch.float64)
    gx, gy = torch.meshgrid(lin, lin, indexing="ij")
    grid = torch.stack((gx, gy), -1).reshape(1, -1, 2)
    for k in p.label_values:
        mass = p.log_posterior(grid, torch.tensor([k])).exp().sum() * (lin[1] - lin[0]) ** 2
        assert abs(float(mass) - 1.0) < 1e-3
    pt = torch.tensor([[-2.4142, -1.0]], dtype=torch.float64)
    assert abs(float(p.log_posterior(pt, torch.tensor([3]))) - (-math.log(2 * math.pi * 0.04))) < 1e-9


def test_label_probabilities() -> None:
    p = EightModes("some")
    probs = p.label_probabilities(torch.tensor(VERTICES))
    assert probs.shape == (8, 8)
    torch.testing.assert_close(probs.sum(1), torch.ones(8, dtype=torch.float64))
    assert torch.equal(probs.argmax(1), p.mode_label)
    assert float(probs[:, 4:].abs().max()) == 0.0  # labels 4-7 do not occur in "some"


def test_bad_labels() -> None:
    p = get_problem("8modes", labels="some")
    with pytest.raises(UserError, match="do not occur"):
        p.posterior_sample(torch.tensor([5]), 3)
    with pytest.raises(UserError, match="integer"):
        p.one_hot(torch.tensor([0.5]))
    with pytest.raises(UserError, match="label map"):
        EightModes("many")
    with pytest.raises(UserError, match="unknown problem"):
        get_problem("nope")
    assert EightModes("all").label_values == list(range(8))
