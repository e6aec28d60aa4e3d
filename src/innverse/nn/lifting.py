"""The lifting step: an exactly invertible predict/update pair with arbitrary networks."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from .base import InvertibleModule, check_image, zero_logdet

__all__ = ["LiftingStep"]


def _accepted_keywords(module: nn.Module) -> frozenset[str] | None:
    """Keywords ``module.forward`` accepts after its first argument; ``None`` means "all" (``**kwargs``)."""
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return frozenset()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    names = [
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    first_positional = next((p.name for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY), None)
    return frozenset(n for n in names if n != first_positional)


def _select(accepted: frozenset[str] | None, cond: dict[str, Any]) -> dict[str, Any]:
    if accepted is None:
        return cond
    return {k: v for k, v in cond.items() if k in accepted}


class LiftingStep(InvertibleModule):
    """One predict/update lifting step on channels ``[coarse (coarse_channels) | detail (the rest)]``.

    Forward (data -> coefficients)::

        d <- d - P(c)        # predict: detail becomes the prediction residual
        c <- c + U(d)        # update: coarse is corrected with the new detail

    Inverse::

        c <- c - U(d)
        d <- d + P(c)

    ``P`` (coarse -> detail) and ``U`` (detail -> coarse) are *arbitrary* ``nn.Module`` s: the step is
    exactly invertible (up to floating-point rounding) whatever they compute, because each half is only ever
    shifted by a function of the other, unchanged half.  The Jacobian is unit-triangular, so
    ``log_det = log|det dy/dx| = 0``.

    Conditioning: the signatures of ``P.forward`` and ``U.forward`` are inspected once at construction; a
    network that declares a keyword (e.g. ``sigma``) receives that keyword, one with ``**kwargs`` receives all
    conditioning keywords, others receive none.  The same values must be given to ``forward`` and
    ``inverse`` for the inverse to be exact.  ``P(c)`` must broadcast to the detail's shape (and ``U(d)``
    to the coarse's shape).
    """

    def __init__(self, predictor: nn.Module, updater: nn.Module, coarse_channels: int) -> None:
        super().__init__()
        if not isinstance(predictor, nn.Module) or not isinstance(updater, nn.Module):
            raise TypeError("LiftingStep predictor and updater must be nn.Module instances")
        if coarse_channels < 1:
            raise ValueError(f"coarse_channels must be >= 1; got {coarse_channels}")
        self.predictor = predictor
        self.updater = updater
        self.coarse_channels = int(coarse_channels)
        self._p_keys = _accepted_keywords(predictor)
        self._u_keys = _accepted_keywords(updater)

    def _split(self, x: Tensor, name: str) -> tuple[Tensor, Tensor]:
        check_image(x, name=name)
        if x.shape[1] <= self.coarse_channels:
            raise ValueError(
                f"{name} of shape {tuple(x.shape)} needs more than coarse_channels={self.coarse_channels} "
                "channels (layout [coarse | detail])"
            )
        return x[:, : self.coarse_channels], x[:, self.coarse_channels :]

    @staticmethod
    def _checked(out: Tensor, like: Tensor, what: str) -> Tensor:
        if not isinstance(out, Tensor):
            raise TypeError(f"LiftingStep {what} must return a Tensor; got {type(out).__name__}")
        try:
            ok = torch.broadcast_shapes(out.shape, like.shape) == like.shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"LiftingStep {what} output of shape {tuple(out.shape)} "
                f"does not broadcast to {tuple(like.shape)}"
            )
        return out

    def _predict(self, c: Tensor, d: Tensor, cond: dict[str, Any]) -> Tensor:
        return self._checked(self.predictor(c, **_select(self._p_keys, cond)), d, "predictor")

    def _update(self, d: Tensor, c: Tensor, cond: dict[str, Any]) -> Tensor:
        return self._checked(self.updater(d, **_select(self._u_keys, cond)), c, "updater")

    def forward(self, x: Tensor, **cond) -> tuple[Tensor, Tensor]:
        """Data -> coefficients (predict then update); ``log_det = 0`` of shape ``(B,)``."""
        c, d = self._split(x, "LiftingStep input")
        d = d - self._predict(c, d, cond)
        c = c + self._update(d, c, cond)
        return torch.cat((c, d), dim=1), zero_logdet(x)

    def inverse(self, y: Tensor, **cond) -> Tensor:
        """Coefficients -> data (undo update, then undo predict)."""
        c, d = self._split(y, "LiftingStep.inverse input")
        c = c - self._update(d, c, cond)
        d = d + self._predict(c, d, cond)
        return torch.cat((c, d), dim=1)

    def extra_repr(self) -> str:
        return f"coarse_channels={self.coarse_channels}"
