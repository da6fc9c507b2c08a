"""Hand large freed blocks back to the operating system at once (glibc's malloc).

glibc serves a block of 128 KiB or more with a mapping of its own and unmaps it when freed, but
it raises that threshold to the size of each such block freed (up to 32 MiB), so a process that
frees a few large arrays then takes every later one from its heap. Heap memory goes back to the
system only from the top of the heap, so validation, which builds and drops a batch's column
arrays (50,000 values each, ~400 KB) every few seconds, kept its high-water mark and more: its peak
fell by about 20 MB with the threshold held (at 100,000 and at 1M orders), for about 5% more of
its CPU (bench/PROFILE.md).
"""

from __future__ import annotations

import ctypes
import platform

#: ``M_MMAP_THRESHOLD`` in glibc's ``<malloc.h>``.
_M_MMAP_THRESHOLD = -3
#: glibc's own starting threshold, held instead of raised.
LARGE_BLOCK_BYTES = 128 * 1024

_held = False


def hold_mmap_threshold(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Fix glibc's mmap threshold for this process; False where the C library is not glibc.

    Process-wide and for the rest of the process (glibc has no call to undo it); idempotent.
    """
    global _held  # noqa: PLW0603 - one setting per process
    if _held:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    _held = bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    return _held
