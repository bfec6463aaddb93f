"""Process memory setting for chunked event loops.

mcsim works in chunks: each chunk allocates its per-event arrays, and frees them when the chunk
is written or reduced.  glibc's malloc hands large freed blocks back to the operating system, so
the next chunk faults the same memory in again, page by page; on a virtual machine that costs
about 2 us per 4 KiB page, as much CPU time as the physics of a two-body chain.
:func:`keep_freed_memory` makes malloc keep freed memory for reuse.  The ``mcsim`` command and
the reach-scan workers call it; scripts driving :func:`mcsim.generation.simulate.simulate` in a loop may too.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 2**20  # glibc's largest: blocks above it are always mapped afresh
_TRIM_THRESHOLD = 2**31 - 1  # keep up to 2 GiB of free memory at the top of the heap


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks up to 32 MiB in the process (M_MMAP_THRESHOLD)
    and not to trim the heap below 2 GiB of free memory (M_TRIM_THRESHOLD).  Idempotent.
    Returns True if applied, False where the C library has no ``mallopt`` (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
