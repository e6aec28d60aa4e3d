"""Diffusion priors: noise schedules, DDPM/DDIM samplers, a compact UNet, and loading priors.

The models know no schedule (the diffusers split):

* :mod:`~innverse.diffusion.schedules` -- β schedules, ᾱ, ``add_noise``, timestep respacing;
* :mod:`~innverse.diffusion.ddpm`, :mod:`~innverse.diffusion.ddim` -- the samplers' steps
  ``step(model_out, t, x_t, generator) -> (x_prev, x0_hat)``;
* :mod:`~innverse.diffusion.loop` -- the seeded sampling loop :func:`sample`;
* :mod:`~innverse.diffusion.unet` -- the time-conditioned :class:`UNet` (ε-model);
* :mod:`~innverse.diffusion.prior` -- :class:`DiffusionPrior` (a model with its schedule), :func:`load_prior`;
* :mod:`~innverse.diffusion.checkpoint` -- our prior files;
* :mod:`~innverse.diffusion.images` -- :func:`sample_images`, :func:`image_grid`;
* :mod:`~innverse.diffusion.diffusers_io` -- diffusers ``UNet2DModel`` folders in and out.
"""

from innverse.diffusion.ddim import DDIMSampler
from innverse.diffusion.ddpm import DDPMSampler
from innverse.diffusion.images import image_grid, sample_images
from innverse.diffusion.loop import sample
from innverse.diffusion.prior import DiffusionPrior, load_prior, shipped_priors
from innverse.diffusion.schedules import NoiseSchedule, respace
from innverse.diffusion.unet import UNet

__all__ = [
    "DDIMSampler",
    "DDPMSampler",
    "DiffusionPrior",
    "NoiseSchedule",
    "UNet",
    "image_grid",
    "load_prior",
    "respace",
    "sample",
    "sample_images",
    "shipped_priors",
]
