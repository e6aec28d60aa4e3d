"""Carlini & Wagner's L2 attack (IEEE S&P 2017), kept inside the same L∞ budget as the other attacks.

Minimises ``||v - x||_2^2 + c * f(v)`` over ``v`` with the margin loss ``f = max(Z_y - max_{j != y} Z_j,
-kappa)`` (untargeted; targeted ``f = max(max_{j != t} Z_j - Z_t, -kappa)``) on the logits ``Z``, by Adam
in C&W's change of variables, here onto the box ``[lo, hi] = [max(0, x - eps), min(1, x + eps)]``:
``v = lo + (hi - lo) (tanh(w) + 1) / 2`` -- so every iterate satisfies the L∞ budget and ``[0, 1]``
exactly, and no clipping afterwards changes the optimum.  ``c`` is set per image by a binary search
(``search_steps`` rounds of ``steps`` Adam iterations, from ``c0``: halved towards the last success,
multiplied by 10 while none).  The result is, per image, the successful iterate of least L2 distance
(its 8-bit rounding must succeed too, when ``quantized``); an image never successful keeps its last
iterate.  The defaults (4 x 30 iterations, Adam step 0.5 in ``w``, whose box is only ``2 eps`` wide)
are a budget comparable to the other attacks', far below C&W's 9 x 10,000 iterations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from innverse.attacks.base import AttackResult, Goal, check_eps, check_images, quantize, succeeded
from innverse.errors import UserError

__all__ = ["cw_l2", "margin_loss"]


def margin_loss(logits: Tensor, goal: Goal, kappa: float = 0.0) -> Tensor:
    """C&W's ``f`` per image ``(B,)`` (<= 0 once the attack succeeds with margin ``kappa``)."""
    y = goal.labels.to(logits.device)
    zy = logits.gather(1, y[:, None])[:, 0]
    other = logits.scatter(1, y[:, None], float("-inf")).max(dim=1).values
    f = other - zy if goal.targeted else zy - other
    return f.clamp_min(-kappa)


def cw_l2(
    classifier: nn.Module,
    x: Tensor,
    goal: Goal,
    eps: float = 8 / 255,
    steps: int = 30,
    search_steps: int = 4,
    c0: float = 10.0,
    kappa: float = 0.0,
    lr: float = 0.5,
    quantized: bool = True,
) -> AttackResult:
    """C&W-L2 on images ``x`` (B, C, H, W) in [0, 1] within the L∞ budget ``eps`` (module docstring)."""
    check_images(x)
    eps = check_eps(eps)
    if steps < 1 or search_steps < 1:
        raise UserError(f"C&W needs steps >= 1 and search_steps >= 1; got {steps}, {search_steps}")
    x = x.detach()
    b = x.shape[0]
    lo, hi = (x - eps).clamp_min(0.0), (x + eps).clamp_max(1.0)
    width = hi - lo
    u = torch.where(width > 0, (x - lo) / width.clamp_min(1e-12), torch.zeros_like(x))
    w0 = torch.atanh((2 * u - 1).clamp(-1 + 1e-6, 1 - 1e-6))
    c = torch.full((b,), float(c0), dtype=x.dtype, device=x.device)
    c_lo = torch.zeros_like(c)
    c_hi = torch.full_like(c, float("inf"))
    best = x.clone()
    best_d = torch.full((b,), float("inf"), dtype=x.dtype, device=x.device)
    found_at = torch.zeros(b, dtype=torch.int64)
    last = x.clone()
    it = 0
    for _ in range(search_steps):
        w = w0.clone().requires_grad_(True)
        opt = torch.optim.Adam([w], lr=lr)
        ok_round = torch.zeros(b, dtype=torch.bool, device=x.device)
        for _ in range(steps):
            it += 1
            with torch.enable_grad():
                v = lo + width * (torch.tanh(w) + 1) / 2
                logits = classifier(v)
                d = (v - x).flatten(1).square().sum(dim=1)
                loss = (d + c * margin_loss(logits, goal, kappa)).sum()
                (w.grad,) = torch.autograd.grad(loss, w)
            with torch.no_grad():
                ok = succeeded(logits, goal)
                if quantized and bool(ok.any()):
                    q_ok = succeeded(classifier(quantize(v[ok])), Goal(goal.labels[ok], goal.targeted))
                    ok[ok.clone()] = q_ok
                better = ok & (d < best_d)
                best[better] = v[better].detach()
                best_d[better] = d[better].detach()
                found_at[better.cpu()] = it
                ok_round |= ok
            opt.step()
        with torch.no_grad():
            last = lo + width * (torch.tanh(w) + 1) / 2
            c_hi = torch.where(ok_round, torch.minimum(c_hi, c), c_hi)
            c_lo = torch.where(ok_round, c_lo, torch.maximum(c_lo, c))
            c = torch.where(torch.isfinite(c_hi), (c_lo + c_hi) / 2, c * 10)
    never = ~torch.isfinite(best_d)
    best[never] = last[never]
    found_at[never.cpu()] = it
    return AttackResult(best.detach(), found_at)
