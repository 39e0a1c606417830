"""The training process keeps the memory it frees, instead of handing it back to the OS every step.

A ``--preset cpu`` step allocates and frees about a gigabyte of activations and gradients, many of
them one tensor of 6-50 MB. With glibc's defaults, blocks above the mmap threshold are fresh mappings
and the top of the heap is trimmed after frees, so every step page-faults its working set back in,
zero-filled by the kernel. With mmap off and a 2 GiB trim threshold the heap reaches the step's peak
once and is reused. Only where the memory goes changes, never a value (tests/test_train_allocator.py
checks the exported weights); figures in docs/performance.md ("Training fast path") and
docs/history.md.

The cost is that the process holds its peak heap until it exits, which a training process does
anyway from its second step on. Applied by ``slicer-embed train`` (the command owns its process),
not by ``train()``, which may run inside a longer-lived program (a notebook, the test suite).
"""

from __future__ import annotations

from slicer_embed.extraction.memory import M_MMAP_MAX, M_TRIM_THRESHOLD, set_malloc_options

TRIM_THRESHOLD_BYTES = (1 << 31) - 1  # mallopt takes an int: 2 GiB, above the step's peak heap


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap (no per-block mmap) and never trim it; True where applied
    (glibc). Process-wide and lasting; DataLoader workers forked later inherit it."""
    return set_malloc_options([(M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)])
