"""Embedding extraction for a task, cached on disk.

The cache file for (embedder identity incl. weights sha256, task fingerprint incl. every file's size
and mtime, crop length, sample rate) is ``CACHE/<task>-<key>.npz`` holding the embeddings (N, D)
float32 in manifest order, an ``ok`` mask (N,) and the per-row error messages of files that could
not be decoded. It is written atomically, so an interrupted run never leaves a half file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from slicer_embed.audio import load_audio

from .embedders import fixed_crop
from .manifest import Task


@dataclass(frozen=True)
class EmbeddingSet:
    """Embeddings of all rows of a task: ``X`` (N, D) float32, ``ok`` (N,) bool, ``errors`` {row: message}."""

    X: np.ndarray
    ok: np.ndarray
    errors: dict[int, str]
    key: str
    cached: bool


def cache_key(identity: dict[str, Any], task: Task, crop_seconds: float, sample_rate: int) -> str:
    blob = json.dumps({"model": identity, "task": task.fingerprint(), "crop_seconds": round(crop_seconds, 6),
                       "sample_rate": sample_rate, "format": 1}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def embed_task(embedder: Any, task: Task, crop_seconds: float, cache_dir: Path, batch_size: int = 32,
               progress: bool = True) -> EmbeddingSet:
    """Embed every row of ``task`` (a fixed centre crop of ``crop_seconds`` each), reusing the cache."""
    key = cache_key(embedder.identity, task, crop_seconds, embedder.sample_rate)
    path = Path(cache_dir) / f"{task.name}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            errors = {int(k): v for k, v in json.loads(str(z["errors"])).items()}
            return EmbeddingSet(z["X"], z["ok"], errors, key, True)
    n = int(round(crop_seconds * embedder.sample_rate))
    X = np.zeros((len(task.rows), embedder.dim), np.float32)
    ok = np.zeros(len(task.rows), bool)
    errors: dict[int, str] = {}
    bar = tqdm(total=len(task.rows), desc=f"embed {task.name}", unit="clip", file=sys.stderr,
               disable=not progress, leave=False)
    # Test rows are never batched with train/valid rows, so nothing about a test file (not even a
    # failure that shrinks a batch) can change a single bit of a train or valid embedding.
    is_test = [r.split.startswith("test") for r in task.rows]
    for part in ([i for i, t in enumerate(is_test) if not t], [i for i, t in enumerate(is_test) if t]):
        for start in range(0, len(part), batch_size):
            chunk = part[start:start + batch_size]
            idx, waves = [], []
            for i in chunk:
                try:
                    x = load_audio(task.path(task.rows[i]), embedder.sample_rate)
                except Exception as e:  # AudioDecodeError and anything else soundfile raises
                    errors[i] = str(e)
                    continue
                idx.append(i)
                waves.append(fixed_crop(x, n))
            if waves:
                X[idx] = embedder(torch.from_numpy(np.stack(waves))).numpy()
                ok[idx] = True
            bar.update(len(chunk))
    bar.close()
    _save(path, X, ok, errors)
    return EmbeddingSet(X, ok, errors, key, False)


def _save(path: Path, X: np.ndarray, ok: np.ndarray, errors: dict[int, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, X=X, ok=ok, errors=np.array(json.dumps({str(k): v for k, v in errors.items()})))
    os.replace(tmp, path)
