"""The encoder of an ``extract`` run runs in one dedicated thread, so its memory stays flat.

glibc gives each thread that allocates its own arena. When the encoder ran in the main thread, its
activations (1-6 MB blocks, allocated and freed at every micro-batch) shared the main heap with the
small long-lived objects that arrive with every batch from the DataLoader (tensor and storage
handles, events, the unpickled batch itself). Those landed in the holes the activations had just
left, split them, and the next batch's activations no longer fitted: the heap crept up by 50-120
MiB from a 5- to a 40-minute file, varying from run to run with timing (measured 2026-11-30 with
``benchmarks/bench_memory.py``'s sampler; figures in docs/extract.md). In a thread of its own the
encoder's arena sees the same allocation sequence at every batch and reaches a steady state, as long
as nothing allocated there outlives its job: ``runner._submit`` pools each batch's frames inside the
job (results handed to the main thread and freed there at varying moments made the arena grow by
~400 MiB over a 40-minute file), and the per-file accumulators are created by the main thread.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import torch

_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def submit_to_encoder_thread(fn: Callable[[], torch.Tensor]) -> "Future[torch.Tensor]":
    """Queue ``fn()`` on the process's encoder thread, under ``torch.inference_mode`` (thread-local,
    hence set here). Jobs run one at a time, in submission order; ``.result()`` re-raises."""
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(1, thread_name_prefix="slicer-embed-encoder")
        pool = _POOL

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return fn()

    return pool.submit(call)


def run_in_encoder_thread(fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``fn()`` evaluated in the encoder thread; waits for it (see ``submit_to_encoder_thread``)."""
    return submit_to_encoder_thread(fn).result()


def _forget_in_child() -> None:
    # A forked child (a DataLoader worker) inherits the executor object but not its thread.
    global _POOL, _LOCK
    _POOL, _LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
