"""The named methods: names, dispatch, and the guide class of untargeted AdvINN."""

from __future__ import annotations

import pytest
import torch

from innverse.attacks import Goal
from innverse.attacks.base import predict
from innverse.attacks.guides import Guides
from innverse.attacks.inputs import parse_class
from innverse.attacks.methods import METHODS, check_method, guide_classes, run_attack
from innverse.errors import UserError

from ._models import Linear, images


def test_names():
    assert check_method(" PGD ") == "pgd" and check_method("pgd-50") == "pgd-50"
    for bad in ("pgd-0", "pgd-x", "deepfool", ""):
        with pytest.raises(UserError, match="unknown attack method"):
            check_method(bad)


def test_every_method_runs_within_the_budget():
    net = Linear(scale=0.05, seed=1)
    x = images(3, seed=2)
    y = predict(net, x).argmax(1)
    guides = Guides(images(10, seed=3), images(10, seed=4))
    for m in [*METHODS, "pgd-3"]:
        r = run_attack(m, net, x, Goal(y), 4 / 255, guides=guides, steps=None if m == "fgsm" else 3)
        assert r.adversarial.shape == x.shape, m
        assert float((r.adversarial - x).abs().max()) <= 4 / 255 + 1e-6, m
        assert r.iterations.shape == (3,), m
    assert int(run_attack("pgd-3", net, x, Goal(y)).iterations[0]) == 3
    with pytest.raises(UserError, match="needs the HCT/UAP guides"):
        run_attack("advinn-hct", net, x, Goal(y))
    with pytest.raises(UserError, match="steps"):
        run_attack("pgd", net, x, Goal(y), steps=0)


def test_untargeted_advinn_heads_for_the_runner_up():
    net = Linear(scale=0.05, seed=1)
    x = images(5, seed=2)
    logits = predict(net, x)
    y = logits.argmax(1)
    assert torch.equal(guide_classes(net, x, Goal(y)), logits.topk(2, dim=1).indices[:, 1])
    t = torch.tensor([1, 2, 3, 4, 5])
    assert torch.equal(guide_classes(net, x, Goal(t, True)), t)


def test_class_names():
    assert parse_class("7") == 7 and parse_class("sneaker") == 7 and parse_class("Ankle Boot") == 9
    assert parse_class("t-shirt") == 0 and parse_class("ankle") == 9 and parse_class(" Bag ") == 8
    for bad in ("10", "s", "boots!", "car"):
        with pytest.raises(UserError):
            parse_class(bad)
