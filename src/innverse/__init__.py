"""innverse: exactly invertible neural networks for imaging inverse problems.

Quick start::

    import innverse
    clean = innverse.denoise(noisy_uint8_array, sigma=25)   # sigma on the 0-255 scale
    sigma = innverse.estimate_noise(noisy_uint8_array)
    sharp = innverse.deblur(blurred, kernel)
"""

from __future__ import annotations

__version__ = "0.1.0"

from innverse.api import deblur, denoise, estimate_noise  # noqa: E402

__all__ = ["__version__", "deblur", "denoise", "estimate_noise"]
