"""Reusable checks for invertible blocks (use them in the tests of your own blocks)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.functional import jacobian

__all__ = ["assert_invertible", "jacobian_logdet"]


@torch.no_grad()
def assert_invertible(module: nn.Module, x: Tensor, tol: float, **cond) -> float:
    """Assert ``module.inverse(module(x)[0]) == x`` to max-abs error ``<= tol``; return that error.

    Also asserts the forward ``log_det`` follows the contract: shape ``(B,)``, ``x``'s dtype and device,
    finite.  Raises ``AssertionError`` with the measured error otherwise.
    """
    y, log_det = module(x, **cond)
    b = x.shape[0]
    assert isinstance(log_det, Tensor), f"log_det must be a Tensor, got {type(log_det).__name__}"
    assert log_det.shape == (b,), f"log_det has shape {tuple(log_det.shape)}, expected ({b},)"
    assert log_det.dtype == x.dtype, f"log_det dtype {log_det.dtype} != input dtype {x.dtype}"
    assert log_det.device == x.device, f"log_det device {log_det.device} != input device {x.device}"
    assert bool(torch.isfinite(log_det).all()), "log_det is not finite"
    assert y.shape[0] == b and y[0].numel() == x[0].numel(), (
        f"output shape {tuple(y.shape)} does not preserve the per-sample size of input {tuple(x.shape)}"
    )
    x_rec = module.inverse(y, **cond)
    assert x_rec.shape == x.shape, f"inverse returned shape {tuple(x_rec.shape)}, expected {tuple(x.shape)}"
    err = float((x_rec - x).abs().max())
    assert err <= tol, f"round-trip max error {err:.3e} exceeds tol {tol:.1e} for {type(module).__name__}"
    return err


def jacobian_logdet(module: nn.Module, x: Tensor, check_independent: bool = True, **cond) -> Tensor:
    """``log|det dy/dx|`` per sample from the full autograd Jacobian of ``module``'s forward; shape ``(B,)``.

    The Jacobian of the whole batch is computed with :func:`torch.autograd.functional.jacobian` and the
    per-sample diagonal blocks go through ``torch.linalg.slogdet``.  With ``check_independent`` the
    cross-sample blocks must be zero (a block whose output for sample i depends on sample j has no per-sample
    log-det).  Cost grows like ``(numel of x)^2``: use small inputs.  The module runs in whatever mode it is
    in; initialise data-dependent layers (ActNorm) before calling this.
    """
    b = x.shape[0]
    d = x[0].numel()

    def f(inp: Tensor) -> Tensor:
        return module(inp, **cond)[0].reshape(-1)

    jac = jacobian(f, x.detach())
    if jac.shape[0] != b * d:
        raise ValueError(f"output has {jac.shape[0]} elements, input {b * d}: the Jacobian is not square")
    jac = jac.reshape(b, d, b, d)
    idx = torch.arange(b, device=jac.device)
    diag = jac[idx, :, idx, :]  # (B, D, D)
    if check_independent and b > 1:
        off = jac.clone()
        off[idx, :, idx, :] = 0
        scale = float(diag.abs().max())
        assert float(off.abs().max()) <= 1e-12 * max(scale, 1.0), "samples of the batch are coupled"
    return torch.linalg.slogdet(diag).logabsdet
