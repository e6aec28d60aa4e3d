"""Tests of DURRNet's pieces: the wavelet prior's exact transform, the exclusion gradient, shapes."""

from __future__ import annotations

import pytest
import torch

from innverse.models.durrnet import (
    CONFIGS,
    DURRNet,
    WaveletProx,
    _exclusion_grads,
    durrnet_config,
    haar_bands,
)
from innverse.models.unet_separator import UNetSeparator
from innverse.nn.testing import randomise_


def test_wavelet_prior_transform_is_exactly_invertible_and_starts_as_haar():
    torch.manual_seed(0)
    p = WaveletProx(4, steps=2, hidden=8).double()
    z = torch.rand(2, 4, 8, 8, dtype=torch.float64)
    c, d = p.transform(z)
    assert torch.allclose(torch.cat((c, d), 1), haar_bands(z), atol=1e-14)  # zero-initialised lifting
    randomise_(p, std=0.2)
    c, d = p.transform(z)
    assert (p.inverse_transform(c, d) - z).abs().max() < 1e-12
    # zero thresholds make the proximal operator the identity (exact reconstruction)
    with torch.no_grad():
        p.theta.fill_(-80.0)
    assert (p(z) - z).abs().max() < 1e-12
    assert p(torch.rand(1, 4, 7, 9, dtype=torch.float64)).shape == (1, 4, 7, 9)


def test_exclusion_gradient_matches_autograd():
    torch.manual_seed(1)
    t = torch.rand(2, 3, 8, 10, dtype=torch.float64, requires_grad=True)
    r = torch.rand(2, 3, 8, 10, dtype=torch.float64, requires_grad=True)
    bt, br = haar_bands(t), haar_bands(r)
    e = (bt[:, 3:] * br[:, 3:]).abs().sum()
    gt, gr = torch.autograd.grad(e, (t, r))
    et, er = _exclusion_grads(t.detach(), r.detach())
    assert torch.allclose(gt, et, atol=1e-12) and torch.allclose(gr, er, atol=1e-12)


@pytest.mark.parametrize("flags", [{}, {"lifting": False}, {"exclusion": False}])
def test_durrnet_shapes_and_sizes(flags):
    torch.manual_seed(0)
    net = DURRNet(**durrnet_config("lite"), **flags)
    x = torch.rand(1, 3, 30, 34)
    t, r = net(x)
    assert t.shape == r.shape == x.shape and torch.isfinite(t).all()
    assert set(CONFIGS) == {"lite", "full"}
    with pytest.raises(ValueError):
        net(torch.rand(1, 1, 8, 8))
    u = UNetSeparator(29)
    n_d = sum(p.numel() for p in DURRNet(**durrnet_config("lite")).parameters())
    n_u = sum(p.numel() for p in u.parameters())
    assert abs(n_u - n_d) / n_d < 0.05  # the baseline has about the same parameter count
    t, r = u(x)
    assert torch.equal(t, x) and torch.equal(r, torch.zeros_like(x))  # zero-initialised output layer
