"""Packaged audio files the benchmark can decode: some packages ship a few files libsndfile cannot
open (torcs's locked.wav, Search and Rescue's splash01.wav, lmms's kick04.ogg); planning without them
keeps every planned clip makeable instead of leaving holes in a class at build time."""

from __future__ import annotations

from functools import lru_cache

import soundfile as sf

from ..debs import DebCache
from ..sources import Recording, files


@lru_cache(maxsize=4096)
def _opens(path: str) -> bool:
    try:
        return sf.info(path).frames > 0
    except (sf.LibsndfileError, RuntimeError):
        return False


def readable_files(cache: DebCache, package: str, under: str = "") -> list[Recording]:
    """``sources.files`` without the files libsndfile cannot open (a header read each), sorted by id."""
    return [r for r in files(cache, package, under) if _opens(str(r.path))]
