"""innverse: exactly invertible neural networks for imaging inverse problems.

Quick start::

    import innverse
    clean = innverse.denoise(noisy_uint8_array, sigma=25)   # sigma on the 0-255 scale
    sigma = innverse.estimate_noise(noisy_uint8_array)
    sharp = innverse.deblur(blurred, kernel)
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~20 ms of every start-up
if TYPE_CHECKING:
    from innverse.api import deblur, denoise, estimate_noise, remove_reflection, superres

_LAZY = {"deblur", "denoise", "estimate_noise", "remove_reflection", "superres"}


def __getattr__(name: str) -> object:
    """The top-level functions import torch on first use, so that ``import innverse`` (and the
    command line's help) stays fast."""
    if name in _LAZY:
        from innverse import api

        return getattr(api, name)
    raise AttributeError(f"module 'innverse' has no attribute {name!r}")


__all__ = ["__version__", "deblur", "denoise", "estimate_noise", "remove_reflection", "superres"]
