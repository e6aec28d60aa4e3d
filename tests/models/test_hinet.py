"""Tests of the HiNet hiding network: exact reveal with z = r, log-det against autograd, shapes."""

from __future__ import annotations

import pytest
import torch

from innverse.models.hinet import HiNet, quantize_8bit
from innverse.nn.testing import randomise_


@pytest.mark.parametrize("n", [1, 4])
def test_reveal_with_r_is_exact(n):
    torch.manual_seed(0)
    net = randomise_(HiNet(secrets=n, blocks=2, hidden=8), std=0.05).double()
    cover = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    secrets = [torch.rand(2, 3, 8, 8, dtype=torch.float64) for _ in range(n)]
    with torch.no_grad():
        stego, r = net.hide(cover, secrets)
        cover2, secrets2 = net.reveal(stego, r)
    assert stego.shape == cover.shape and r.shape == (2, 12 * n, 4, 4)
    assert (cover2 - cover).abs().max() < 1e-12
    assert max(float((a - b).abs().max()) for a, b in zip(secrets, secrets2, strict=True)) < 1e-12
    z = net.reveal(stego, generator=torch.Generator().manual_seed(1))[1]
    assert len(z) == n and z[0].shape == cover.shape


def test_logdet_matches_autograd():
    torch.manual_seed(1)
    net = randomise_(HiNet(secrets=1, blocks=2, hidden=4), std=0.2).double()
    cover = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    secret = torch.rand(1, 3, 4, 4, dtype=torch.float64)

    def f(v):
        c, s = v[:48].reshape(1, 3, 4, 4), v[48:].reshape(1, 3, 4, 4)
        stego, r = net.hide(c, [s])
        return torch.cat((stego.flatten(), r.flatten()))

    jac = torch.autograd.functional.jacobian(f, torch.cat((cover.flatten(), secret.flatten())))
    ref = torch.linalg.slogdet(jac)[1]
    assert torch.allclose(net.log_det(cover, [secret]), ref.reshape(1), atol=1e-9)


def test_untrained_is_identity_on_the_cover_and_quantisation():
    net = HiNet(secrets=1, blocks=2, hidden=8)
    cover, secret = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    stego, _ = net.hide(cover, [secret])
    assert torch.allclose(stego, cover, atol=1e-6)  # zero-initialised couplings
    x = torch.tensor([0.1234, 1.2, -0.1], requires_grad=True)
    q = quantize_8bit(x)
    assert torch.allclose(q, torch.tensor([31 / 255, 1.0, 0.0]))
    q.sum().backward()
    assert torch.equal(x.grad, torch.ones(3))  # straight through
    with pytest.raises(ValueError):
        net.hide(cover, [secret, secret])
    with pytest.raises(ValueError):
        net.hide(torch.rand(1, 3, 7, 8), [secret])


@pytest.mark.parametrize("n", [1, 4])
def test_as_a_flow(n):
    from innverse.models.protocols import Flow
    from innverse.nn.testing import assert_invertible, jacobian_logdet

    torch.manual_seed(2)
    net = randomise_(HiNet(secrets=n, blocks=2, hidden=4), std=0.1).double().eval()
    assert isinstance(net, Flow)
    side = 4 if n == 1 else 2  # the Jacobian check grows with the square of the input size
    x = torch.rand(2, 3 * (1 + n), side, side, dtype=torch.float64)
    y, ld = net(x)
    assert y.shape == x.shape and not y.requires_grad
    stego, r = net.hide(x[:, :3], list(x[:, 3:].split(3, dim=1)))
    assert torch.allclose(y[:, :3], stego, atol=1e-12)
    assert_invertible(net, x, 1e-12)
    torch.testing.assert_close(ld, jacobian_logdet(net, x), atol=1e-9, rtol=0)
    with pytest.raises(ValueError, match="stacked"):
        net(torch.rand(1, 3, 4, 4, dtype=torch.float64))
