"""Classical wavelets computed by lifting, and wavelet-thresholding denoisers.

User-facing functions (the library's one convention, :mod:`innverse.convention`, as
:func:`innverse.denoise`: numpy ``H×W``/``H×W×C``/``N×H×W×C`` or torch ``H×W``/``C×H×W``/
``B×C×H×W`` images, uint8/uint16 or float on [0, 1], **σ on the 0–255 scale**, results in the
input's kind, dtype and shape):

* :func:`denoise`: BayesShrink / VisuShrink soft thresholding with mirror padding.
* :func:`estimate_sigma`: MAD noise estimate from the finest diagonal band (0–255 scale).

Transforms (numpy arrays and torch tensors alike, result in the input's type; like
:func:`pywt.wavedec2` they act on the **last two axes**, whatever comes before):

* :func:`wavedec2` / :func:`waverec2` (and one level, :func:`dwt2` / :func:`idwt2`): periodic
  multi-level 2-D DWT for ``'haar'``, ``'cdf53'`` (= pywt ``'bior2.2'``) and ``'cdf97'`` (= pywt
  ``'bior4.4'``), with PyWavelets' coefficient layout and ``mode='periodization'`` values; exact
  inverse, differentiable, any float dtype and device.

Data-scale building blocks (σ as a fraction of the value range, channels-first arrays, no value
checks): :func:`denoise_data_scale`, :func:`estimate_sigma_data_scale`, the thresholds
(:func:`bayes_threshold`, :func:`visu_threshold`, :func:`soft_threshold`, :func:`hard_threshold`),
SURE (:func:`sure_risk`, :func:`sure_keep`), :func:`mirror_pad`, 1-D :func:`dwt` / :func:`idwt` on
tensors.
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
    denoise_data_scale,
    estimate_sigma,
    estimate_sigma_data_scale,
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
    "denoise_data_scale",
    "estimate_sigma",
    "estimate_sigma_data_scale",
    "hard_threshold",
    "mirror_pad",
    "soft_threshold",
    "sure_keep",
    "sure_risk",
    "visu_threshold",
]
