"""Couplings with sub-network constructors, conditioning channels, vector inputs and either half updated:
round trips to 1e-12 (float64), log-dets against the autograd Jacobian, conditioning that really acts."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from innverse.nn import (
    AdditiveCoupling,
    AffineCoupling,
    InvertibleCheckpoint,
    Sequential,
    assert_invertible,
    conv_subnet,
    jacobian_logdet,
    mlp_subnet,
)
from innverse.nn.base import declared_conditions


def _randomise(m: nn.Module, std: float = 0.3) -> nn.Module:
    """Sub-networks start as zero (identity coupling); give every parameter random values."""
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, std)
    return m


def _make(cls: type, shape: str, channels: int, cond_channels: int, update: str, split: int | None):
    sub = conv_subnet(6) if shape == "image" else mlp_subnet(12, layers=2)
    m = cls(channels, subnet_constructor=sub, cond_channels=cond_channels, update=update, split=split)
    return _randomise(m.double())


def _input(shape: str, channels: int, b: int = 2) -> torch.Tensor:
    if shape == "image":
        return torch.randn(b, channels, 4, 3, dtype=torch.float64)
    return torch.randn(b, channels, dtype=torch.float64)


CASES = [
    (cls, shape, cc, update, split)
    for cls in (AffineCoupling, AdditiveCoupling)
    for shape in ("image", "vector")
    for cc in (0, 3)
    for update, split in (("second", None), ("first", None), ("second", 1))
]


@pytest.mark.parametrize(("cls", "shape", "cc", "update", "split"), CASES)
def test_roundtrip_and_logdet(cls: type, shape: str, cc: int, update: str, split: int | None) -> None:
    torch.manual_seed(1)
    channels = 5
    m = _make(cls, shape, channels, cc, update, split)
    x = _input(shape, channels)
    cond = {}
    if cc:
        cond["cond"] = (
            torch.randn(2, cc, dtype=torch.float64)
            if shape == "vector"
            else torch.randn(2, cc, 4, 3, dtype=torch.float64)
        )
    assert_invertible(m, x, 1e-12, **cond)
    y, ld = m(x, **cond)
    torch.testing.assert_close(ld, jacobian_logdet(m, x, **cond), atol=1e-9, rtol=0)
    if cls is AffineCoupling:
        assert float(ld.detach().abs().min()) > 1e-3  # not a vacuous check
    # the fixed part passes unchanged, the other is changed
    k = m.split
    fixed = (slice(None), slice(None, k)) if update == "second" else (slice(None), slice(k, None))
    moved = (slice(None), slice(k, None)) if update == "second" else (slice(None), slice(None, k))
    assert torch.equal(y[fixed], x[fixed])
    assert float((y[moved] - x[moved]).detach().abs().max()) > 1e-3


@pytest.mark.parametrize("cls", [AffineCoupling, AdditiveCoupling])
@pytest.mark.parametrize("shape", ["image", "vector"])
def test_conditioning_changes_the_output_and_gets_gradients(cls: type, shape: str) -> None:
    torch.manual_seed(2)
    m = _make(cls, shape, 4, 2, "second", None)
    x = _input(shape, 4)
    c1 = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    c2 = c1.detach() + 1.0
    y1, _ = m(x, cond=c1)
    y2, _ = m(x, cond=c2)
    assert float((y1 - y2).detach().abs().max()) > 1e-3
    # inverting with the wrong condition does not give x back
    assert float((m.inverse(y1, cond=c2) - x).detach().abs().max()) > 1e-3
    y1.sum().backward()
    assert c1.grad is not None and float(c1.grad.abs().max()) > 0


def test_image_cond_vector_broadcasts_like_a_constant_map() -> None:
    torch.manual_seed(3)
    m = _make(AffineCoupling, "image", 4, 2, "second", None)
    x = _input("image", 4)
    c = torch.randn(2, 2, dtype=torch.float64)
    y_vec, ld_vec = m(x, cond=c)
    y_map, ld_map = m(x, cond=c[:, :, None, None].expand(-1, -1, 4, 3))
    assert torch.equal(y_vec, y_map) and torch.equal(ld_vec, ld_map)


def test_conditioning_errors() -> None:
    m = AffineCoupling(4, subnet_constructor=mlp_subnet(8), cond_channels=3)
    x = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="needs a 'cond' tensor"):
        m(x)
    with pytest.raises(ValueError, match=re.escape("(2, 2)")):
        m(x, cond=torch.zeros(2, 2))
    with pytest.raises(ValueError, match=re.escape("(3, 3)")):
        m(x, cond=torch.zeros(3, 3))
    img = AffineCoupling(4, 8, cond_channels=1)
    with pytest.raises(ValueError, match="spatial size"):
        img(torch.zeros(1, 4, 4, 4), cond=torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=re.escape("(2, 4, 3)")):
        AffineCoupling(4, 8)(torch.zeros(2, 4, 3))


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        AffineCoupling(4)
    with pytest.raises(ValueError, match="exactly one"):
        AffineCoupling(4, 8, subnet_constructor=mlp_subnet(8))
    with pytest.raises(ValueError, match="split"):
        AdditiveCoupling(4, 8, split=4)
    with pytest.raises(ValueError, match="update"):
        AdditiveCoupling(4, 8, update="both")
    with pytest.raises(ValueError, match="hidden"):
        mlp_subnet(0)


def test_plain_coupling_ignores_cond_and_declares_it() -> None:
    torch.manual_seed(4)
    m = _make(AffineCoupling, "vector", 4, 0, "second", None)
    x = _input("vector", 4)
    assert torch.equal(m(x)[0], m(x, cond=torch.randn(2, 7))[0])
    assert AffineCoupling.conditions == ("cond",) and AdditiveCoupling.conditions == ("cond",)
    assert declared_conditions(m) == ()
    assert declared_conditions(AdditiveCoupling(4, 8, cond_channels=1)) == ("cond",)


def test_hidden_shorthand_is_the_conv_subnet() -> None:
    torch.manual_seed(5)
    a = AffineCoupling(4, 8)
    torch.manual_seed(5)
    b = AffineCoupling(4, subnet_constructor=conv_subnet(8))
    assert [k for k in a.state_dict()] == [k for k in b.state_dict()]
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_mlp_subnet_starts_as_identity() -> None:
    m = AffineCoupling(6, subnet_constructor=mlp_subnet(16), cond_channels=2)
    x = torch.randn(3, 6)
    y, ld = m(x, cond=torch.randn(3, 2))
    assert torch.equal(y, x) and torch.equal(ld, torch.zeros(3))


def test_checkpoint_gradients_with_conditioning() -> None:
    """InvertibleCheckpoint reproduces plain backprop through conditional couplings (x, cond and params)."""
    torch.manual_seed(6)
    blocks = [
        _make(AffineCoupling, "vector", 5, 3, "second", None),
        _make(AffineCoupling, "vector", 5, 3, "first", None),
        _make(AdditiveCoupling, "vector", 5, 3, "second", 2),
    ]
    seq = Sequential(*blocks)
    x0 = torch.randn(4, 5, dtype=torch.float64)
    c0 = torch.randn(4, 3, dtype=torch.float64)
    w = torch.randn(4, 5, dtype=torch.float64)

    def grads(module: nn.Module) -> list[torch.Tensor]:
        x = x0.clone().requires_grad_(True)
        c = c0.clone().requires_grad_(True)
        module.zero_grad()
        y, ld = module(x, cond=c)
        ((y * w).sum() + ld.sum()).backward()
        return [x.grad, c.grad] + [p.grad for p in seq.parameters()]

    plain = grads(seq)
    saved = grads(InvertibleCheckpoint(seq))
    for a, b in zip(plain, saved, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
