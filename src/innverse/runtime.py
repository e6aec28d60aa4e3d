"""Process-level allocator setting (opt-in; neither importing innverse nor the CLI changes it).

On CPU, glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB by default)
straight from the kernel and returns it on free, so each operator on a larger activation pays for
fresh, zero-filled pages.  innverse's default tiled inference keeps every activation under that
ceiling (:data:`innverse.solvers.denoise.DEFAULT_TILE`), so it runs at full speed with glibc's
defaults; raising the threshold then changes nothing measurable.  It still helps whole-image
inference of large images (``tile=None``, ``innverse ... --tile 0``): WINNet on one 512x512 image
takes about 2x the time per pixel of a 264x264 one under glibc's defaults, and about the same once
the threshold is raised (``benchmarks/real_paths.py``).

Library users call :func:`tune_cpu_allocator` once at start-up.  The ``innverse`` command applies
it when the environment variable ``INNVERSE_TUNE_ALLOCATOR`` is ``1`` (:func:`tune_from_environment`),
and by default only for ``innverse train``, a long-running process of its own whose untiled training
batches ran 5% faster with it (``benchmarks/train_speed.py --tune-allocator``); ``0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["ENV_VAR", "tune_cpu_allocator", "tune_from_environment"]

#: environment variable that makes the ``innverse`` command call :func:`tune_cpu_allocator`
ENV_VAR = "INNVERSE_TUNE_ALLOCATOR"

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_cpu_allocator(threshold: int = 1 << 30) -> bool:
    """Raise glibc's mmap and trim thresholds to ``threshold`` bytes; True when applied.

    Process-wide and irreversible for the process.  A no-op (False) on other C libraries and
    platforms.  Freed memory then stays with the process for reuse instead of going back to the
    system at once (peak memory is unchanged).
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, threshold) == 1
    _done = ok
    return ok


def tune_from_environment(default: bool = False) -> bool:
    """:func:`tune_cpu_allocator` when ``$INNVERSE_TUNE_ALLOCATOR`` is ``1``/``true``/``yes``, nothing
    when it is ``0``/``false``/``no``, ``default`` when it is unset or anything else; True when applied."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    on = True if value in ("1", "true", "yes") else False if value in ("0", "false", "no") else default
    return tune_cpu_allocator() if on else False
