"""The encoder of an ``extract`` run runs in one dedicated thread, so its memory stays flat.

glibc gives each thread that allocates its own arena. When the encoder ran in the main thread, its
activations (1-6 MB blocks, allocated and freed at every micro-batch) shared the main heap with the
small long-lived objects that arrive with every batch from the DataLoader (tensor and storage
handles, events, the unpickled batch itself). Those landed in the holes the activations had just
left, split them, and the next batch's activations no longer fitted: the heap crept up by 50-120
MiB from a 5- to a 40-minute file, varying from run to run with timing (``benchmarks/bench_memory.py``'s
sampler; figures in docs/extract.md). In a thread of its own the
encoder's arena sees the same allocation sequence at every batch and reaches a steady state, as long
as nothing allocated there outlives the next job: ``runner._Pipeline`` pools each batch's frames in
the encoder thread, in the job that starts the following batch (results handed to the main thread
and freed there at varying moments made the arena grow by ~400 MiB over a 40-minute file), and the
per-file accumulators are created by the main thread.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Callable, TypeVar

import torch

from ..runtime import shared_thread_pool

T = TypeVar("T")


def submit_to_encoder_thread(fn: Callable[[], T]) -> "Future[T]":
    """Queue ``fn()`` on the process's encoder thread, under ``torch.inference_mode`` (thread-local,
    hence set here). Jobs run one at a time, in submission order; ``.result()`` re-raises."""
    def call() -> T:
        with torch.inference_mode():
            return fn()

    return shared_thread_pool(1, "slicer-embed-encoder").submit(call)
