"""Shared helpers for the offline builders: sample rate, seeding, decoding, hashing, atomic writes.

All generated audio is 16 kHz mono. Content hashes are taken on the 16-bit PCM samples (not on the
file bytes) so that a WAV and a FLAC of the same audio hash alike.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from slicer_embed.audio import resample

SR = 16000  # every builder writes 16 kHz mono


def stable_int(*keys: object) -> int:
    """A 32-bit integer from ``keys`` that is identical across runs and processes (unlike ``hash``)."""
    return zlib.crc32("\x1f".join(map(str, keys)).encode("utf-8"))


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """Independent generator per item: results do not depend on build order, resume or job count."""
    return np.random.default_rng([int(seed), stable_int(*keys)])


def split_of(key: str, seed: int, fractions: tuple[float, float]) -> str:
    """Assign a group to train/valid/test by hashing it: (valid, test) fractions, rest train."""
    u = stable_int(seed, "split", key) / 2**32
    valid, test = fractions
    return "test" if u < test else "valid" if u < test + valid else "train"


def to_int16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1.0, 32767 / 32768) * 32768).round().astype(np.int16)


def pcm_sha1(x: np.ndarray) -> str:
    """SHA-1 of float audio quantised to 16-bit PCM (what the files store)."""
    return hashlib.sha1(to_int16(np.asarray(x, dtype=np.float32)).tobytes()).hexdigest()


def decode(path: str | os.PathLike, sr: int = SR) -> np.ndarray:
    """Decode any libsndfile-readable file (wav, ogg, flac) to mono float32 at ``sr``, shape (samples,)."""
    try:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise ValueError(f"cannot decode {path}: {e}") from e
    x = x.mean(axis=1)
    return np.ascontiguousarray(resample(x, rate, sr) if rate != sr else x, dtype=np.float32)


@lru_cache(maxsize=8)
def decode_cached(path: str) -> np.ndarray:
    """``decode`` memoised per worker process, for background beds reused by many clips (read-only)."""
    x = decode(path)
    x.setflags(write=False)
    return x


def fit_length(x: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """Place ``x`` at ``offset`` in ``n`` zeros (cropping what falls outside), shape (n,)."""
    out = np.zeros(n, dtype=np.float32)
    src = x[max(0, -offset):][: max(0, n - max(0, offset))]
    out[max(0, offset): max(0, offset) + len(src)] = src
    return out


def peak_normalise(x: np.ndarray, peak_db: float = -3.0) -> np.ndarray:
    """Scale to a peak of ``peak_db`` dBFS; silence stays silence."""
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return x if m < 1e-8 else (x * (10 ** (peak_db / 20) / m)).astype(np.float32)


def write_audio(path: Path, x: np.ndarray, sr: int = SR) -> None:
    """Write 16-bit PCM (WAV or FLAC by suffix) atomically: tmp file then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    sf.write(str(tmp), to_int16(x), sr, subtype="PCM_16", format=fmt)
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    """Atomic text write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
