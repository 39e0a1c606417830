"""The partial-state folder (``OUTPUT.partial/``) that makes ``extract --resume`` possible.

Finished work is written as shard files ``shard-r<rank>-<id>.npz``, each atomically (tmp + rename),
so a run killed at any instant (Ctrl-C, ``kill -9``, a lost node) leaves only complete shards.
A shard holds, for the files it finished:

- ``ok_index (n,) int64`` input indices, ``ok_samples (n,) int64`` decoded length at the model rate;
- ``clip (n, D) float32`` clip embeddings (clip/both levels);
- ``frame_counts (n,) int64`` and ``frames (sum T, D) float32`` (frame/both levels): the frames of
  every file whose name in ``frame_spill (n,) str`` is empty, in order;
- ``frame_spill (n,) str``: for a file whose frames outgrew ``SPILL_ROWS`` while it was embedded, the
  name of the spill file in the folder (``spill-r<rank>-<index>-<id>.f32``, raw float32 rows) that holds
  them instead, so no file's frames are ever whole in memory; a spill file is complete and fsynced
  before the shard that names it is written, and spill files no shard names are removed on resume;
- ``fail_index (m,) int64`` and ``fail_reason (m,) str`` for files that could not be embedded.

``meta.json`` fingerprints the run (inputs, model weights, pooling, level); ``--resume`` refuses to
mix shards from a different run. Several torchrun ranks write into the same folder (shared
filesystem); shard names never collide.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..atomic import atomic_write_text
from .npyio import Stream, save_npz

META_NAME = "meta.json"
SPILL_ROWS = 2048  # frames of one file held in memory before they go to its spill file (16 MiB at D=2048)


class StateMismatch(ValueError):
    """``--resume`` on a partial folder left by a run with other inputs, model or options."""


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` holds an interrupted run. Its ``meta.json`` is written before any shard, so a
    folder without one (the disk filled or refused while it was being set up) holds no work."""
    return (folder / META_NAME).is_file()


RUN_KEY = "run"  # meta.json's description of the run for messages (its SOURCE); not compared


def prepare(folder: Path, fingerprint: dict[str, Any], *, resume: bool, run: dict[str, Any] | None = None) -> None:
    """Create ``folder`` with ``meta.json``, or check an existing one against ``fingerprint``.

    Without ``resume`` any existing folder is removed first (the caller decides whether that is
    allowed). Raises ``StateMismatch`` naming the differing keys and both runs' SOURCE. ``run``
    (``{"source": ...}``) is stored for that message, not compared.
    """
    meta = folder / META_NAME
    if folder.exists() and resume and meta.is_file():
        try:
            old = json.loads(meta.read_text(encoding="utf-8"))
        except ValueError as e:  # torn or foreign: never a silent start-over of someone's work
            raise StateMismatch(f"{meta} is unreadable ({e}); pass --overwrite to start over") from e
        was = old.pop(RUN_KEY, {}) if isinstance(old, dict) else {}
        diff = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
        if diff:
            then = f" over {was['source']!r}" if isinstance(was, dict) and "source" in was else ""
            now = f" (this run: {run['source']!r})" if run and "source" in run else ""
            raise StateMismatch(f"{folder} was written by a run{then} with different {', '.join(diff)}{now}; "
                                f"rerun with the same arguments, or pass --overwrite to start over")
        return
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    atomic_write_text(meta, json.dumps({**fingerprint, **({RUN_KEY: run} if run else {})}, indent=1,
                                       sort_keys=True))


@dataclass
class Summary:
    """What the shards in a folder hold: finished indices, decoded lengths, failures."""

    samples: dict[int, int] = field(default_factory=dict)
    frame_counts: dict[int, int] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    spills: set[str] = field(default_factory=set)  # spill files the shards name

    def finished(self) -> set[int]:
        return set(self.samples) | set(self.failures)


def shard_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("shard-*.npz"))


def summarize(folder: Path) -> Summary:
    """Read the small arrays of every shard (not the embeddings)."""
    s = Summary()
    for p in shard_paths(folder):
        with np.load(p, allow_pickle=False) as z:
            idx, n = z["ok_index"].tolist(), z["ok_samples"].tolist()
            s.samples.update(zip(idx, n))
            if "frame_counts" in z.files:
                s.frame_counts.update(zip(idx, z["frame_counts"].tolist()))
            if "frame_spill" in z.files:
                s.spills.update(n for n in z["frame_spill"].tolist() if n)
            s.failures.update(zip(z["fail_index"].tolist(), z["fail_reason"].tolist()))
    return s


def remove_orphan_spills(folder: Path) -> int:
    """Delete spill files that no shard names (left by a run killed mid-file); returns how many."""
    named = summarize(folder).spills
    orphans = [p for p in folder.glob("spill-*.f32") if p.name not in named]
    for p in orphans:
        p.unlink(missing_ok=True)
    return len(orphans)


