"""Keeping the encoder process's resident memory flat over hours of audio.

With glibc's defaults the heap of a long ``extract`` grows although nothing is kept per window: glibc
raises its mmap threshold to the size of every large block it frees, so later activation-sized blocks
(1-32 MB) are carved from the heap, which fragments. Pinning the threshold keeps it flat, at a value
that depends on what the path allocates:

- the plain float32 graph (``--exact``): 4 MiB;
- the fast path: 32 MiB, above its ~6 MB micro-batch activations (a 4 MiB pin turned those into fresh
  mappings that page-fault), with the trim threshold raised to 64 MiB;
- decoding workers: 4 MiB (their blocks are small).

``tune_for_extraction`` applies the right pair for a run. The other half of flat memory is running the
encoder in a thread of its own (``encoder_thread.py``). Figures: docs/extract.md (memory) and
docs/performance.md; how the values were found: docs/history.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
MMAP_THRESHOLD_BYTES = 4 << 20
FAST_PATH_MMAP_THRESHOLD_BYTES = 32 << 20
FAST_PATH_TRIM_THRESHOLD_BYTES = 64 << 20


def pin_mmap_threshold(nbytes: int = MMAP_THRESHOLD_BYTES, trim_bytes: int | None = None) -> bool:
    """Serve every allocation of ``nbytes`` or more by its own mmap, returned to the OS when freed.

    Process-wide, and it turns off glibc's dynamic threshold. ``trim_bytes``: also keep up to that
    much free memory at the top of each heap instead of returning it to the OS after every free
    (pinning the mmap threshold leaves glibc's trim threshold at 128 KiB, so the per-thread heaps of
    the fast path's core-workers shrank and page-faulted back after every micro-batch: 3-5 s of
    system time per hour of audio; 0.9 s with 64 MiB, for +27 MiB of peak memory on a 2-hour file).
    Returns True when applied; False where there is no glibc (macOS, Windows, musl), which have no
    such growth to prevent.
    """
    settings = [(M_MMAP_THRESHOLD, nbytes)] + ([] if trim_bytes is None else [(M_TRIM_THRESHOLD, trim_bytes)])
    return set_malloc_options(settings)


def set_malloc_options(settings: list[tuple[int, int]]) -> bool:
    """``mallopt(param, value)`` for each pair, in order (glibc only); True when every one applied.

    Process-wide and lasting. False where there is no glibc (macOS, Windows, musl) or one was refused.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, int(value)) == 1 for param, value in settings)


def tune_for_extraction(exact: bool) -> bool:
    """Set the allocator for an ``extract`` process: 4 MiB mmap threshold for the plain graph
    (``exact``); 32 MiB mmap and 64 MiB trim thresholds for the fast path, whose ~6 MB activations
    would otherwise be fresh mappings or trimmed heap after every micro-batch."""
    if exact:
        return pin_mmap_threshold(MMAP_THRESHOLD_BYTES)
    return pin_mmap_threshold(FAST_PATH_MMAP_THRESHOLD_BYTES, FAST_PATH_TRIM_THRESHOLD_BYTES)
