"""Tests of the Fréchet distance (FID on local features)."""

from __future__ import annotations

import math

import pytest
import torch

from innverse.bench.frechet import fid_local, frechet_distance, gaussian_stats
from innverse.models.classifier import ConvNetClassifier, ResNetClassifier


def test_frechet_distance_closed_forms():
    torch.manual_seed(0)
    d = 5
    mu1, mu2 = torch.randn(d, dtype=torch.float64), torch.randn(d, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    # equal covariances: only the means count
    assert frechet_distance(mu1, eye, mu2, eye) == pytest.approx(float((mu1 - mu2).square().sum()), rel=1e-10)
    # diagonal covariances: sum of (sqrt(a) - sqrt(b))^2
    a, b = torch.rand(d).double() + 0.1, torch.rand(d).double() + 0.1
    ref = float(((a.sqrt() - b.sqrt()) ** 2).sum())
    assert frechet_distance(mu1, torch.diag(a), mu1, torch.diag(b)) == pytest.approx(ref, rel=1e-9)
    # a rotated pair: invariant under a common orthogonal change of basis
    q, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))
    m = torch.randn(d, d, dtype=torch.float64)
    s1, s2 = m @ m.T, q @ torch.diag(a) @ q.T
    val = frechet_distance(mu1, s1, mu2, s2)
    rot = frechet_distance(q @ mu1.double(), q @ s1 @ q.T, q @ mu2.double(), q @ s2 @ q.T)
    assert val == pytest.approx(rot, rel=1e-8) and math.isfinite(val)


def test_gaussian_stats_and_identical_sets():
    torch.manual_seed(1)
    f = torch.randn(1000, 3) * torch.tensor([1.0, 2.0, 3.0]) + 4
    mu, s = gaussian_stats(f)
    assert torch.allclose(mu, f.double().mean(0)) and torch.allclose(s, torch.cov(f.double().T))
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError):
        gaussian_stats(torch.randn(1, 3))


@pytest.mark.parametrize("cls", [ResNetClassifier, ConvNetClassifier])
def test_classifiers_shapes_and_fid_local(cls):
    torch.manual_seed(0)
    net = cls()
    x = torch.rand(6, 1, 28, 28)
    assert net(x).shape == (6, 10) and net.features(x).shape == (6, net.feature_dim)
    with pytest.raises(ValueError):
        net(torch.rand(2, 3, 28, 28))
    a, b = torch.rand(40, 1, 32, 32), torch.rand(40, 1, 32, 32)
    assert fid_local(a, a, net) == pytest.approx(0.0, abs=1e-6)
    assert fid_local(a, b * 0.2, net) > fid_local(a, b, net) >= 0.0
