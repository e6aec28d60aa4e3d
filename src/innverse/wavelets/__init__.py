"""Classical wavelets computed by lifting, and wavelet-thresholding denoisers.

* :func:`wavedec2` / :func:`waverec2`: periodic multi-level 2-D DWT on torch tensors for
  ``'haar'``, ``'cdf53'`` (= pywt ``'bior2.2'``) and ``'cdf97'`` (= pywt ``'bior4.4'``), with
  PyWavelets' coefficient layout and ``mode='periodization'`` values; exact inverse,
  differentiable, any float dtype and device.
* :func:`estimate_sigma`: MAD noise estimate from the finest diagonal band.
* :func:`denoise`: BayesShrink / VisuShrink soft thresholding with mirror padding.
"""

from __future__ import annotations

from innverse.wavelets.lifting import (
    MIN_COARSE_SIZE,
    WAVELETS,
    LiftingScheme,
    band_noise_gains,
    default_level,
    dwt,
    dwt2,
    get_wavelet,
    idwt,
    idwt2,
    max_level,
    wavedec2,
    wavelet_names,
    waverec2,
)
from innverse.wavelets.threshold import (
    DEFAULT_LEVEL,
    DEFAULT_PAD,
    bayes_threshold,
    denoise,
    estimate_sigma,
    hard_threshold,
    mirror_pad,
    soft_threshold,
    sure_keep,
    sure_risk,
    visu_threshold,
)

__all__ = [
    "MIN_COARSE_SIZE",
    "WAVELETS",
    "LiftingScheme",
    "band_noise_gains",
    "default_level",
    "dwt",
    "dwt2",
    "get_wavelet",
    "idwt",
    "idwt2",
    "max_level",
    "wavedec2",
    "wavelet_names",
    "waverec2",
    "DEFAULT_LEVEL",
    "DEFAULT_PAD",
    "bayes_threshold",
    "denoise",
    "estimate_sigma",
    "hard_threshold",
    "mirror_pad",
    "soft_threshold",
    "sure_keep",
    "sure_risk",
    "visu_threshold",
]
