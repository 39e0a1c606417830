"""Cutting audio into encoder windows, and where each output frame sits in time.

Inference embeds consecutive, non-overlapping windows of ``W = window_frames * hop`` samples
(15,360 = 0.96 s at 16 kHz) independently; the last window is zero-padded. Because every window is
computed on its own, a clip's embedding does not depend on the batch it is in, nor on how a long
file was chunked, as long as chunks hold whole windows.

Output frame ``j`` of a clip pools log-mel frames ``8j .. 8j+7`` (stride 8 at hop 160), so its centre
sits at sample ``hop * (8j + 3.5)``: 35 ms + 80 ms * j at 16 kHz, computed from the integer index
(no accumulated drift). A frame is kept when its centre lies inside the clip; a clip always keeps at
least its first frame, so clips shorter than 35 ms still get an embedding (from a zero-padded window).
Frame-level results travel as ``Frames(embeddings, timestamps)``.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np


class Frames(NamedTuple):
    """Frame-level output: ``embeddings`` (..., T, D) and ``timestamps`` (..., T) in seconds (centres)."""

    embeddings: Any
    timestamps: Any


def frame_centres(n_frames: int, hop_length: int, time_stride: int, offset_samples: float = 0.0,
                  first: int = 0) -> np.ndarray:
    """Centre of output frames first..first+n_frames-1 in samples (float64)."""
    j = np.arange(first, first + n_frames, dtype=np.float64)
    return offset_samples + hop_length * (time_stride * j + (time_stride - 1) / 2.0)


def valid_frames(n_valid_samples: int, frames_per_window: int, hop_length: int, time_stride: int) -> int:
    """How many leading frames of a window holding ``n_valid_samples`` real samples are kept."""
    centres = frame_centres(frames_per_window, hop_length, time_stride)
    return int(np.count_nonzero(centres < n_valid_samples))


def iter_windows(chunks: Iterable[np.ndarray], window: int) -> Iterator[tuple[np.ndarray, int]]:
    """Regroup a stream of 1-D sample chunks into windows of ``window`` samples.

    Yields ``(samples (window,) float32, n_valid)``; only the last window can be partial (zero-padded,
    ``n_valid < window``). A stream with no samples yields nothing.
    """
    buf = np.zeros(window, dtype=np.float32)
    filled = 0
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float32)
        pos = 0
        # Whole windows straight out of the chunk need no copy into the buffer.
        if filled == 0 and len(chunk) >= window:
            n_whole = len(chunk) // window
            for w in range(n_whole):
                yield chunk[w * window:(w + 1) * window], window
            pos = n_whole * window
        while pos < len(chunk):
            take = min(window - filled, len(chunk) - pos)
            buf[filled:filled + take] = chunk[pos:pos + take]
            filled += take
            pos += take
            if filled == window:
                yield buf.copy(), window
                filled = 0
    if filled:
        buf[filled:] = 0.0
        yield buf.copy(), filled
