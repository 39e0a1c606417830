"""Optional preprocessed cache: the corpus decoded once to 16 kHz mono in one memory-mapped file.

Decoding and resampling compressed audio costs far more CPU than the crop itself; with a cache the
DataLoader workers only slice a memory map, so a GPU is not starved by decoding. Layout of a cache
folder: ``audio.bin`` (all clips back to back, float16 or float32 samples at 16 kHz) and
``index.json`` (per clip: source path, offset, length in samples). Crops are drawn exactly as from
the files (same start positions for the same random generator), with float16 rounding (~1e-3
relative) unless ``dtype="float32"``. Built atomically: a half-built cache is never used.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from slicer_embed.audio import stream_audio

from .data import fit_length

INDEX, AUDIO = "index.json", "audio.bin"


def is_cache(folder: str | os.PathLike) -> bool:
    return (Path(folder) / INDEX).is_file() and (Path(folder) / AUDIO).is_file()


def build_cache(files: Sequence[Path], folder: str | os.PathLike, sample_rate: int = 16000,
                dtype: str = "float16") -> Path:
    """Decode every file (mono, ``sample_rate``) into ``folder``; returns the folder."""
    if dtype not in ("float16", "float32"):
        raise ValueError(f"cache dtype must be float16 or float32, got {dtype!r}")
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    entries, offset = [], 0
    with open(tmp / AUDIO, "wb") as f:
        for path in files:
            length = 0
            for chunk in stream_audio(path, sample_rate):
                f.write(chunk.astype(dtype).tobytes())
                length += len(chunk)
            entries.append({"path": str(path), "offset": offset, "length": length})
            offset += length
    meta = {"sample_rate": sample_rate, "dtype": dtype, "clips": entries}
    (tmp / INDEX).write_text(json.dumps(meta) + "\n", encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


class CacheSource:
    """A ``ClipSource`` reading crops from a cache folder (memory-mapped, safe to share with workers)."""

    def __init__(self, folder: str | os.PathLike):
        folder = Path(folder)
        if not is_cache(folder):
            raise FileNotFoundError(f"{folder}: not a training cache ({INDEX} + {AUDIO})")
        meta = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        self.sample_rate = int(meta["sample_rate"])
        self.clips = meta["clips"]
        self.files = [Path(c["path"]) for c in self.clips]
        self.audio = np.memmap(folder / AUDIO, dtype=meta["dtype"], mode="r")

    def __len__(self) -> int:
        return len(self.clips)

    def crop(self, index: int, n: int, rng: np.random.Generator) -> np.ndarray:
        clip = self.clips[index]
        offset, length = clip["offset"], clip["length"]
        start = int(rng.integers(0, length - n + 1)) if length > n else 0
        segment = self.audio[offset + start:offset + min(length, start + n)]
        return fit_length(np.asarray(segment, dtype=np.float32), n)
