"""Guided diffusion sampling for inverse problems ``y = A(x) + n``, one method per module.

* :mod:`~innverse.sampling.base` -- :class:`GuidedSampler`: the loop, the ``[0, 1]`` / ``[-1, 1]``
  scales, per-image seeded noise, the unguided DDPM/DDIM step;
* :mod:`~innverse.sampling.indigo` -- :class:`INDigo` (INN-guided; any degradation the INN learned);
* :mod:`~innverse.sampling.dps` -- :class:`DPS` (gradient of ``|y - A(x0)|``, normalised step);
* :mod:`~innverse.sampling.ddrm` -- :class:`DDRM` (spectral, needs the operator's SVD);
* :mod:`~innverse.sampling.ilvr` -- :class:`ILVR` (low-pass replacement, needs a linear operator);
* :mod:`~innverse.sampling.gaussian` -- the exact ε-model and posterior of Gaussian data (tests,
  reference, and a training-free prior).

Each method takes a :class:`~innverse.diffusion.prior.DiffusionPrior` and an
:mod:`innverse.physics` operator; ``sample(y, generator)`` returns images on ``[0, 1]``.
"""

from innverse.sampling.base import GuidedSampler, generators_for, mix_seeds
from innverse.sampling.ddrm import DDRM
from innverse.sampling.dps import DPS
from innverse.sampling.ilvr import ILVR
from innverse.sampling.indigo import INDigo

__all__ = ["GuidedSampler", "INDigo", "DPS", "DDRM", "ILVR", "generators_for", "mix_seeds"]
