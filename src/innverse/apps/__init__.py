"""Applications built on the models and samplers: :func:`~innverse.apps.superres.superres`
(super-resolution with INDigo, DPS, DDRM, ILVR, bicubic or the INN alone)."""

from innverse.apps.superres import PosteriorSamples, SuperResolver, superres

__all__ = ["PosteriorSamples", "SuperResolver", "superres"]
