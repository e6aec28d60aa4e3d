"""Margin PGD with restarts: on a linear classifier it breaks exactly the images the budget allows."""

from __future__ import annotations

import pytest
import torch

from innverse.attacks import Goal, pgd, pgd_margin
from innverse.attacks.base import predict, succeeded
from innverse.attacks.methods import run_attack
from innverse.attacks.pgd_margin import margin_loss
from innverse.errors import UserError

from ._models import Linear, images


def _breakable(net: Linear, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Closed form for a linear model away from the [0, 1] bounds: some class j gains the margin
    ``z_j - z_y + eps |w_j - w_y|_1 > 0``."""
    w = net.weight.double()
    z = predict(net, x).double()
    best = torch.full((len(y),), float("-inf"), dtype=torch.float64)
    for j in range(w.shape[0]):
        gain = z[:, j] - z.gather(1, y[:, None])[:, 0] + eps * (w[j] - w[y]).abs().sum(1)
        gain[y == j] = float("-inf")
        best = torch.maximum(best, gain)
    return best > 0


def test_breaks_exactly_what_the_budget_allows_on_a_linear_model():
    net = Linear(scale=0.02, seed=7)
    x = images(60, seed=8)
    y = predict(net, x).argmax(1)
    eps = 2 / 255
    allowed = _breakable(net, x, y, eps)
    assert 0.2 < float(allowed.float().mean()) < 0.95  # the test separates the two sets
    r = pgd_margin(net, x, Goal(y), eps, steps=60, restarts=2)
    ok = succeeded(predict(net, r.adversarial), Goal(y))
    assert not bool((ok & ~allowed).any())  # nothing outside the ball can be claimed
    assert torch.equal(ok, allowed)  # and everything the ball allows is found
    d = r.adversarial - x
    assert float(d.abs().max()) <= eps + 1e-6 and float(r.adversarial.min()) >= 0
    assert torch.equal(r.adversarial, torch.round(r.adversarial * 255) / 255)  # 8-bit results
    # at least as strong as plain PGD with the same number of steps
    p = pgd(net, x, Goal(y), eps, steps=60)
    plain = succeeded(predict(net, torch.round(p.adversarial * 255) / 255), Goal(y))
    assert int(ok.sum()) >= int(plain.sum())
    # images that fell at once stopped at once
    assert int(r.iterations[ok].min()) >= 1 and int(r.iterations[~ok].min()) == 60 * 3


def test_targeted_margin_and_method_name():
    net = Linear(scale=0.05, seed=3)
    x = images(10, seed=4)
    t = (predict(net, x).argmax(1) + 3) % 10
    z = predict(net, x)
    m = margin_loss(z, Goal(t, True))
    assert torch.equal(m > 0, z.argmax(1) == t)
    r = run_attack("pgd-margin", net, x, Goal(t, True), 16 / 255, steps=30)
    assert float(succeeded(predict(net, r.adversarial), Goal(t, True)).float().mean()) > 0.5
    with pytest.raises(UserError):
        pgd_margin(net, x, Goal(t, True), 8 / 255, restarts=-1)
