"""Memory-saving training of invertible networks (RevNet / i-RevNet / MemCNN style).

Instead of storing every intermediate activation for backward, the wrapped network's forward runs without
building an autograd graph; during backward each block's input is *recomputed from its output* through
``block.inverse`` and the block is re-run with gradients enabled to obtain its local vector-Jacobian
product.  Only the final output is kept between forward and backward, so the activation memory no longer
grows with depth (at the price of roughly one extra forward and one inverse per block).
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .base import InvertibleModule
from .sequential import Sequential

__all__ = ["InvertibleCheckpoint", "memory_saving"]


def _flatten(module: nn.Module) -> list[nn.Module]:
    """Blocks of (nested) :class:`Sequential` containers, in forward order."""
    if isinstance(module, Sequential):
        return [b for child in module for b in _flatten(child)]
    return [module]


class _Plan:
    """Everything the autograd function needs that is not a tensor input."""

    def __init__(
        self,
        blocks: list[nn.Module],
        static_cond: dict[str, Any],
        grad_cond_keys: list[str],
        params: list[nn.Parameter],
    ) -> None:
        self.blocks = blocks
        self.static_cond = static_cond
        self.grad_cond_keys = grad_cond_keys
        self.params = params


class _InvertibleRecompute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, plan: _Plan, x: Tensor, *tensors: Tensor) -> tuple[Tensor, Tensor]:
        n = len(plan.grad_cond_keys)
        cond = dict(plan.static_cond)
        cond.update(zip(plan.grad_cond_keys, tensors[:n], strict=True))
        log_det = x.new_zeros(x.shape[0])
        y = x
        for block in plan.blocks:  # autograd is disabled inside Function.forward
            y, ld = block(y, **cond)
            log_det = log_det + ld
        if y is x:  # an identity network: return a distinct tensor as the output
            y = x.clone()
        ctx.plan = plan
        ctx.save_for_backward(y, *tensors[:n])
        return y, log_det

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor, grad_log_det: Tensor) -> tuple[Tensor | None, ...]:
        plan: _Plan = ctx.plan
        y, *cond_tensors = ctx.saved_tensors
        cond_leaves = [t.detach().requires_grad_(True) for t in cond_tensors]
        cond = dict(plan.static_cond)
        cond.update(zip(plan.grad_cond_keys, cond_leaves, strict=True))
        index = {id(p): i for i, p in enumerate(plan.params)}
        param_grads: list[Tensor | None] = [None] * len(plan.params)
        cond_grads: list[Tensor | None] = [None] * len(cond_leaves)

        y = y.detach()
        for block in reversed(plan.blocks):
            with torch.no_grad():
                x = cast(Any, block).inverse(y, **cond)
            x = x.detach().requires_grad_(True)
            block_params = [p for p in block.parameters() if id(p) in index]
            with torch.enable_grad():
                y_re, ld_re = block(x, **cond)
                inputs = [x, *cond_leaves, *block_params]
                grads: tuple[Tensor | None, ...]
                pairs = [(o, g) for o, g in ((y_re, grad_y), (ld_re, grad_log_det)) if o.requires_grad]
                if pairs:
                    outs, gouts = zip(*pairs, strict=True)
                    grads = torch.autograd.grad(outs, inputs, gouts, allow_unused=True)
                else:
                    grads = (None,) * len(inputs)
            gx = grads[0]
            grad_y = torch.zeros_like(x) if gx is None else gx
            k = 1 + len(cond_leaves)
            for j, g in enumerate(grads[1:k]):
                if g is not None:
                    prev = cond_grads[j]
                    cond_grads[j] = g if prev is None else prev + g
            for p, g in zip(block_params, grads[k:], strict=True):
                if g is not None:
                    i = index[id(p)]
                    prev = param_grads[i]
                    param_grads[i] = g if prev is None else prev + g
            y = x.detach()
        return (None, grad_y, *cond_grads, *param_grads)


class InvertibleCheckpoint(InvertibleModule):
    """Wrap an invertible module so that training does not store its activations.

    ``forward(x, **cond) -> (y, log_det)`` computes exactly what ``module(x, **cond)`` computes (same
    direction, ``log_det = log|det dy/dx|`` of shape ``(B,)``), but inside a custom autograd function that
    keeps only the output ``y``.  In backward, blocks are processed last to first: a block's input is
    reconstructed from its output with ``block.inverse``, the block is re-run with gradients enabled and the
    incoming gradients (of ``y`` *and* of ``log_det``) are back-propagated through it.  If ``module`` is a
    :class:`Sequential` (nested ones included) this happens block by block, so at most one block's
    activations are alive at a time; any other module is treated as a single block.  Gradients reach the
    input, every parameter of ``module`` and conditioning tensors that require grad.

    ``inverse`` simply calls ``module.inverse``.  When autograd is off, or nothing requires grad, the wrapper
    calls ``module`` directly.

    Caveat: the wrapped blocks must be *exactly invertible and deterministic* -- the recomputed input must
    equal the true input.  Dropout, batch-norm in training mode (whose running statistics would also be
    updated twice), stochastic layers or badly conditioned blocks (whose inverse loses precision) give wrong
    gradients silently.  Double backward is not supported.  Data-dependent initialisation (e.g.
    :class:`~innverse.nn.glow.ActNorm`) happens in the first forward as usual.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not callable(getattr(module, "inverse", None)):
            raise TypeError(
                f"InvertibleCheckpoint needs a module with an inverse; got {type(module).__name__}"
            )
        self.module = module

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> latent, same result as the wrapped module; ``log_det`` of shape ``(B,)``."""
        params = [p for p in self.module.parameters() if p.requires_grad]
        grad_cond = {k: v for k, v in cond.items() if isinstance(v, Tensor) and v.requires_grad}
        needs_grad = x.requires_grad or bool(params) or bool(grad_cond)
        if not (torch.is_grad_enabled() and needs_grad):
            return self.module(x, **cond)
        static = {k: v for k, v in cond.items() if k not in grad_cond}
        plan = _Plan(_flatten(self.module), static, list(grad_cond), params)
        return _InvertibleRecompute.apply(plan, x, *grad_cond.values(), *params)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Latent -> data via ``module.inverse`` (no memory saving in this direction)."""
        out: Tensor = cast(Any, self.module).inverse(y, **cond)
        return out


def memory_saving(module: nn.Module) -> InvertibleCheckpoint:
    """Return ``module`` wrapped in :class:`InvertibleCheckpoint` (shares its parameters, adds none)."""
    if isinstance(module, InvertibleCheckpoint):
        return module
    return InvertibleCheckpoint(module)
