"""Solvers: tiled inference, denoising (with noise estimation and colour handling), PnP deblurring."""

from innverse.solvers.denoise import (
    BLIND_DENOISER,
    NOISE_ESTIMATOR,
    check_sigma,
    default_denoiser_name,
    denoise_tensor,
    estimate_sigma,
)
from innverse.solvers.pnp import deblur_tensor, pnp_deblur, wiener_deconv
from innverse.solvers.tiled import tile_grid, tiled_apply

__all__ = [
    "BLIND_DENOISER",
    "NOISE_ESTIMATOR",
    "check_sigma",
    "deblur_tensor",
    "default_denoiser_name",
    "denoise_tensor",
    "estimate_sigma",
    "pnp_deblur",
    "tile_grid",
    "tiled_apply",
    "wiener_deconv",
]
