"""Per-file running pooling of frame embeddings, identical to ``SlicerModel._pool_sources``.

A file's windows arrive in order, possibly spread over several batches; the accumulator keeps the
float64 running sum, the running max and the frame count (clip level) and/or the frames themselves
(frame level), so memory per file is O(D) at clip level however long the file is. At frame level,
given a ``spill`` factory, a file's frames go to a spill file every ``spill_rows`` frames, so memory
per file is bounded at that level too (``store.FrameSpill``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from ..windows import frame_centres


def window_summaries(out: torch.Tensor, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-window float64 sum and float32 max over each window's kept frames.

    ``out`` (B, T, D) float32 frames of a batch of windows; ``kept`` (B,) leading frames that belong
    to the clip (1..T). Returns (sums (B, D) float64, maxima (B, D) float32). Whole windows are
    reduced in one call per batch; a torch reduction over the frame axis of (B, T, D) gives the same
    bits as ``f.sum(0, dtype=float64)`` window by window (tests/test_extract_pooling.py), so rows
    still equal ``SlicerModel._pool_sources``.
    """
    sums = out.sum(1, dtype=torch.float64)
    maxima = out.amax(1)
    for i in np.flatnonzero(kept < out.shape[1]).tolist():  # a file's last, partial window
        k = int(kept[i])
        sums[i] = out[i, :k].sum(0, dtype=torch.float64)
        maxima[i] = out[i, :k].amax(0)
    return sums.numpy(), maxima.numpy()


def anonymous_rows(rows: int, dim: int) -> np.ndarray:
    """(rows, dim) float32 zeros in a mapping of their own (``mmap``): given back to the OS as soon as
    the last view of it goes, whichever thread drops it, so buffers that live for one file never
    fragment a heap arena (only the rows written count in RSS)."""
    import mmap

    return np.frombuffer(mmap.mmap(-1, max(1, rows * dim) * 4), np.float32)[:rows * dim].reshape(rows, dim)


class FileAccumulator:
    """Running state of one file: ``add`` takes one window's summary (``window_summaries``) and,
    at frame level, its kept frames (k, D).

    Frames are copied into one buffer of ``spill_rows`` rows per file (``anonymous_rows``), not kept
    as per-window tensors: the encoder thread writes them and the main thread releases them, and
    small blocks handed between threads that way made the heap grow with the number of files
    (+350 MiB from 60 to 600 one-minute files, docs/extract.md). A full buffer goes to the spill file
    and is reused."""

    def __init__(self, dim: int, clip: bool, frames: bool, spill: Callable[[], Any] | None = None,
                 spill_rows: int = 2048):
        self.clip, self.keep_frames, self.dim = clip, frames, dim
        self.total = np.zeros(dim, np.float64) if clip else None
        self.peak = np.full(dim, -np.inf, np.float32) if clip else None
        self.count = 0
        self.spill_factory, self.spill_rows = spill, spill_rows
        self.buffer: np.ndarray | None = None  # (rows, D): frames not yet spilled are buffer[:pending]
        self.pending = 0
        self.spill: Any = None  # the open store.FrameSpill once the file outgrew spill_rows

    def add(self, n_frames: int, window_sum: np.ndarray | None = None, window_max: np.ndarray | None = None,
            frames: torch.Tensor | None = None) -> None:
        # Same operations, same order as SlicerModel._pool_sources (window by window, float64
        # running sum), so rows equal embed_file(). numpy: ~1 us per call where torch took ~10.
        if self.clip:
            np.add(self.total, window_sum, out=self.total)
            np.maximum(self.peak, window_max, out=self.peak)
        self.count += n_frames
        if self.keep_frames:
            self._keep(frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames))

    def _keep(self, x: np.ndarray) -> None:
        if self.buffer is None:
            self.buffer = anonymous_rows(self.spill_rows if self.spill_factory is not None else 64, self.dim)
        while len(x):
            if self.pending == len(self.buffer):  # full: to the spill file, or (no spill) grow by doubling
                if self.spill_factory is not None:
                    self._spill()
                else:
                    grown = anonymous_rows(2 * len(self.buffer), self.dim)
                    grown[:self.pending] = self.buffer[:self.pending]
                    self.buffer = grown
            n = min(len(self.buffer) - self.pending, len(x))
            self.buffer[self.pending:self.pending + n] = x[:n]
            self.pending += n
            x = x[n:]

    def _spill(self) -> None:
        if self.spill is None:
            self.spill = self.spill_factory()
        self.spill.append(self.buffer[:self.pending])
        self.pending = 0

    def pooled(self, pooling: str) -> np.ndarray:
        """Clip embedding (D,) float32."""
        mean = (self.total / self.count).astype(np.float32)
        out = {"mean": mean, "max": self.peak, "mean+max": mean + self.peak}[pooling]
        return out.astype(np.float32, copy=False)

    def frame_array(self) -> Any:
        """Frame embeddings (T, D) float32 in time order (a view of the file's buffer), or, for a file
        that was spilled, the finished spill (``store.SpilledFrames``)."""
        if self.spill is not None:
            if self.pending:
                self._spill()
            self.buffer = None
            return self.spill.finish()
        if self.buffer is None:
            return np.zeros((0, self.dim), np.float32)
        out, self.buffer, self.pending = self.buffer[:self.pending], None, 0
        return out

    def discard(self) -> None:
        """Drop the frames of a file that failed part-way (and its spill file)."""
        self.buffer, self.pending = None, 0
        if self.spill is not None:
            self.spill.discard()
            self.spill = None


def frame_timestamps(n_frames: int, hop: int, stride: int, sample_rate: int, first: int = 0) -> np.ndarray:
    """Centres (seconds, float64) of output frames first..first+n-1, as ``SlicerModel.embed_frames``
    returns them."""
    return frame_centres(n_frames, hop, stride, first=first) / sample_rate
