"""Learning-rate schedules: pure functions of the optimizer step, so a resumed run gets the same rates."""

from __future__ import annotations

import math

__all__ = ["SCHEDULES", "step_lr", "learning_rate"]

#: the names ``--lr-schedule`` accepts
SCHEDULES = ("step", "cosine", "constant")


def step_lr(
    step: int, total_steps: int, base_lr: float, drop_at: float = 0.6, drop: float = 0.1, scale: float = 1.0
) -> float:
    """Learning rate of optimizer step ``step`` (0-based) in a run of ``total_steps`` steps.

    ``base_lr * scale`` until ``drop_at`` of the run, then ``base_lr * drop * scale`` (the WINNet
    paper's 1e-3 -> 1e-4 at 60 %).  ``scale`` is the NaN back-off factor kept in the checkpoint.
    """
    boundary = int(round(drop_at * total_steps))
    lr = base_lr * (drop if step >= boundary else 1.0)
    return lr * scale


def learning_rate(
    schedule: str,
    step: int,
    total_steps: int,
    base_lr: float,
    *,
    warmup: int = 0,
    drop_at: float = 0.6,
    drop: float = 0.1,
    scale: float = 1.0,
) -> float:
    """The rate of ``step`` under ``schedule``, after a linear warm-up over the first ``warmup`` steps.

    * ``step``: :func:`step_lr` (one drop by ``drop`` at ``drop_at`` of the run);
    * ``cosine``: from ``base_lr`` down to ``base_lr * drop`` along a half cosine over the steps
      after the warm-up;
    * ``constant``: ``base_lr``.
    """
    if schedule == "step":
        lr = step_lr(step, total_steps, base_lr, drop_at, drop)
    elif schedule == "cosine":
        span = max(1, total_steps - warmup)
        frac = min(1.0, max(0.0, (step - warmup) / span))
        lo = base_lr * drop
        lr = lo + 0.5 * (base_lr - lo) * (1.0 + math.cos(math.pi * frac))
    elif schedule == "constant":
        lr = base_lr
    else:
        raise ValueError(f"unknown learning-rate schedule {schedule!r} (expected one of {SCHEDULES})")
    if warmup > 0 and step < warmup:
        lr *= (step + 1) / warmup
    return lr * scale
