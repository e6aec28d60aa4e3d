"""Adversarial attacks on image classifiers: AdvINN (an invertible network fitted per image, with its
three guides) and the classical baselines FGSM, PGD and C&W-L2, all under one L∞ budget.

* :mod:`~innverse.attacks.base` -- the goal (targeted or not), losses, success, projection;
* :mod:`~innverse.attacks.fgsm`, :mod:`~innverse.attacks.pgd`, :mod:`~innverse.attacks.cw` -- baselines;
* :mod:`~innverse.attacks.pgd_margin` -- margin-loss PGD with restarts: the budget's success ceiling;
* :mod:`~innverse.attacks.advinn` -- the AdvINN network and its per-image optimisation;
* :mod:`~innverse.attacks.guides` -- the guides: CGT (learned), HCT (a confident image of the class),
  UAP (a universal perturbation towards the class);
* :mod:`~innverse.attacks.methods` -- the named methods of ``innverse attack`` and the benchmark.
"""

from __future__ import annotations

from .advinn import AdvINN, AdvINNConfig, advinn
from .base import AttackResult, Goal, attack_loss, project, quantize, succeeded
from .cw import cw_l2
from .fgsm import fgsm
from .pgd import pgd
from .pgd_margin import pgd_margin

__all__ = [
    "AdvINN",
    "AdvINNConfig",
    "advinn",
    "AttackResult",
    "Goal",
    "attack_loss",
    "project",
    "quantize",
    "succeeded",
    "cw_l2",
    "fgsm",
    "pgd",
    "pgd_margin",
]
