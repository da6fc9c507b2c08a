"""Hand large freed blocks back to the operating system at once (glibc's malloc).

glibc serves a block of 128 KiB or more with a mapping of its own and unmaps it when freed, but
it raises that threshold to the size of each such block freed (up to 32 MiB), so a process that
frees a few large arrays then takes every later one from its heap. Heap memory goes back to the
system only from the top of the heap, so validation, which builds and drops a batch's column
arrays (50,000 values each, ~400 KB) every few seconds, kept its high-water mark and more: its peak
fell by about 20 MB with the threshold held (at 100,000 and at 1M orders), for about 5% more of
its CPU (bench/PROFILE.md).

:func:`trim_heap` hands back, besides, the free pages inside the heap, which glibc keeps until the
heap's top is free: after each validation batch, it took the 1M validation's peak down by 3-6 MB
(bench/PROFILE.md, stop 23).
"""

from __future__ import annotations

import ctypes
import functools
import platform

#: ``M_MMAP_THRESHOLD`` in glibc's ``<malloc.h>``.
_M_MMAP_THRESHOLD = -3
#: glibc's own starting threshold, held instead of raised.
LARGE_BLOCK_BYTES = 128 * 1024

_held = False


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library, where it is glibc (loaded once); None elsewhere."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def hold_mmap_threshold(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Fix glibc's mmap threshold for this process; False where the C library is not glibc.

    Process-wide and for the rest of the process (glibc has no call to undo it); idempotent.
    """
    global _held  # noqa: PLW0603 - one setting per process
    if _held:
        return True
    libc = _glibc()
    if libc is None:
        return False
    _held = bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    return _held


def trim_heap() -> bool:
    """Return the heap's free pages to the system (glibc's ``malloc_trim(0)``); False elsewhere.

    glibc gives back the free pages anywhere in each of its heaps, not only at the top; about 1 ms
    after a validation batch.
    """
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))
