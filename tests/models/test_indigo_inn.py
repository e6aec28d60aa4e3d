"""Tests of the INDigo INN: exact inverse, log-det, the untrained INN is the block average."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from innverse.models.indigo_inn import INDigoINN
from innverse.nn.testing import assert_invertible, jacobian_logdet, randomise_


@pytest.mark.parametrize("scale,channels", [(2, 1), (4, 1), (4, 3)])
def test_inverse_is_exact_in_float64(scale, channels):
    torch.manual_seed(0)
    net = randomise_(INDigoINN(channels=channels, scale=scale, steps=2, hidden=8, blocks=1), std=0.1).double()
    x = torch.rand(2, channels, 16, 16, dtype=torch.float64)
    assert_invertible(net, x, tol=1e-12)
    c, details = net.analysis(x)
    assert c.shape == (2, channels, 16 // scale, 16 // scale) and len(details) == net.levels
    assert (net.synthesis(c, details) - x).abs().max() < 1e-12


def test_logdet_matches_autograd():
    torch.manual_seed(1)
    net = randomise_(INDigoINN(channels=1, scale=4, steps=1, hidden=4, blocks=1), std=0.2).double()
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    assert torch.allclose(net(x)[1], jacobian_logdet(net, x), atol=1e-9)


def test_untrained_coarse_is_the_block_average_and_merge_keeps_y():
    torch.manual_seed(2)
    net = INDigoINN(channels=1, scale=4, steps=2, hidden=8).double()
    x = torch.rand(3, 1, 32, 32, dtype=torch.float64)
    assert torch.allclose(net.coarse(x), F.avg_pool2d(x, 4), atol=1e-12)
    randomise_(net, std=0.2)
    y = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    merged = net.merge(y, x)
    assert torch.allclose(net.coarse(merged), y, atol=1e-12)  # the merged image's coarse part is y
    assert torch.allclose(net.analysis(merged)[1][0], net.analysis(x)[1][0], atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError):
        INDigoINN(scale=3)
    with pytest.raises(ValueError):
        INDigoINN(scale=4).analysis(torch.rand(1, 1, 30, 30))
