"""Process-level performance settings (opt-in; importing innverse changes nothing).

On CPU, glibc's ``malloc`` hands every block above its mmap threshold (at most 32 MiB) straight
from the kernel and returns it on free, so each operator on a large activation (32 channels of a
512x512 image are 35 MB) pays for fresh, zero-filled pages.  Raising the threshold keeps those
buffers in the heap and reuses them: WINNet on a 512x512 image went from 14.3 s to 5.4 s on one
thread here (``benchmarks/winnet_official.py``).  The ``innverse`` command and the benchmarks
call :func:`tune_cpu_allocator`; library users can call it once at start-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["tune_cpu_allocator"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_cpu_allocator(threshold: int = 1 << 30) -> bool:
    """Raise glibc's mmap and trim thresholds to ``threshold`` bytes; True when applied.

    A no-op (False) on other C libraries and platforms.  Freed memory then stays with the process
    for reuse instead of going back to the system at once (peak memory is unchanged).
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
