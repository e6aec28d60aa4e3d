"""What every attack shares: the goal (targeted or not), its loss and success test, the L∞ budget.

Images are ``(B, C, H, W)`` tensors on ``[0, 1]`` (the classifiers' input); the budget ``eps`` is on
that scale too (``8/255`` is the usual 8-bit budget).  An attack's goal is a :class:`Goal`: the labels
of the images and whether they are *targets* (make the classifier say this class) or the classes to
move away from (untargeted).  Every attack returns an :class:`AttackResult` whose images satisfy
``|adv - x| <= eps`` and ``0 <= adv <= 1`` exactly (:func:`project`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from innverse.errors import UserError

__all__ = [
    "Goal",
    "AttackResult",
    "check_images",
    "check_eps",
    "project",
    "quantize",
    "attack_loss",
    "succeeded",
    "adversarial_probability",
    "runner_up",
    "predict",
]


@dataclass(frozen=True)
class Goal:
    """``labels`` (B,) int64: the target classes when ``targeted``, else the classes to leave (usually the
    true or the predicted class of each clean image)."""

    labels: Tensor
    targeted: bool = False


@dataclass
class AttackResult:
    """The adversarial images ``(B, C, H, W)`` (inside the budget) and the gradient iterations each
    image used (``(B,)`` int64; for early-stopping attacks the step at which the image succeeded)."""

    adversarial: Tensor
    iterations: Tensor


def check_images(x: Tensor, name: str = "images") -> None:
    """Refuse anything but a finite ``(B, C, H, W)`` float tensor on ``[0, 1]`` (a :class:`UserError`)."""
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise UserError(f"{name} must be a float tensor of shape (B, C, H, W); got {shape}")
    if x.numel() == 0:
        raise UserError(f"{name} is empty")
    if not bool(torch.isfinite(x).all()) or float(x.min()) < 0 or float(x.max()) > 1:
        raise UserError(f"{name} must lie on [0, 1] (the classifier's input scale)")


def check_eps(eps: float) -> float:
    """The budget as a float, refused unless ``0 < eps <= 1``."""
    try:
        e = float(eps)
    except (TypeError, ValueError):
        raise UserError(f"the L-infinity budget must be a number; got {eps!r}") from None
    if not 0 < e <= 1:
        raise UserError(f"the L-infinity budget must be in (0, 1] on the [0, 1] image scale; got {e:g}")
    return e


def project(x_adv: Tensor, x: Tensor, eps: float) -> Tensor:
    """The closest image to ``x_adv`` in ``{|v - x| <= eps} ∩ [0, 1]`` (elementwise clipping; differentiable
    where no bound is active)."""
    return (x + (x_adv - x).clamp(-eps, eps)).clamp(0.0, 1.0)


def quantize(x: Tensor) -> Tensor:
    """Round to 8 bits (``round(255 x) / 255``), as an image saved to an 8-bit file.  For an 8-bit ``x`` and
    a budget of whole 8-bit steps the rounded image stays inside the budget."""
    return torch.round(x * 255.0) / 255.0


def attack_loss(logits: Tensor, goal: Goal) -> Tensor:
    """The per-image loss an attack *minimises*, ``(B,)``.

    Targeted: the cross-entropy of the target, ``-log p_t``.  Untargeted: ``-log(1 - p_y)``, which is
    small once the probability has left the class ``y`` (bounded below by 0, unlike ``-CE``); computed
    stably as ``logsumexp(z) - logsumexp(z without z_y)``.
    """
    y = goal.labels.to(logits.device)
    lse = torch.logsumexp(logits, dim=1)
    if goal.targeted:
        return lse - logits.gather(1, y[:, None])[:, 0]
    others = logits.scatter(1, y[:, None], float("-inf"))
    return lse - torch.logsumexp(others, dim=1)


def succeeded(logits: Tensor, goal: Goal) -> Tensor:
    """``(B,)`` bool: the prediction is the target (targeted) or is not the label (untargeted)."""
    pred = logits.argmax(dim=1)
    y = goal.labels.to(pred.device)
    return pred == y if goal.targeted else pred != y


def adversarial_probability(logits: Tensor, goal: Goal) -> Tensor:
    """``(B,)``: the probability of the target (targeted) or of the most likely other class (untargeted)."""
    p = torch.softmax(logits, dim=1)
    y = goal.labels.to(p.device)
    if goal.targeted:
        return p.gather(1, y[:, None])[:, 0]
    return p.scatter(1, y[:, None], 0.0).max(dim=1).values


def runner_up(logits: Tensor, labels: Tensor) -> Tensor:
    """``(B,)`` the most likely class other than ``labels`` (the class an untargeted attack heads for)."""
    return logits.scatter(1, labels.to(logits.device)[:, None], float("-inf")).argmax(dim=1)


@torch.no_grad()
def predict(classifier: nn.Module, x: Tensor, batch: int = 500) -> Tensor:
    """Logits of ``x`` in batches (no graph)."""
    return torch.cat([classifier(x[i : i + batch]) for i in range(0, x.shape[0], batch)])
