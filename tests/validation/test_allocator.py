"""Validation's process hands a dropped batch's large arrays back to the system (glibc)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from wishflow.allocator import hold_mmap_threshold

# Frees one large block (glibc then raises its mmap threshold above the arrays that follow), fills
# 80 MB with 400 KB arrays (a batch's columns), frees all but the newest, and prints how much of
# the 80 MB the process still holds.
_SCRIPT = """
import sys
import numpy as np
from wishflow.allocator import hold_mmap_threshold

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))

if sys.argv[1] == "hold":
    assert hold_mmap_threshold()
big = np.ones(4_000_000)
del big
before = rss_mb()
columns = [np.ones(50_000) for _ in range(200)]
newest = columns.pop()
del columns
print(rss_mb() - before)
"""


def _kept_mb(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_dropped_column_arrays_go_back_to_the_system_once_the_threshold_is_held() -> None:
    assert _kept_mb("default") >= 60  # the heap keeps what lies below its newest block
    assert _kept_mb("hold") <= 10


def test_the_threshold_is_held_on_glibc_only_and_holding_it_again_changes_nothing() -> None:
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert hold_mmap_threshold() is on_glibc
    assert hold_mmap_threshold() is on_glibc


# Fills 60 MB with 10 KB blocks (below the mmap threshold: glibc's heap), frees all but the newest,
# which keeps the heap's top in place, then trims if asked; prints how much of the 60 MB is still held.
_TRIM_SCRIPT = """
import sys
from wishflow.allocator import trim_heap

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))

before = rss_mb()
blocks = [bytes(10_000) for _ in range(6_000)]
newest = blocks.pop()
del blocks
if sys.argv[1] == "trim":
    assert trim_heap()
print(rss_mb() - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_trimming_hands_back_the_free_pages_below_the_heap_s_top() -> None:
    def kept_mb(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", _TRIM_SCRIPT, mode], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    assert kept_mb("keep") >= 45
    assert kept_mb("trim") <= 10
