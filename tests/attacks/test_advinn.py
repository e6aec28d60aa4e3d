"""AdvINN: the per-image invertible network (exact inverse, log-det, independence of the images) and
the attack (budget, 8-bit output, success, batch independence)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from innverse.attacks import AdvINN, AdvINNConfig, Goal, advinn, pgd
from innverse.attacks.advinn import BatchedConv2d
from innverse.attacks.base import predict, succeeded
from innverse.attacks.guides import cgt_start
from innverse.errors import UserError
from innverse.nn.testing import assert_invertible, jacobian_logdet, randomise_

from ._models import Linear, images


def test_batched_conv_is_one_convolution_per_sample():
    conv = randomise_(BatchedConv2d(3, 2, 4), 0.3, seed=1).double()
    x = torch.randn(3, 2, 5, 6, dtype=torch.float64)
    out = conv(x)
    for i in range(3):
        ref = F.conv2d(x[i : i + 1], conv.weight[i], conv.bias[i], padding=1)
        torch.testing.assert_close(out[i : i + 1], ref)
    conv.keep_(torch.tensor([2, 0]))
    torch.testing.assert_close(conv(x[[2, 0]]), out[[2, 0]])
    with pytest.raises(ValueError):
        conv(x)


@pytest.mark.parametrize("channels", [1, 3])
def test_the_network_is_an_exact_bijection_with_its_log_det(channels):
    m = randomise_(AdvINN(2, channels, blocks=2, hidden=3), 0.2, seed=1).double()
    xg = torch.randn(2, 2 * channels, 4, 4, dtype=torch.float64)
    assert assert_invertible(m, xg, 1e-12) <= 1e-12
    y, ld = m(xg)
    assert float(ld.detach().abs().min()) > 1e-3  # the couplings really scale
    # log-det against autograd; the check also asserts that the two images' networks do not interact
    torch.testing.assert_close(ld.detach(), jacobian_logdet(m, xg), atol=1e-8, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(m(m.inverse(y))[0], y, atol=1e-10, rtol=0)


def test_starts_as_the_identity_and_keeps_networks_per_image():
    m = AdvINN(3, 1, hidden=4)
    xg = torch.rand(3, 2, 6, 6)
    y, ld = m(xg)
    torch.testing.assert_close(y, xg, atol=1e-6, rtol=0)
    assert float(ld.detach().abs().max()) == 0
    randomise_(m, 0.2, seed=2)
    with torch.no_grad():
        full = m(xg)[0]
        m.keep_(torch.tensor([2, 1]))
        torch.testing.assert_close(m(xg[[2, 1]])[0], full[[2, 1]])


def _setup(n=6, dtype=torch.float32):
    net = Linear(scale=0.03, seed=5, dtype=dtype, smooth=True)
    x = images(n, seed=3, dtype=dtype)
    y = predict(net, x).argmax(1)
    return net, x, y


#: the classification weight grows 5 % a step: this linear classifier's input gradients are weak (its
#: logits move by at most 0.03 per pixel), so the official fixed weights hold the images short of the
#: decision boundary
GROWING = AdvINNConfig(steps=60, w_adv_growth=1.05)


def test_budget_and_8bit_grid_whatever_happens():
    net, x, y = _setup(3)
    e = 4 / 255
    r = advinn(
        net,
        x,
        Goal(y),
        cgt_start(x),
        e,
        learn_guide=True,
        guide_labels=(y + 1) % 10,
        config=AdvINNConfig(steps=5, lr=0.05),
    )
    adv = r.adversarial
    assert adv.shape == x.shape and float((adv - x).abs().max()) <= e + 1e-6
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    assert torch.equal(adv * 255, (adv * 255).round())
    ok = succeeded(predict(net, adv), Goal(y))
    assert bool((r.iterations[~ok] == 5).all()) and bool((r.iterations[ok] <= 5).all())


def test_cgt_attack_succeeds_with_small_perturbations():
    net, x, y = _setup(4)
    e = 8 / 255
    lab = predict(net, x).topk(2, dim=1).indices[:, 1]
    r = advinn(net, x, Goal(y), cgt_start(x), e, learn_guide=True, guide_labels=lab, config=GROWING)
    adv = r.adversarial
    ok = succeeded(predict(net, adv), Goal(y))
    assert int(ok.sum()) >= 3
    assert bool((r.iterations[ok] < 60).all()) and bool((r.iterations >= 1).all())
    # the image fidelity keeps the perturbation well below PGD's, which fills the budget
    l2 = (adv - x)[ok].flatten(1).norm(dim=1)
    l2_pgd = (pgd(net, x, Goal(y), e).adversarial - x)[ok].flatten(1).norm(dim=1)
    assert float(l2.mean()) < 0.8 * float(l2_pgd.mean())


def test_targeted_with_a_fixed_guide_of_the_class():
    net, x, y = _setup(4)
    t = predict(net, x).topk(2, dim=1).indices[:, 1]
    w = net.weight.detach()
    guide = 0.5 + 0.5 * (w[t] - w[y]).sign().reshape(-1, 1, 28, 28)  # a picture of "more t, less y"
    r = advinn(net, x, Goal(t, True), guide, 8 / 255, config=GROWING)
    assert float((r.adversarial - x).abs().max()) <= 8 / 255 + 1e-6
    assert int((predict(net, r.adversarial).argmax(1) == t).sum()) >= 3


def test_results_do_not_depend_on_the_batch():
    net, x, y = _setup(3, torch.float64)
    lab = (y + 1) % 10
    cfg = AdvINNConfig(steps=25, w_adv_growth=1.05)
    together = advinn(net, x, Goal(y), cgt_start(x), 8 / 255, True, lab, cfg)
    alone = advinn(net, x[1:2], Goal(y[1:2]), cgt_start(x[1:2]), 8 / 255, True, lab[1:2], cfg)
    torch.testing.assert_close(together.adversarial[1:2], alone.adversarial)
    assert int(together.iterations[1]) == int(alone.iterations[0])


def test_bad_calls():
    net, x, y = _setup(2)
    with pytest.raises(UserError, match="guide class"):
        advinn(net, x, Goal(y), cgt_start(x), learn_guide=True)
    with pytest.raises(UserError, match="even"):
        advinn(net, x[..., :27, :27], Goal(y), cgt_start(x[..., :27, :27]))
    with pytest.raises(UserError, match="guide images"):
        advinn(net, x, Goal(y), torch.rand(2, 1, 14, 14))
