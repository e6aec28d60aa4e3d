"""A strong L∞ attack for estimating what the budget allows: margin-loss PGD with restarts.

Not a method for imperceptibility: it exists to measure the *ceiling* of the success rate inside the
``eps`` ball, so that the success rate of another attack can be read against it.  Differences from
:func:`~innverse.attacks.pgd.pgd`:

* the loss is the logit margin of Carlini and Wagner, ``max_{j != y} z_j - z_y`` (untargeted) or
  ``z_t - max_{j != t} z_j`` (targeted), which keeps its gradient where the cross-entropy saturates;
* the step follows a cosine decay from ``eps / 4`` down to one 8-bit level (``1/255``);
* an image stops as soon as its 8-bit rounding succeeds (the result is that rounded image), so the
  work goes to the images that resist;
* ``restarts`` further runs (each from a seeded uniform start in the ball) are spent on the images no
  earlier run broke.  The first run starts at the clean image.

Images that never succeed return the rounded last iterate of the last run.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from innverse.attacks.base import (
    AttackResult,
    Goal,
    check_eps,
    check_images,
    predict,
    project,
    quantize,
    succeeded,
)
from innverse.errors import UserError

__all__ = ["pgd_margin", "margin_loss"]


def margin_loss(logits: Tensor, goal: Goal) -> Tensor:
    """``(B,)`` logit margin the attack *maximises*: positive exactly when the attack has succeeded."""
    y = goal.labels.to(logits.device)
    zy = logits.gather(1, y[:, None])[:, 0]
    others = logits.scatter(1, y[:, None], float("-inf")).max(dim=1).values
    return zy - others if goal.targeted else others - zy


def pgd_margin(
    classifier: nn.Module,
    x: Tensor,
    goal: Goal,
    eps: float = 8 / 255,
    steps: int = 200,
    restarts: int = 4,
    seed: int = 0,
) -> AttackResult:
    """Margin-loss PGD on images ``x`` (B, C, H, W) in [0, 1] with ``restarts`` extra random starts; see
    the module docstring.  ``iterations`` counts the gradient steps each image used over all runs."""
    check_images(x)
    eps = check_eps(eps)
    if steps < 1:
        raise UserError(f"margin PGD needs at least 1 step; got {steps}")
    if restarts < 0:
        raise UserError(f"restarts must be at least 0; got {restarts}")
    x = x.detach()
    labels = goal.labels.to(x.device)
    out = quantize(x).clone()
    iterations = torch.zeros(x.shape[0], dtype=torch.int64)
    done = torch.zeros(x.shape[0], dtype=torch.bool)
    for run in range(restarts + 1):
        idx = (~done).nonzero()[:, 0]
        if idx.numel() == 0:
            break
        xs = x[idx]
        if run == 0:
            v = xs.clone()
        else:
            g = torch.Generator().manual_seed(int(seed) * 1009 + run)
            noise = torch.rand(xs.shape, generator=g, dtype=torch.float64).to(xs) * 2 - 1
            v = project(xs + eps * noise, xs, eps)
        for k in range(steps):
            alpha = (eps / 4 - 1 / 255) * 0.5 * (1 + math.cos(math.pi * k / steps)) + 1 / 255
            still = Goal(labels[idx], goal.targeted)  # the goal of the images still standing
            v.requires_grad_(True)
            with torch.enable_grad():
                loss = margin_loss(classifier(v), still).sum()
                (grad,) = torch.autograd.grad(loss, v)
            v = project(v.detach() + alpha * grad.sign(), xs, eps)
            iterations[idx] += 1
            q = quantize(v)
            ok = succeeded(predict(classifier, q), still).cpu()
            out[idx] = q
            if bool(ok.any()):
                done[idx[ok]] = True
                keep = ~ok
                idx, xs, v = idx[keep], xs[keep], v[keep]
                if idx.numel() == 0:
                    break
    return AttackResult(out, iterations)
