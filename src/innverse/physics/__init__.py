"""Forward operators ``y = A(x) + n`` for imaging inverse problems (see :mod:`innverse.physics.base`).

Linear, with adjoint, closed-form prox and pseudo-inverse:

* :class:`Denoising` (``A = I``; SVD),
* :class:`CircularBlur` (FFT; exact real DFT SVD),
* :class:`Downsampling` (``kind="average"``: s×s block means with exact SVD; ``kind="bicubic"``),
* :class:`Inpainting` (binary mask; selection SVD).

Non-linear: :class:`QuantizedDownsampling` (averaging, then JPEG-like quantisation; straight-through
surrogate).  Also :func:`bicubic_upsample` (the super-resolution baseline) and
:func:`synthesize_reflection` (ERRNet's synthetic reflections).  Images are ``(B, C, H, W)`` on
``[0, 1]``; ``sigma`` is on that scale.  Only torch and numpy are imported.
"""

from __future__ import annotations

from innverse.physics.base import SVD, LinearOperator, Operator, conjugate_gradient
from innverse.physics.bicubic import bicubic_upsample
from innverse.physics.blur import CircularBlur, psf2otf
from innverse.physics.denoising import Denoising
from innverse.physics.downsampling import Downsampling
from innverse.physics.inpainting import Inpainting, random_mask
from innverse.physics.quantized import QuantizedDownsampling
from innverse.physics.reflection import synthesize_reflection

__all__ = [
    "Operator",
    "LinearOperator",
    "SVD",
    "conjugate_gradient",
    "Denoising",
    "CircularBlur",
    "psf2otf",
    "Downsampling",
    "bicubic_upsample",
    "Inpainting",
    "random_mask",
    "QuantizedDownsampling",
    "synthesize_reflection",
]