def iter_shards(folder: Path) -> Iterator[dict[str, np.ndarray]]:
    """Load the shards one at a time (memory is bounded by one shard)."""
    for p in shard_paths(folder):
        with np.load(p, allow_pickle=False) as z:
            yield {k: z[k] for k in z.files}


def iter_file_frames(shard: dict[str, np.ndarray], folder: Path, dim: int,
                     block: int) -> Iterator[tuple[int, int, Iterator[np.ndarray]]]:
    """(input index, frame count, blocks of at most ``block`` frames (t, dim) float32) per good file
    of ``shard``, in shard order; spilled frames are read from their file block by block. Consume
    each file's blocks before moving to the next file."""
    start = 0
    spill = shard.get("frame_spill")
    for j, (i, n) in enumerate(zip(shard["ok_index"].tolist(), shard["frame_counts"].tolist())):
        name = str(spill[j]) if spill is not None else ""
        if name:
            yield i, n, _spill_blocks(folder / name, n, dim, block)
        else:
            inline = shard["frames"][start:start + n]
            start += n
            yield i, n, (inline[s:s + block] for s in range(0, n, block))


def _spill_blocks(path: Path, rows: int, dim: int, block: int) -> Iterator[np.ndarray]:
    with open(path, "rb") as f:
        for s in range(0, rows, block):
            want = min(block, rows - s) * dim
            a = np.fromfile(f, np.float32, count=want)
            if a.size != want:
                raise OSError(f"{path}: spill file ends after {s * dim + a.size} of {rows * dim} values")
            yield a.reshape(-1, dim)


@dataclass(frozen=True)
class SpilledFrames:
    """A finished file's frames, stored in ``folder/name`` (raw float32, ``rows`` x D) instead of memory."""

    name: str
    rows: int


class FrameSpill:
    """Appends one file's frames, as they are produced, to ``folder/spill-r<rank>-<index>-<id>.f32``."""

    def __init__(self, folder: Path, rank: int, index: int):
        self.name = f"spill-r{rank}-{index}-{uuid.uuid4().hex[:12]}.f32"
        self.path = folder / self.name
        self.rows = 0
        self._f = open(self.path, "wb")

    def append(self, frames: np.ndarray) -> None:
        np.ascontiguousarray(frames, np.float32).tofile(self._f)
        self.rows += len(frames)

    def finish(self) -> SpilledFrames:
        """Flush and fsync (the shard that names it comes after), close, describe."""
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return SpilledFrames(self.name, self.rows)

    def discard(self) -> None:
        self._f.close()
        self.path.unlink(missing_ok=True)


class ShardWriter:
    """Buffers finished files and writes them as shards every ``every_s`` seconds or ``max_bytes``."""

    def __init__(self, folder: Path, rank: int, dim: int, clip: bool, frames: bool,
                 every_s: float = 60.0, max_bytes: int = 64 << 20):
        self.folder, self.rank, self.dim = folder, rank, dim
        self.clip, self.frames = clip, frames
        self.every_s, self.max_bytes = every_s, max_bytes
        self._reset()

    def _reset(self) -> None:
        self.ok: list[tuple[int, int, np.ndarray | None, np.ndarray | None]] = []
        self.fail: list[tuple[int, str]] = []
        self.nbytes = 0
        self.since = time.monotonic()

    def add_ok(self, index: int, n_samples: int, clip: np.ndarray | None,
               frames: np.ndarray | SpilledFrames | None) -> None:
        self.ok.append((index, n_samples, clip, frames))
        self.nbytes += (clip.nbytes if clip is not None else 0) + (frames.nbytes if isinstance(frames, np.ndarray) else 0)
        self._maybe_flush()

    def add_fail(self, index: int, reason: str) -> None:
        self.fail.append((index, reason))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self.nbytes >= self.max_bytes or time.monotonic() - self.since >= self.every_s:
            self.flush()

    def flush(self) -> None:
        if not self.ok and not self.fail:
            return
        D = self.dim
        arrays = {"ok_index": np.array([o[0] for o in self.ok], np.int64),
                  "ok_samples": np.array([o[1] for o in self.ok], np.int64),
                  "fail_index": np.array([f[0] for f in self.fail], np.int64),
                  "fail_reason": np.array([f[1] for f in self.fail], dtype=str)}
        if self.clip:
            arrays["clip"] = np.stack([o[2] for o in self.ok]) if self.ok else np.zeros((0, D), np.float32)
        if self.frames:
            fr = [o[3] for o in self.ok]
            arrays["frame_counts"] = np.array([f.rows if isinstance(f, SpilledFrames) else len(f) for f in fr],
                                              np.int64)
            arrays["frame_spill"] = np.array([f.name if isinstance(f, SpilledFrames) else "" for f in fr], dtype=str)
            inline = [f for f in fr if not isinstance(f, SpilledFrames)]
            # written piece by piece: no concatenated copy of up to max_bytes
            arrays["frames"] = Stream((sum(len(f) for f in inline), D), np.float32, inline)
        save_npz(self.folder / f"shard-r{self.rank}-{uuid.uuid4().hex[:12]}.npz", arrays)
        self._reset()
