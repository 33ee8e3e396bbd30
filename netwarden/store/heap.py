"""The C heap of a process that imports a large file: freed memory kept for the next batch.

Each batch allocates and frees the same large blocks again (a pickled batch of several MB, columns of 20,000
pointers). glibc gives blocks above 128 KiB their own mapping and returns the heap's free top to the system, so
every batch faulted those pages in afresh: about half of the parsing process's page faults, which took a tenth of
its CPU (system time) on an SSH log. Kept, the next batch reuses them; the peak stays what it was."""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 64 << 20  # blocks up to this from the heap (a batch's pickle: ~7 MB for 20,000 SSH lines)
TRIM_THRESHOLD = 256 << 20  # free memory at the heap's top kept up to this


def keep_freed_memory() -> bool:
    """Tune glibc's malloc of this process as above; False where that is not glibc's (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
        gnu = ctypes.CDLL(None).gnu_get_libc_version  # glibc only: musl's mallopt does nothing
    except (OSError, AttributeError):
        return False
    del gnu
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
