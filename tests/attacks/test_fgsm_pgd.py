"""FGSM and PGD: the closed-form gradient of a linear classifier, the budget, and torchattacks' PGD."""

from __future__ import annotations

import pytest
import torch

from innverse.attacks import Goal, fgsm, pgd
from innverse.attacks.base import predict, succeeded
from innverse.errors import UserError

from ._models import Linear, images


def _ce_gradient(net: Linear, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d CE / d x of a linear model: W^T (softmax - onehot)."""
    p = torch.softmax(net(x), 1)
    p[torch.arange(len(y)), y] -= 1
    return (p @ net.weight).reshape(x.shape)


def test_fgsm_is_one_signed_gradient_step():
    net = Linear(seed=1)
    x = images(6)
    y = predict(net, x).argmax(1)
    e = 8 / 255
    want = (x + e * _ce_gradient(net, x, y).sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(net, x, Goal(y), e).adversarial, want)
    t = (y + 1) % 10
    want_t = (x - e * _ce_gradient(net, x, t).sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(net, x, Goal(t, True), e).adversarial, want_t)


def test_pgd_stays_in_budget_and_beats_fgsm():
    net = Linear(scale=0.03, seed=2)
    x = images(40, seed=3)
    y = predict(net, x).argmax(1)
    e = 4 / 255
    r = pgd(net, x, Goal(y), e, steps=10)
    d = r.adversarial - x
    assert float(d.abs().max()) <= e + 1e-6 and float(r.adversarial.min()) >= 0
    asr_pgd = float(succeeded(predict(net, r.adversarial), Goal(y)).float().mean())
    asr_fgsm = float(succeeded(predict(net, fgsm(net, x, Goal(y), e).adversarial), Goal(y)).float().mean())
    assert asr_pgd >= asr_fgsm and asr_pgd > 0.5
    # seeded: the same seed gives the same result, another seed another start
    assert torch.equal(
        pgd(net, x, Goal(y), e, steps=2, seed=5).adversarial,
        pgd(net, x, Goal(y), e, steps=2, seed=5).adversarial,
    )
    with pytest.raises(UserError):
        pgd(net, x, Goal(y), e, steps=0)


def test_pgd_equals_torchattacks_without_random_start():
    torchattacks = pytest.importorskip("torchattacks")
    net = Linear(scale=0.05, seed=4)
    x = images(8, seed=5)
    y = predict(net, x).argmax(1)
    e = 8 / 255
    theirs = torchattacks.PGD(net, eps=e, alpha=e / 4, steps=7, random_start=False)(x, y)
    ours = pgd(net, x, Goal(y), e, steps=7, random_start=False).adversarial
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)
