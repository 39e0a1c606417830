"""Size of a job's frame output, estimated from audio file headers before any work starts.

Used to warn up front where a format has a cost that grows with the job: ``np.load`` reads an
``.npz`` member whole (a zip member cannot be memory-mapped), so an ``.npz`` of 40 GB of frames is
written in bounded memory but cannot be opened on a 24 GB machine.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

import soundfile as sf

from ..paths import to_bytes
from .sources import Entry

SAMPLE_FILES = 200  # headers read at most; the rest is extrapolated


def audio_seconds(entries: Sequence[Entry], sample: int = SAMPLE_FILES, seed: int = 0) -> float:
    """Estimated total duration (s) of ``entries``: every header when there are at most ``sample``
    files, else a fixed random sample scaled up. Unreadable files count as 0 s (they will be skipped)."""
    if not entries:
        return 0.0
    chosen = list(entries) if len(entries) <= sample else random.Random(seed).sample(list(entries), sample)
    total = 0.0
    for e in chosen:
        try:
            info = sf.info(to_bytes(e.path))
            total += info.frames / info.samplerate if info.samplerate > 0 else 0.0
        except Exception:  # noqa: BLE001 - any undecodable file is reported (and skipped) by the run itself
            continue
    return total * len(entries) / len(chosen)


def frame_bytes(seconds: float, dim: int, itemsize: int, hop_seconds: float) -> int:
    """Bytes of frame embeddings for ``seconds`` of audio: one (dim,) row per hop."""
    return int(math.ceil(seconds / hop_seconds)) * dim * itemsize
