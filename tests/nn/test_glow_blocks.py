"""ActNorm and the 1x1 convolution on vectors, and the fixed permutations (shuffle / reverse)."""

from __future__ import annotations

import re

import pytest
import torch

from innverse.nn import ActNorm, Invertible1x1Conv, Permute, assert_invertible, jacobian_logdet


def test_actnorm_on_vectors() -> None:
    torch.manual_seed(0)
    a = ActNorm(3).double()
    x = torch.randn(64, 3, dtype=torch.float64) * torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64) + 1.0
    y, _ = a(x)  # data-dependent initialisation in training mode
    torch.testing.assert_close(y.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    ones = torch.ones(3, dtype=torch.float64)
    torch.testing.assert_close(y.std(0, unbiased=False), ones, atol=1e-5, rtol=0)
    xs = x[:3]
    assert_invertible(a, xs, 1e-12)
    torch.testing.assert_close(a(xs)[1], jacobian_logdet(a, xs), atol=1e-10, rtol=0)


def test_actnorm_vector_and_image_agree() -> None:
    """A vector is a 1x1 image: same values and log-det."""
    torch.manual_seed(1)
    a = ActNorm(4).double()
    a.initialize(torch.randn(8, 4, 3, 3, dtype=torch.float64) * 2)
    v = torch.randn(5, 4, dtype=torch.float64)
    yv, ldv = a(v)
    yi, ldi = a(v[:, :, None, None])
    assert torch.equal(yv, yi[:, :, 0, 0]) and torch.equal(ldv, ldi)


def test_1x1_on_vectors() -> None:
    torch.manual_seed(2)
    m = Invertible1x1Conv(5).double()
    with torch.no_grad():
        m.log_s.add_(torch.linspace(-0.4, 0.6, 5, dtype=torch.float64))
        m.upper.add_(0.3 * torch.randn(5, 5, dtype=torch.float64))
    x = torch.randn(3, 5, dtype=torch.float64)
    assert_invertible(m, x, 1e-12)
    ld = m(x)[1]
    torch.testing.assert_close(ld, jacobian_logdet(m, x), atol=1e-10, rtol=0)
    assert float(ld.detach().abs().min()) > 1e-3
    yi, _ = m(x[:, :, None, None])
    torch.testing.assert_close(m(x)[0], yi[:, :, 0, 0], atol=1e-14, rtol=0)


@pytest.mark.parametrize("mode", ["shuffle", "reverse"])
@pytest.mark.parametrize("shape", [(2, 6), (2, 6, 3, 2)])
def test_permute(mode: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(3)
    p = Permute(6, mode=mode, seed=4).double()
    x = torch.randn(*shape, dtype=torch.float64)
    assert_invertible(p, x, 0.0)
    y, ld = p(x)
    assert torch.equal(ld, torch.zeros(2, dtype=torch.float64))
    assert torch.equal(jacobian_logdet(p, x), torch.zeros(2, dtype=torch.float64))
    assert sorted(p.perm.tolist()) == list(range(6))
    if mode == "reverse":
        assert torch.equal(y, x.flip(1))
    else:
        assert not torch.equal(p.perm, torch.arange(6))


def test_permute_seeded_and_saved() -> None:
    a, b = Permute(10, seed=7), Permute(10, seed=7)
    assert torch.equal(a.perm, b.perm)
    c = Permute(10, seed=8)
    c.load_state_dict(a.state_dict())
    assert torch.equal(c.perm, a.perm)


def test_glow_blocks_reject_other_ranks() -> None:
    for m in (ActNorm(3), Invertible1x1Conv(3), Permute(3)):
        with pytest.raises(ValueError, match=re.escape("(2, 3, 4)")):
            m(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="mode"):
        Permute(3, mode="random")
