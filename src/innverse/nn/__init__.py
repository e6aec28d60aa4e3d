"""Exactly invertible building blocks (see :mod:`innverse.nn.base` for the contract)."""

from __future__ import annotations

from .base import InvertibleModule, check_image, zero_logdet
from .checkpoint import InvertibleCheckpoint, memory_saving
from .coupling import AdditiveCoupling, AffineCoupling, coupling_net
from .glow import ActNorm, Invertible1x1Conv
from .lifting import LiftingStep
from .sequential import Sequential
from .splits import HaarSplit, PolyphaseSplit
from .testing import assert_invertible, jacobian_logdet

__all__ = [
    "InvertibleModule",
    "zero_logdet",
    "check_image",
    "Sequential",
    "HaarSplit",
    "PolyphaseSplit",
    "LiftingStep",
    "AdditiveCoupling",
    "AffineCoupling",
    "coupling_net",
    "ActNorm",
    "Invertible1x1Conv",
    "InvertibleCheckpoint",
    "memory_saving",
    "assert_invertible",
    "jacobian_logdet",
]
