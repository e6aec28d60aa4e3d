"""Typed seams between the models and the code that uses them (solvers, training, benchmarks).

Each protocol is what a caller may rely on; any object with these members fits (our models, a wrapped
peer model, a test stand-in).  They are ``runtime_checkable``: ``isinstance(m, Denoiser)`` checks that
the members exist (not their signatures).

* :class:`Denoiser` -- ``model(y, sigma) -> x_hat``, ``y`` (B, 1, H, W) in [0, 1], ``sigma`` on the data
  scale (float or (B,) tensor); ``blind`` says whether it was trained over a range of noise levels
  (so each image may carry its own sigma); ``min_size`` the smallest image side it accepts.
* :class:`NoiseEstimator` -- ``model(y) -> sigma_hat`` of shape (B,), on the data scale.
* :class:`EpsModel` -- a diffusion model, ``model(x_t, t) -> output`` (epsilon or v) with ``t`` a (B,)
  int64 tensor of timesteps.
* :class:`Flow` -- an invertible network with the contract of :mod:`innverse.nn.base`:
  ``model(x, **cond) -> (z, log|det dz/dx|)`` and ``model.inverse(z, **cond) -> x``.
* :class:`Checkpointable` -- what :func:`innverse.models.io.save_model` writes: ``kind`` (a name in
  :mod:`innverse.models.registry`), the constructor ``config`` and the ``state_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from torch import Tensor

__all__ = ["Denoiser", "NoiseEstimator", "EpsModel", "Flow", "Checkpointable"]


@runtime_checkable
class Denoiser(Protocol):
    """A Gaussian denoiser (see the module docstring)."""

    @property
    def blind(self) -> bool: ...

    @property
    def min_size(self) -> int: ...

    def __call__(self, y: Tensor, sigma: float | Tensor) -> Tensor: ...


@runtime_checkable
class NoiseEstimator(Protocol):
    """A noise-level estimator (see the module docstring)."""

    @property
    def min_size(self) -> int: ...

    def __call__(self, y: Tensor) -> Tensor: ...


@runtime_checkable
class EpsModel(Protocol):
    """A diffusion model's network (see the module docstring)."""

    def __call__(self, x_t: Tensor, t: Tensor) -> Tensor: ...


@runtime_checkable
class Flow(Protocol):
    """An invertible network (see the module docstring)."""

    def __call__(self, x: Tensor, **cond: Any) -> tuple[Tensor, Tensor]: ...

    def inverse(self, z: Tensor, **cond: Any) -> Tensor: ...


@runtime_checkable
class Checkpointable(Protocol):
    """A model :func:`~innverse.models.io.save_model` can write."""

    @property
    def kind(self) -> str: ...

    @property
    def config(self) -> dict[str, Any]: ...

    def state_dict(self) -> Mapping[str, Any]: ...
