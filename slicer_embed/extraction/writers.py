"""Final outputs of ``extract``, assembled from the shards of the partial folder.

Formats (by OUTPUT's extension, or ``--format``):

- ``npy``: clip embeddings (N, D), one row per good file in input order, plus a JSON sidecar
  (``out.json``: ``paths``, ``durations`` in seconds, ``metadata``);
- ``npz``: ``embeddings (N, D)``, ``paths (N,)`` str, ``durations (N,)`` float64 seconds, and for frame
  levels ``frame_embeddings (sum T, D)``, ``frame_offsets (N+1,)`` int64 (file i owns rows
  ``offsets[i]:offsets[i+1]``), ``timestamps (sum T,)`` float64 centre seconds; ``metadata`` a JSON
  string. No object arrays: ``np.load(path)`` works with the default ``allow_pickle=False``;
- ``dir``: one ``<relative path>.npz`` per input, mirroring the source tree;
- ``parquet`` (pyarrow, optional): one row per clip (``path``, ``duration_s``, ``embedding``) or per
  frame (``path``, ``t_center_s``, ``embedding``), metadata JSON in the schema.

Large arrays are filled into disk-backed ``np.memmap`` files shard by shard, so RAM stays bounded by
one shard however many files there are; every file is written under a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..atomic import atomic_save_npz, atomic_write_text
from ..paths import display, tsv_field
from .pooling import frame_timestamps
from .store import Summary, iter_shards

FORMATS = ("npy", "npz", "dir", "parquet")


class OutputError(ValueError):
    """An output path or option combination that cannot be written (usage error)."""


@dataclass(frozen=True)
class Plan:
    """Everything a writer needs besides the shards."""

    output: Path
    fmt: str
    level: str  # clip | frame | both
    dtype: np.dtype  # storage dtype of embeddings
    rels: list[str]  # name of every input, by input index
    dim: int
    hop: int
    stride: int
    sample_rate: int
    metadata: dict[str, Any]

    @property
    def clip(self) -> bool:
        return self.level in ("clip", "both")

    @property
    def frames(self) -> bool:
        return self.level in ("frame", "both")


def infer_format(output: str, fmt: str | None, level: str) -> str:
    """Pick the format from ``--format`` or OUTPUT's extension and check it can hold ``level``."""
    if fmt is None:
        suffix = Path(output).suffix.lower()
        fmt = {".npy": "npy", ".npz": "npz", ".parquet": "parquet"}.get(suffix)
        if fmt is None:
            if suffix and not output.endswith(("/", os.sep)) and not Path(output).is_dir():
                raise OutputError(f"{output}: unknown output extension {suffix!r}; use .npy, .npz, "
                                  f".parquet or a directory (trailing '/'), or pass --format")
            fmt = "dir"
    if fmt not in FORMATS:
        raise OutputError(f"unknown format {fmt!r}; choose one of {FORMATS}")
    if fmt == "npy" and level != "clip":
        raise OutputError(f"{output}: .npy holds clip embeddings only; use an .npz, .parquet or directory "
                          f"output for --level {level}")
    if fmt == "parquet" and level == "both":
        raise OutputError(f"{output}: a parquet table holds one level; use --level clip or frame, or .npz")
    return fmt


def errors_path(output: Path) -> Path:
    return output.with_name(output.name + ".errors.tsv")


def lock_path(output: Path) -> Path:
    """The lock a running extract holds on ``output`` (slicer_embed.locking)."""
    return output.with_name(output.name + ".lock")


def sidecar_path(output: Path) -> Path:
    return output.with_suffix(".json")


def dir_target(output: Path, rel: str) -> Path:
    """Where ``dir`` output puts input ``rel``: the same relative path plus ``.npz``, kept inside."""
    parts = [p if p not in ("..", ".") else "_" for p in PurePosixPath(rel.replace("\\", "/")).parts
             if p not in ("/", "")]
    parts = [p.replace(":", "_") for p in parts] or ["_"]
    return output.joinpath(*parts[:-1], parts[-1] + ".npz")


