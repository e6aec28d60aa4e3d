"""The two contracts every innverse block follows: bijections and frames.

Direction and sign convention (read this once, it holds everywhere in the library):

**Bijections** (:class:`InvertibleModule`: splits, lifting steps, couplings, flows)

* ``forward(x, **cond) -> (y, log_det)`` maps the *data* side ``x`` to the *latent/coefficient*
  side ``y``.  ``log_det`` has shape ``(B,)`` and equals ``log |det dy/dx|`` of that forward map,
  per sample, accumulated in ``x``'s dtype and on ``x``'s device.
* ``inverse(y, **cond) -> x`` is the exact inverse of ``forward`` (no log-det is returned; the
  log-det of the inverse map is ``-log_det``).  Both ``inverse(forward(x)) == x`` and
  ``forward(inverse(y)) == y`` hold (to rounding).

**Frames** (:class:`Frame`: redundant linear or non-linear analysis operators, e.g. the stride-1 DCT
frame of WINNet)

* ``analysis(x, **cond) -> y`` (also ``forward``) maps data to *more* coefficients than inputs
  (``redundancy`` coefficients per input value), so there is no log-determinant.
* ``synthesis(y, **cond) -> x`` is an exact **left inverse**: ``synthesis(analysis(x)) == x`` for every
  ``x``.  It is not a right inverse: ``analysis(synthesis(y))`` is ``y`` only for ``y`` in the range of
  the analysis (for a tight frame, ``synthesis`` is the pseudo-inverse, so it projects onto that range
  first).  Editing coefficients (e.g. denoising them) and synthesising is the intended use.

**Conditioning** is declared explicitly.  A block (or a sub-network handed to a block, such as a
lifting predictor) lists the keywords it uses in its ``conditions`` attribute, e.g. ``("sigma",)`` for
a noise level on the data scale, shape ``(B,)``; ``("t",)`` for a diffusion time; ``("cond",)`` for a
conditioning tensor.  It is a class attribute; an instance may override it when its configuration
decides (an unconditional coupling declares ``()``).  Blocks accept any keywords and ignore those they
do not use, so containers can pass one set of keywords to all their parts; the same values must be
given to both directions for the inverse to be exact.  :func:`conditions_of` collects what a whole
network uses; nothing is inferred from function signatures.

Every block in :mod:`innverse.nn` is tested with :mod:`innverse.nn.testing`: ``inverse(forward(x)[0])``
(bijections) or ``synthesis(analysis(x))`` (frames) reproduces ``x`` to <= 1e-12 in float64, and
``log_det`` matches ``log|det J|`` of the autograd Jacobian.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "InvertibleModule",
    "Frame",
    "zero_logdet",
    "check_image",
    "declared_conditions",
    "conditions_of",
    "select_conditions",
    "records_graph",
]


def zero_logdet(x: Tensor) -> Tensor:
    """A ``(B,)`` zero log-det in ``x``'s dtype and device."""
    return x.new_zeros(x.shape[0])


def check_image(x: Tensor, multiple: int = 1, name: str = "input") -> None:
    """Validate a (B, C, H, W) tensor whose spatial sizes must be multiples of ``multiple``.

    Raises ``ValueError`` naming the shape instead of silently cropping.
    """
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (B, C, H, W); got {tuple(x.shape)}")
    if multiple > 1 and (x.shape[-2] % multiple or x.shape[-1] % multiple):
        raise ValueError(
            f"{name} of shape {tuple(x.shape)} has a spatial size that is not a multiple of {multiple}; "
            f"pad or crop it first"
        )


def declared_conditions(module: nn.Module) -> tuple[str, ...]:
    """The conditioning keywords ``module`` declares in its ``conditions`` attribute (the class
    attribute, or an instance attribute set in ``__init__`` by modules whose conditioning depends on
    their configuration); ``()`` for modules that declare none, e.g. plain ``torch.nn`` layers."""
    keys = module.__dict__.get("conditions", getattr(type(module), "conditions", ()))
    ok = isinstance(keys, tuple | list) and all(isinstance(k, str) for k in keys)
    if not ok:
        raise TypeError(f"{type(module).__name__}.conditions must be a tuple of keyword names; got {keys!r}")
    return tuple(keys)


def conditions_of(module: nn.Module) -> tuple[str, ...]:
    """Every conditioning keyword used anywhere in ``module`` (its own and its sub-modules'), sorted."""
    found: set[str] = set()
    for m in module.modules():
        found.update(declared_conditions(m))
    return tuple(sorted(found))


def select_conditions(keys: tuple[str, ...], cond: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``cond`` named in ``keys`` (declared keywords that were not given are left out,
    so a network may treat its conditioning as optional)."""
    return {k: cond[k] for k in keys if k in cond}


def records_graph(module: nn.Module, *inputs: object) -> bool:
    """Whether a model call should record an autograd graph.

    The rule of innverse's models: a graph is recorded when grad mode is on **and** either the module is
    in training mode or one of the tensor ``inputs`` requires grad.  A model in eval mode (as every
    loader returns it) therefore never hands back tensors that require grad unless the caller asked
    for gradients with respect to an input (for example an attack or a plug-and-play gradient step).
    """
    if not torch.is_grad_enabled():
        return False
    if module.training:
        return True
    return any(isinstance(t, Tensor) and t.requires_grad for t in inputs)


class InvertibleModule(nn.Module):
    """Base class of invertible blocks (bijections).

    Subclasses implement :meth:`forward` returning ``(y, log_det)`` with ``log_det = log|det dy/dx|``
    of shape ``(B,)``, and :meth:`inverse` returning ``x``.  Conditioning keywords are accepted and
    ignored by blocks that do not need them; a block that uses some lists them in ``conditions``.
    """

    #: the conditioning keywords this block uses itself (see the module docstring): a class attribute,
    #: which an instance may override when its configuration decides (e.g. an unconditional coupling)
    conditions: tuple[str, ...] = ()

    def forward(self, x: Tensor, **cond: Any) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, y: Tensor, **cond: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def roundtrip_error(self, x: Tensor, **cond: Any) -> float:
        """Max absolute error of ``inverse(forward(x))`` (a self-check users can run on their data)."""
        y, _ = self.forward(x, **cond)
        return float((self.inverse(y, **cond) - x).abs().max())


class Frame(nn.Module):
    """Base class of frames: a redundant analysis with an exact left inverse (see the module docstring).

    Subclasses implement :meth:`analysis` (data -> coefficients, ``redundancy`` coefficients per input
    value) and :meth:`synthesis` (coefficients -> data) with ``synthesis(analysis(x)) == x``.
    ``forward`` is the analysis.
    """

    #: the conditioning keywords this frame uses itself
    conditions: tuple[str, ...] = ()
    #: coefficients per input value (an integer for the frames in innverse)
    redundancy: int = 1

    def analysis(self, x: Tensor, **cond: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def synthesis(self, y: Tensor, **cond: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor, **cond: Any) -> Tensor:
        """The analysis, ``data -> coefficients``."""
        return self.analysis(x, **cond)

    @torch.no_grad()
    def roundtrip_error(self, x: Tensor, **cond: Any) -> float:
        """Max absolute error of ``synthesis(analysis(x))`` (the left-inverse self-check)."""
        return float((self.synthesis(self.analysis(x, **cond), **cond) - x).abs().max())
