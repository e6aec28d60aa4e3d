"""innverse.nn.lifting: declared conditioning, the part-wise interface, LiftingChain."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from innverse.nn import (
    LiftingChain,
    LiftingStep,
    Sequential,
    assert_invertible,
    conditions_of,
    declared_conditions,
    jacobian_logdet,
)
from innverse.nn.base import select_conditions


def _conv(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, 5, 3, padding=1), nn.Tanh(), nn.Conv2d(5, cout, 3, padding=1))


class Recording(nn.Module):
    """Records the keywords it is called with; declares ``t`` and ``sigma``."""

    conditions = ("t", "sigma")

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = _conv(cin, cout)
        self.seen: list[set[str]] = []

    def forward(self, x: Tensor, **cond) -> Tensor:
        self.seen.append(set(cond))
        scale = 1.0 + torch.as_tensor(cond.get("sigma", 0.0), dtype=x.dtype).reshape(-1, 1, 1, 1)
        return self.net(x) * scale


class Undeclared(nn.Module):
    """Takes ``**cond`` but declares nothing: it must receive nothing."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.net = _conv(cin, cout)
        self.seen: list[set[str]] = []

    def forward(self, x: Tensor, **cond) -> Tensor:
        self.seen.append(set(cond))
        return self.net(x)


def test_networks_get_exactly_their_declared_keywords() -> None:
    torch.manual_seed(0)
    p, u = Recording(1, 3), Undeclared(3, 1)
    step = LiftingStep(p, u, coarse_channels=1).double()
    x = torch.randn(2, 4, 4, 4, dtype=torch.float64)
    step(x, sigma=0.3, other=1)
    step.inverse(step(x, sigma=0.3, t=2)[0], sigma=0.3, t=2)
    assert p.seen == [{"sigma"}, {"sigma", "t"}, {"sigma", "t"}]
    assert u.seen == [set(), set(), set()]
    assert declared_conditions(p) == ("t", "sigma") and declared_conditions(u) == ()
    assert conditions_of(step) == ("sigma", "t")
    assert conditions_of(Sequential(step, LiftingStep(_conv(1, 3), _conv(3, 1), 1))) == ("sigma", "t")


def test_conditioning_is_not_guessed_from_signatures() -> None:
    """A network whose forward names ``sigma`` but declares nothing is called without it."""

    class Named(nn.Module):
        def forward(self, x: Tensor, sigma: float = 7.0) -> Tensor:
            return x[:, :1].repeat(1, 3, 1, 1) * sigma

    step = LiftingStep(Named(), nn.Conv2d(3, 1, 1), coarse_channels=1).double()
    x = torch.randn(1, 4, 2, 2, dtype=torch.float64)
    y, _ = step(x, sigma=0.0)
    torch.testing.assert_close(y[:, 1:], x[:, 1:] - 7.0 * x[:, :1].repeat(1, 3, 1, 1))


def test_instance_declarations_and_bad_declarations() -> None:
    m = nn.Conv2d(1, 1, 1)
    m.conditions = ("cond",)
    assert declared_conditions(m) == ("cond",)
    m.conditions = "sigma"  # a string, not a tuple of names
    with pytest.raises(TypeError, match="tuple of keyword names"):
        declared_conditions(m)
    assert select_conditions(("sigma", "t"), {"t": 1, "x": 2}) == {"t": 1}


def test_parts_interface_equals_the_tensor_interface() -> None:
    torch.manual_seed(1)
    step = LiftingStep(Recording(2, 6), _conv(6, 2), coarse_channels=2).double()
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    y, _ = step(x, sigma=0.4)
    c, d = step.forward_parts(x[:, :2], x[:, 2:], sigma=0.4)
    assert torch.equal(torch.cat((c, d), 1), y)
    c0, d0 = step.inverse_parts(c, d, sigma=0.4)
    torch.testing.assert_close(torch.cat((c0, d0), 1), x, rtol=0, atol=1e-12)


def test_chain_equals_sequential_of_its_steps() -> None:
    torch.manual_seed(2)
    steps = [LiftingStep(Recording(1, 3), _conv(3, 1), coarse_channels=1) for _ in range(3)]
    chain = LiftingChain(*steps).double()
    seq = Sequential(*steps)
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    y, ld = chain(x, sigma=0.2)
    y_seq, ld_seq = seq(x, sigma=0.2)
    torch.testing.assert_close(y, y_seq, rtol=0, atol=1e-14)
    assert torch.equal(ld, ld_seq) and ld.shape == (2,)
    assert assert_invertible(chain, x, 1e-12, sigma=0.2) <= 1e-12
    torch.testing.assert_close(jacobian_logdet(chain, x[:, :, :3, :3], sigma=0.2), torch.zeros(2).double())
    assert len(chain) == 3 and chain.steps() == steps and isinstance(chain[1], LiftingStep)


def test_chain_rejects_what_it_cannot_carry() -> None:
    with pytest.raises(ValueError, match="at least one"):
        LiftingChain()
    with pytest.raises(TypeError, match="LiftingStep"):
        LiftingChain(nn.Identity())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="share coarse_channels"):
        LiftingChain(LiftingStep(_conv(1, 3), _conv(3, 1), 1), LiftingStep(_conv(2, 2), _conv(2, 2), 2))
    chain = LiftingChain(LiftingStep(_conv(1, 3), _conv(3, 1), 1))
    with pytest.raises(TypeError, match="coarse_channels=1"):
        chain.append(LiftingStep(_conv(2, 2), _conv(2, 2), 2))
    with pytest.raises(ValueError, match="coarse_channels=1"):
        chain(torch.zeros(1, 1, 4, 4))
