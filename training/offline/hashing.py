"""Content hashes of real source files (16 kHz 16-bit PCM SHA-1), cached next to the deb cache.

Used to prove that the pretraining corpus holds no audio from a mini-LAPE test split, even when the
same recording ships under two names (game data often duplicates files).
"""

from __future__ import annotations

import json

from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

from .common import decode, pcm_sha1, write_text
from .debs import DebCache


def _hash(path: str) -> str:
    return pcm_sha1(decode(path))


def source_hashes(cache: DebCache, sids: list[str], jobs: int) -> dict[str, str]:
    """{source id: sha1}; source ids are ``<package>/<path>`` inside the unpacked cache tree."""
    store = cache.root / "source-sha1.json"
    known: dict[str, str] = json.loads(store.read_text()) if store.exists() else {}
    todo = sorted({s for s in sids if s not in known})
    paths = [str(cache.root / "root" / s) for s in todo]
    if todo:
        bar = dict(total=len(todo), desc="hash sources", unit="file", mininterval=1.0)
        if jobs > 1 and len(todo) > 32:
            with ProcessPoolExecutor(jobs) as pool:
                done = list(tqdm(pool.map(_hash, paths, chunksize=16), **bar))
        else:
            done = [_hash(p) for p in tqdm(paths, **bar)]
        known.update(zip(todo, done))
        store.parent.mkdir(parents=True, exist_ok=True)
        write_text(store, json.dumps(known, sort_keys=True))
    return {s: known[s] for s in sids}


