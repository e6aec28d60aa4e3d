"""The named attacks of ``innverse attack`` and ``innverse benchmark attack``, run through one function.

Names: ``advinn-cgt``, ``advinn-hct``, ``advinn-uap`` (AdvINN with each guide), ``fgsm``, ``pgd``
(10 steps; ``pgd-N`` for N steps), ``cw`` (C&W-L2 inside the L∞ budget) and ``pgd-margin``
(margin-loss PGD with restarts: an estimate of the success rate the budget allows, not an imperceptible
attack).  Untargeted AdvINN heads for the runner-up class of the clean image: that class's guide is
used (and, for CGT, learned).
"""

from __future__ import annotations

import re
from dataclasses import replace

from torch import Tensor, nn

from innverse.attacks.advinn import AdvINNConfig, advinn
from innverse.attacks.base import AttackResult, Goal, predict, runner_up
from innverse.attacks.cw import cw_l2
from innverse.attacks.fgsm import fgsm
from innverse.attacks.guides import Guides, cgt_start
from innverse.attacks.pgd import pgd
from innverse.attacks.pgd_margin import pgd_margin
from innverse.errors import UserError

__all__ = ["METHODS", "check_method", "needs_guides", "guide_classes", "run_attack", "PGD_STEPS"]

#: name -> one-line description
METHODS = {
    "advinn-cgt": "AdvINN, learned class guide (CGT)",
    "advinn-hct": "AdvINN, high-confidence image of the class as guide (HCT)",
    "advinn-uap": "AdvINN, universal adversarial perturbation of the class as guide (UAP)",
    "fgsm": "FGSM, one signed-gradient step",
    "pgd": "PGD, signed-gradient steps from a random start (pgd-N: N steps)",
    "cw": "Carlini-Wagner L2 inside the L-infinity box",
    "pgd-margin": "margin-loss PGD, 200 steps and 4 random restarts (the budget's success ceiling)",
}
#: PGD's steps when the name gives none
PGD_STEPS = 10


def check_method(name: str) -> str:
    """``name`` lower-cased, refused unless it is a method (or ``pgd-N``)."""
    n = name.strip().lower()
    if n in METHODS or re.fullmatch(r"pgd-[1-9][0-9]*", n):
        return n
    raise UserError(f"unknown attack method {name!r} (expected one of {', '.join(METHODS)}, or pgd-N)")


def needs_guides(name: str) -> bool:
    """Whether the method needs the HCT/UAP guide tables."""
    return name in ("advinn-hct", "advinn-uap")


def guide_classes(classifier: nn.Module, x: Tensor, goal: Goal) -> Tensor:
    """The class whose guide AdvINN uses per image: the target, or (untargeted) the runner-up class."""
    if goal.targeted:
        return goal.labels
    return runner_up(predict(classifier, x), goal.labels)


def run_attack(
    name: str,
    classifier: nn.Module,
    x: Tensor,
    goal: Goal,
    eps: float = 8 / 255,
    guides: Guides | None = None,
    steps: int | None = None,
    seed: int = 0,
    advinn_config: AdvINNConfig | None = None,
) -> AttackResult:
    """Run the method ``name`` on images ``x`` (B, C, H, W) in [0, 1].  ``steps`` overrides the
    iterations (PGD steps, AdvINN's step cap, C&W's steps per search round)."""
    n = check_method(name)
    if steps is not None and steps < 1:
        raise UserError(f"--steps must be at least 1; got {steps}")
    if n == "fgsm":
        return fgsm(classifier, x, goal, eps)
    if n == "pgd-margin":
        return pgd_margin(classifier, x, goal, eps, **({"steps": steps} if steps else {}), seed=seed)
    if n.startswith("pgd"):
        k = int(n[4:]) if n.startswith("pgd-") else (steps or PGD_STEPS)
        return pgd(classifier, x, goal, eps, steps=k, seed=seed)
    if n == "cw":
        return cw_l2(classifier, x, goal, eps, **({"steps": steps} if steps else {}))
    cfg = advinn_config or AdvINNConfig()
    cfg = replace(cfg, seed=seed, **({"steps": steps} if steps else {}))
    classes = guide_classes(classifier, x, goal)
    if n == "advinn-cgt":
        return advinn(
            classifier, x, goal, cgt_start(x), eps, learn_guide=True, guide_labels=classes, config=cfg
        )
    if guides is None:
        raise UserError(f"{n} needs the HCT/UAP guides of the classifier")
    g = guides.of(n.split("-")[1], classes).to(x)
    if g.shape[1:] != x.shape[1:]:
        raise UserError(f"the guides are {tuple(g.shape[1:])} images; the input is {tuple(x.shape[1:])}")
    return advinn(classifier, x, goal, g, eps, config=cfg)
