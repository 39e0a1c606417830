"""Per-file running pooling of frame embeddings, identical to ``SlicerModel._pool_sources``.

A file's windows arrive in order, possibly spread over several batches; the accumulator keeps the
float64 running sum, the running max and the frame count (clip level) and/or the frames themselves
(frame level), so memory per file is O(D) at clip level however long the file is.
"""

from __future__ import annotations

import numpy as np
import torch

from ..windows import frame_centres


class FileAccumulator:
    """Running state of one file. ``add`` takes the kept frames (k, D) of one window."""

    def __init__(self, dim: int, clip: bool, frames: bool):
        self.clip, self.keep_frames = clip, frames
        self.total = torch.zeros(dim, dtype=torch.float64) if clip else None
        self.peak = torch.full((dim,), -torch.inf) if clip else None
        self.count = 0
        self.frames: list[torch.Tensor] = []

    def add(self, f: torch.Tensor) -> None:
        # Same operations, same order as SlicerModel._pool_sources, so rows equal embed_file().
        if self.clip:
            self.total += f.sum(0, dtype=torch.float64)
            self.peak = torch.maximum(self.peak, f.amax(0))
        self.count += len(f)
        if self.keep_frames:
            self.frames.append(f.clone())

    def pooled(self, pooling: str) -> np.ndarray:
        """Clip embedding (D,) float32."""
        mean = (self.total / self.count).float()
        out = {"mean": mean, "max": self.peak, "mean+max": mean + self.peak}[pooling]
        return out.numpy().astype(np.float32, copy=False)

    def frame_array(self, dim: int) -> np.ndarray:
        """Frame embeddings (T, D) float32 in time order; the per-window pieces are released."""
        if not self.frames:
            return np.zeros((0, dim), np.float32)
        out = torch.cat(self.frames).numpy()
        self.frames = []  # a long file's frames must not sit in memory twice (docs/extract.md)
        return out


def frame_timestamps(n_frames: int, hop: int, stride: int, sample_rate: int) -> np.ndarray:
    """Centres (seconds, float64) of output frames 0..n-1, as ``SlicerModel.embed_frames`` returns them."""
    return frame_centres(n_frames, hop, stride) / sample_rate
