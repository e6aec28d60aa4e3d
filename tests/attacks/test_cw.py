"""C&W-L2 inside the L∞ box: the margin loss, the box, and smaller perturbations than PGD."""

from __future__ import annotations

import torch

from innverse.attacks import Goal, cw_l2, pgd
from innverse.attacks.base import predict, quantize, succeeded
from innverse.attacks.cw import margin_loss

from ._models import Linear, images


def test_margin_loss():
    z = torch.tensor([[1.0, 3.0, 2.0]])
    assert float(margin_loss(z, Goal(torch.tensor([1])))) == 1.0  # Z_y - max other
    assert float(margin_loss(z, Goal(torch.tensor([2]), True))) == 1.0  # max other - Z_t
    assert float(margin_loss(z, Goal(torch.tensor([0])), kappa=0.5)) == -0.5  # clamped at -kappa


def test_cw_succeeds_in_the_box_with_less_l2_than_pgd():
    net = Linear(scale=0.03, seed=2)
    x = images(20, seed=3)
    y = predict(net, x).argmax(1)
    e = 8 / 255
    r = cw_l2(net, x, Goal(y), e, steps=30, search_steps=3)
    adv = r.adversarial
    assert float((adv - x).abs().max()) <= e + 1e-6 and float(adv.min()) >= 0 and float(adv.max()) <= 1
    ok = succeeded(predict(net, quantize(adv)), Goal(y))
    assert float(ok.float().mean()) >= 0.8
    p = pgd(net, x, Goal(y), e, steps=10).adversarial
    both = ok & succeeded(predict(net, p), Goal(y))
    l2_cw = (adv - x)[both].flatten(1).norm(dim=1).mean()
    l2_pgd = (p - x)[both].flatten(1).norm(dim=1).mean()
    assert l2_cw < 0.8 * l2_pgd
