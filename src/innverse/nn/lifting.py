"""The lifting step: an exactly invertible predict/update pair with arbitrary networks, and chains of them."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .base import InvertibleModule, check_image, declared_conditions, select_conditions, zero_logdet
from .sequential import Sequential

__all__ = ["LiftingStep", "LiftingChain"]


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

    Conditioning is declared, not guessed: a network that lists keywords in its ``conditions``
    attribute (e.g. ``conditions = ("sigma",)``) is called as ``P(c, sigma=...)`` with those of the
    given keywords; a network that declares none (any plain ``torch.nn`` layer) is called as ``P(c)``.
    The same values must be given to ``forward`` and ``inverse`` for the inverse to be exact.
    ``P(c)`` must broadcast to the detail's shape (and ``U(d)`` to the coarse's shape).

    :meth:`forward_parts` / :meth:`inverse_parts` work on the two halves directly (no concatenation);
    :class:`LiftingChain` uses them to run many steps on one split.
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
        self._p_keys = declared_conditions(predictor)
        self._u_keys = declared_conditions(updater)

    def split(self, x: Tensor, name: str = "LiftingStep input") -> tuple[Tensor, Tensor]:
        """``x`` -> ``(coarse, detail)`` views (validated)."""
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
        if out.shape != like.shape:
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

    def predict(self, c: Tensor, d: Tensor, cond: dict[str, Any]) -> Tensor:
        """``P(c)`` with the predictor's declared conditioning (checked against the detail's shape)."""
        return self._checked(self.predictor(c, **select_conditions(self._p_keys, cond)), d, "predictor")

    def update(self, d: Tensor, c: Tensor, cond: dict[str, Any]) -> Tensor:
        """``U(d)`` with the updater's declared conditioning (checked against the coarse's shape)."""
        return self._checked(self.updater(d, **select_conditions(self._u_keys, cond)), c, "updater")

    def forward_parts(self, c: Tensor, d: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """Forward on the halves: ``d <- d - P(c)``, then ``c <- c + U(d)``; returns ``(c, d)``."""
        d = d - self.predict(c, d, cond)
        c = c + self.update(d, c, cond)
        return c, d

    def inverse_parts(self, c: Tensor, d: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """Inverse on the halves: ``c <- c - U(d)``, then ``d <- d + P(c)``; returns ``(c, d)``."""
        c = c - self.update(d, c, cond)
        d = d + self.predict(c, d, cond)
        return c, d

    def forward(self, x: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """Data -> coefficients (predict then update); ``log_det = 0`` of shape ``(B,)``."""
        c, d = self.forward_parts(*self.split(x), **cond)
        return torch.cat((c, d), dim=1), zero_logdet(x)

    def inverse(self, y: Tensor, **cond: Any) -> Tensor:
        """Coefficients -> data (undo update, then undo predict)."""
        c, d = self.inverse_parts(*self.split(y, "LiftingStep.inverse input"), **cond)
        return torch.cat((c, d), dim=1)

    def extra_repr(self) -> str:
        return f"coarse_channels={self.coarse_channels}"


class LiftingChain(Sequential):
    """Lifting steps ``s_1, ..., s_n`` on one ``[coarse | detail]`` split (a LINN level).

    The same map as ``Sequential(s_1, ..., s_n)`` -- forward applies ``s_1`` first, ``log_det = 0`` of
    shape ``(B,)``, the inverse undoes the steps last to first -- but the input is split once and the
    halves are carried from step to step (:meth:`forward_parts`), instead of being concatenated and
    split again at every step.  All steps must share ``coarse_channels``.
    """

    def __init__(self, *steps: LiftingStep) -> None:
        if not steps:
            raise ValueError("LiftingChain needs at least one LiftingStep")
        for s in steps:
            if not isinstance(s, LiftingStep):
                raise TypeError(f"LiftingChain takes LiftingStep blocks; got {type(s).__name__}")
        widths = {s.coarse_channels for s in steps}
        if len(widths) != 1:
            raise ValueError(f"LiftingChain steps must share coarse_channels; got {sorted(widths)}")
        super().__init__(*steps)
        self.coarse_channels = steps[0].coarse_channels

    def steps(self) -> list[LiftingStep]:
        """The steps in forward order."""
        return [s for s in self._modules.values() if isinstance(s, LiftingStep)]

    def append(self, module: nn.Module) -> LiftingChain:
        if not isinstance(module, LiftingStep) or module.coarse_channels != self.coarse_channels:
            raise TypeError(
                f"LiftingChain.append needs a LiftingStep with coarse_channels={self.coarse_channels}"
            )
        super().append(module)
        return self

    def forward_parts(self, c: Tensor, d: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """Every step's :meth:`LiftingStep.forward_parts`, first to last; returns ``(c, d)``."""
        for s in self.steps():
            c, d = s.forward_parts(c, d, **cond)
        return c, d

    def inverse_parts(self, c: Tensor, d: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """Every step's :meth:`LiftingStep.inverse_parts`, last to first; returns ``(c, d)``."""
        for s in reversed(self.steps()):
            c, d = s.inverse_parts(c, d, **cond)
        return c, d

    def forward(self, x: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:
        """Data -> coefficients; ``log_det = 0`` of shape ``(B,)``."""
        c, d = self.forward_parts(*self.steps()[0].split(x, "LiftingChain input"), **cond)
        return torch.cat((c, d), dim=1), zero_logdet(x)

    def inverse(self, y: Tensor, **cond: Any) -> Tensor:
        """Coefficients -> data."""
        c, d = self.inverse_parts(*self.steps()[0].split(y, "LiftingChain.inverse input"), **cond)
        return torch.cat((c, d), dim=1)

    def extra_repr(self) -> str:
        return f"coarse_channels={self.coarse_channels}"
