"""Exactly invertible building blocks: bijections and frames (see :mod:`innverse.nn.base` for both
contracts), the lifting/coupling/Glow blocks, and :mod:`innverse.nn.kernels` (the fast kernels of the
lifting networks).  Needs only torch."""

from __future__ import annotations

from .base import (
    Frame,
    InvertibleModule,
    check_image,
    conditions_of,
    declared_conditions,
    records_graph,
    zero_logdet,
)
from .checkpoint import InvertibleCheckpoint, memory_saving
from .coupling import AdditiveCoupling, AffineCoupling, conv_subnet, coupling_net, mlp_subnet
from .frames import DCTFrame, dct_matrix
from .glow import ActNorm, Invertible1x1Conv, Permute
from .lifting import LiftingChain, LiftingStep
from .sequential import Sequential
from .splits import HaarSplit, PolyphaseSplit
from .testing import assert_invertible, assert_left_inverse, jacobian_logdet

__all__ = [
    "InvertibleModule",
    "Frame",
    "zero_logdet",
    "check_image",
    "conditions_of",
    "declared_conditions",
    "records_graph",
    "DCTFrame",
    "dct_matrix",
    "Sequential",
    "HaarSplit",
    "PolyphaseSplit",
    "LiftingStep",
    "LiftingChain",
    "AdditiveCoupling",
    "AffineCoupling",
    "coupling_net",
    "conv_subnet",
    "mlp_subnet",
    "Permute",
    "ActNorm",
    "Invertible1x1Conv",
    "InvertibleCheckpoint",
    "memory_saving",
    "assert_invertible",
    "assert_left_inverse",
    "jacobian_logdet",
]