def write_errors(output: Path, rels: list[str], failures: dict[int, str]) -> None:
    """``OUTPUT.errors.tsv`` (path, reason) in input order; a stale one is removed when all succeeded."""
    path = errors_path(output)
    if not failures:
        path.unlink(missing_ok=True)
        return
    lines = ["path\treason"]
    for i in sorted(failures):
        reason = " ".join(str(failures[i]).split())
        lines.append(f"{tsv_field(rels[i])}\t{tsv_field(reason)}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def write(plan: Plan, summary: Summary, partial: Path) -> int:
    """Write the output for every finished good file; returns the number of rows written."""
    ok = sorted(summary.samples)
    write_errors(plan.output, plan.rels, summary.failures)
    if plan.fmt == "dir":
        return _write_dir(plan, summary, partial)
    row = {idx: r for r, idx in enumerate(ok)}
    durations = np.array([summary.samples[i] / plan.sample_rate for i in ok], np.float64)
    paths = [display(plan.rels[i]) for i in ok]  # valid UTF-8 for JSON, npz and Parquet
    meta = json.dumps(plan.metadata, sort_keys=True)
    clip = _assemble_clip(plan, row, partial) if plan.clip else None
    frames, offsets = _assemble_frames(plan, summary, ok, row, partial) if plan.frames else (None, None)
    if plan.fmt == "npy":
        _commit_npy(clip, plan.output, {"paths": paths, "durations": durations.tolist(), "metadata": plan.metadata})
    elif plan.fmt == "npz":
        arrays: dict[str, Any] = {"paths": np.array(paths, dtype=str), "durations": durations,
                                  "metadata": np.array(meta)}
        if clip is not None:
            arrays["embeddings"] = clip
        if frames is not None:
            arrays.update(frame_embeddings=frames, frame_offsets=offsets,
                          timestamps=_timestamps(plan, offsets))
        atomic_save_npz(plan.output, arrays)
    else:
        from .parquet import write_parquet
        write_parquet(plan, paths, durations, clip, frames, offsets, meta)
    for name in ("clip.npy", "frames.npy"):
        (partial / name).unlink(missing_ok=True)
    return len(ok)


def _memmap(path: Path, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    if shape[0] == 0:  # an empty file cannot be memory-mapped
        return np.zeros(shape, dtype)
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def _assemble_clip(plan: Plan, row: dict[int, int], partial: Path) -> np.ndarray:
    out = _memmap(partial / "clip.npy", (len(row), plan.dim), plan.dtype)
    for shard in iter_shards(partial):
        if len(shard["ok_index"]):
            out[[row[i] for i in shard["ok_index"].tolist()]] = shard["clip"].astype(plan.dtype, copy=False)
    _flush(out)
    return out


def _assemble_frames(plan: Plan, summary: Summary, ok: list[int], row: dict[int, int],
                     partial: Path) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([summary.frame_counts[i] for i in ok], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = _memmap(partial / "frames.npy", (int(offsets[-1]), plan.dim), plan.dtype)
    for shard in iter_shards(partial):
        start = 0
        for i, n in zip(shard["ok_index"].tolist(), shard["frame_counts"].tolist()):
            r = row[i]
            out[offsets[r]:offsets[r + 1]] = shard["frames"][start:start + n].astype(plan.dtype, copy=False)
            start += n
    _flush(out)
    return out, offsets


def _timestamps(plan: Plan, offsets: np.ndarray) -> np.ndarray:
    counts = np.diff(offsets)
    if len(counts) == 0:
        return np.zeros(0, np.float64)
    return np.concatenate([frame_timestamps(int(n), plan.hop, plan.stride, plan.sample_rate) for n in counts])


def _flush(a: np.ndarray) -> None:
    if isinstance(a, np.memmap):
        a.flush()


def _commit_npy(arr: np.ndarray, output: Path, sidecar: dict[str, Any]) -> None:
    """Put OUTPUT.npy and its sidecar OUTPUT.json in place so that, whenever the process dies, the
    sidecar on disk never describes another array: both are staged and fsynced, the old sidecar is
    removed, then the array and then the new sidecar are renamed into place. A run killed in between
    leaves an array without a sidecar (and OUTPUT.partial/, so --resume or --overwrite redoes this
    step), never a mismatched pair. The sidecar records the array's ``rows`` and ``array_sha256``."""
    from ..hub import file_sha256

    side = sidecar_path(output)
    if isinstance(arr, np.memmap):
        arr.flush()
        staged = Path(arr.filename)
        with open(staged, "rb+") as f:
            os.fsync(f.fileno())
    else:
        staged = output.with_name(f".{output.name}.staged.tmp")
        with open(staged, "wb") as f:
            np.save(f, arr)
            f.flush()
            os.fsync(f.fileno())
    sidecar = {**sidecar, "rows": int(arr.shape[0]), "array_sha256": file_sha256(staged)}
    staged_side = side.with_name(f".{side.name}.staged.tmp")
    with open(staged_side, "w", encoding="utf-8") as f:
        f.write(json.dumps(sidecar, indent=1))
        f.flush()
        os.fsync(f.fileno())
    side.unlink(missing_ok=True)
    _fsync_dir(output.parent)
    os.replace(staged, output)
    os.replace(staged_side, side)
    _fsync_dir(output.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_dir(plan: Plan, summary: Summary, partial: Path) -> int:
    plan.output.mkdir(parents=True, exist_ok=True)
    meta = np.array(json.dumps(plan.metadata, sort_keys=True))
    n = 0
    for shard in iter_shards(partial):
        start = 0
        counts = shard.get("frame_counts")
        for j, i in enumerate(shard["ok_index"].tolist()):
            arrays: dict[str, np.ndarray] = {"path": np.array(display(plan.rels[i])), "metadata": meta,
                                             "duration": np.float64(shard["ok_samples"][j] / plan.sample_rate)}
            if plan.clip:
                arrays["embedding"] = shard["clip"][j].astype(plan.dtype, copy=False)
            if plan.frames:
                t = int(counts[j])
                arrays["frame_embeddings"] = shard["frames"][start:start + t].astype(plan.dtype, copy=False)
                arrays["timestamps"] = frame_timestamps(t, plan.hop, plan.stride, plan.sample_rate)
                start += t
            target = dir_target(plan.output, plan.rels[i])
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_save_npz(target, arrays)
            n += 1
    atomic_write_text(plan.output / "metadata.json", json.dumps(plan.metadata, indent=1, sort_keys=True))
    return n

