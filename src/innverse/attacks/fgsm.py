"""FGSM (Goodfellow, Shlens & Szegedy, ICLR 2015): one signed-gradient step of size ``eps``.

Untargeted: ``x + eps * sign(grad_x CE(f(x), y))`` (up the loss of the class ``y``); targeted:
``x - eps * sign(grad_x CE(f(x), t))`` (down the loss of the target).  The result is clipped to
``[0, 1]`` (it is inside the L∞ ball by construction).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from innverse.attacks.base import AttackResult, Goal, check_eps, check_images, project

__all__ = ["fgsm", "input_gradient"]


def input_gradient(classifier: nn.Module, x: Tensor, goal: Goal) -> Tensor:
    """``grad_x`` of the summed cross-entropy of ``goal.labels`` (the direction that raises it)."""
    v = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(classifier(v), goal.labels.to(x.device), reduction="sum")
        (g,) = torch.autograd.grad(loss, v)
    return g


def fgsm(classifier: nn.Module, x: Tensor, goal: Goal, eps: float = 8 / 255) -> AttackResult:
    """One FGSM step on images ``x`` (B, C, H, W) in [0, 1]; see the module docstring."""
    check_images(x)
    eps = check_eps(eps)
    g = input_gradient(classifier, x, goal)
    sign = -1.0 if goal.targeted else 1.0
    adv = project(x + sign * eps * g.sign(), x, eps).detach()
    return AttackResult(adv, torch.ones(x.shape[0], dtype=torch.int64))
