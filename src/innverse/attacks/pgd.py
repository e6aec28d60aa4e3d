"""PGD (Madry et al., ICLR 2018): projected signed-gradient steps on the cross-entropy, L∞ ball.

From a uniform random start in the ``eps`` ball (``random_start``, seeded), ``steps`` iterations of
``v <- P(v + alpha * s * sign(grad_v CE(f(v), y)))`` with ``s = +1`` untargeted (away from ``y``) and
``s = -1`` targeted (towards ``t``), where ``P`` clips to the ball and to ``[0, 1]``.  The last iterate is
returned (no early stop, no restarts), as in the usual implementations (torchattacks' ``PGD`` computes
the same iteration).  The default step is ``alpha = eps / 4`` (2/255 at eps = 8/255).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from innverse.attacks.base import AttackResult, Goal, check_eps, check_images, project
from innverse.attacks.fgsm import input_gradient
from innverse.errors import UserError

__all__ = ["pgd"]


def pgd(
    classifier: nn.Module,
    x: Tensor,
    goal: Goal,
    eps: float = 8 / 255,
    steps: int = 10,
    alpha: float | None = None,
    random_start: bool = True,
    seed: int = 0,
) -> AttackResult:
    """PGD on images ``x`` (B, C, H, W) in [0, 1]; see the module docstring."""
    check_images(x)
    eps = check_eps(eps)
    if steps < 1:
        raise UserError(f"PGD needs at least 1 step; got {steps}")
    step = eps / 4 if alpha is None else float(alpha)
    if not step > 0:
        raise UserError(f"the PGD step must be positive; got {alpha}")
    x = x.detach()
    v = x
    if random_start:
        g = torch.Generator().manual_seed(int(seed))
        noise = torch.rand(x.shape, generator=g, dtype=torch.float64).to(x) * 2 - 1
        v = project(x + eps * noise, x, eps)
    sign = -1.0 if goal.targeted else 1.0
    for _ in range(steps):
        grad = input_gradient(classifier, v, goal)
        v = project(v + sign * step * grad.sign(), x, eps).detach()
    return AttackResult(v, torch.full((x.shape[0],), steps, dtype=torch.int64))
