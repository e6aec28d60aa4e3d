"""The shared pieces of the attacks: the goal's loss and success test, the projection, 8-bit rounding."""

from __future__ import annotations

import pytest
import torch

from innverse.attacks.base import (
    Goal,
    adversarial_probability,
    attack_loss,
    check_eps,
    check_images,
    project,
    quantize,
    runner_up,
    succeeded,
)
from innverse.errors import UserError


def test_losses_are_the_textbook_ones():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 10, generator=g, dtype=torch.float64) * 3
    y = torch.tensor([0, 3, 9, 2, 2])
    p = torch.softmax(z, 1)
    py = p[torch.arange(5), y]
    torch.testing.assert_close(attack_loss(z, Goal(y, True)), -py.log())
    torch.testing.assert_close(attack_loss(z, Goal(y, False)), -(1 - py).log())
    # stable where 1 - p_y underflows in float64 arithmetic done naively
    big = torch.zeros(1, 10, dtype=torch.float64)
    big[0, 4] = 60.0
    v = attack_loss(big, Goal(torch.tensor([4]), False))
    assert torch.isfinite(v).all() and float(v) == pytest.approx(
        60 - torch.log(torch.tensor(9.0)).item(), rel=1e-9
    )


def test_success_probability_and_runner_up():
    z = torch.tensor([[0.0, 2.0, 1.0], [3.0, 0.0, 1.0]])
    y = torch.tensor([1, 1])
    assert succeeded(z, Goal(y, False)).tolist() == [False, True]
    assert succeeded(z, Goal(y, True)).tolist() == [True, False]
    assert runner_up(z, y).tolist() == [2, 0]
    p = torch.softmax(z, 1)
    torch.testing.assert_close(adversarial_probability(z, Goal(y, True)), p[:, 1])
    torch.testing.assert_close(adversarial_probability(z, Goal(y, False)), torch.stack([p[0, 2], p[1, 0]]))


def test_projection_and_rounding_keep_the_budget():
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (3, 1, 8, 8), generator=g).float() / 255
    v = x + torch.randn(x.shape, generator=g) * 0.2
    e = 8 / 255
    pv = project(v, x, e)
    assert float((pv - x).abs().max()) <= e + 1e-7 and float(pv.min()) >= 0 and float(pv.max()) <= 1
    q = quantize(pv)
    assert torch.equal(q * 255, (q * 255).round())
    assert float((q - x).abs().max()) * 255 <= 8 + 1e-4  # 8-bit x, whole-step budget: rounding stays inside
    inside = x + 0.01 * torch.randn(x.shape, generator=g).clamp(-0.5, 0.5) * e
    inside = inside.clamp(0, 1)
    torch.testing.assert_close(project(inside, x, e), inside)


def test_bad_inputs_are_user_errors():
    with pytest.raises(UserError, match="shape"):
        check_images(torch.zeros(28, 28))
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        check_images(torch.full((1, 1, 4, 4), 2.0))
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        check_images(torch.full((1, 1, 4, 4), float("nan")))
    for bad in (0, -1, 2, "x"):
        with pytest.raises(UserError, match="budget"):
            check_eps(bad)
    assert check_eps(8 / 255) == 8 / 255
