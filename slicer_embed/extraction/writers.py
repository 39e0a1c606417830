"""Final outputs of ``extract``, assembled from the shards of the partial folder.

Formats (by OUTPUT's extension, or ``--format``):

- ``npy``: clip embeddings (N, D), one row per good file in input order, or (``--level frame``) frame
  embeddings (sum T, D), plus a JSON sidecar (``out.npy.json``: ``paths``, ``durations`` in seconds,
  ``metadata``, ``rows``, ``array_sha256``, and ``frame_offsets`` (N+1) at frame level);
- ``npz``: ``embeddings (N, D)``, ``paths (N,)`` str, ``durations (N,)`` float64 seconds, and for frame
  levels ``frame_embeddings (sum T, D)``, ``frame_offsets (N+1,)`` int64 (file i owns rows
  ``offsets[i]:offsets[i+1]``), ``timestamps (sum T,)`` float64 centre seconds; ``metadata`` a JSON
  string. No object arrays: ``np.load(path)`` works with the default ``allow_pickle=False``;
- ``dir``: one ``<relative path>.npz`` per input, mirroring the source tree (``dir_targets``: names
  that would clash get a hash of the input's name);
- ``parquet`` (pyarrow, optional): one row per clip (``path``, ``duration_s``, ``embedding``) or per
  frame (``path``, ``t_center_s``, ``embedding``), metadata JSON in the schema.

Large arrays are put together on disk by row ranges (``npyio``: pwrite, never a memory map), so RAM
stays bounded by one shard and one block however many files or frames there are; every file is
written under a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

import numpy as np

from ..atomic import atomic_write_text
from ..paths import display, to_bytes, tsv_field
from .npyio import NpyRows, Stream, block_rows, save_npz
from .pooling import frame_timestamps
from .store import Summary, iter_file_frames, iter_shards

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
    targets: list[Path] | None = None  # dir format: each input's file (dir_targets), by input index

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
    if fmt == "npy" and level == "both":
        raise OutputError(f"{output}: an .npy file holds one array: use --level clip or frame, or an .npz or "
                          f"directory output for --level both")
    if Path(output).name.lower().endswith(".json"):  # could be another .npy output's sidecar
        raise OutputError(f"{output}: an output's name may not end in .json, which is how .npy sidecars are "
                          f"named (OUTPUT.json); choose another name")
    if fmt == "parquet" and level == "both":
        raise OutputError(f"{output}: a parquet table holds one level; use --level clip or frame, or .npz")
    return fmt


def errors_path(output: Path) -> Path:
    return output.with_name(output.name + ".errors.tsv")


def lock_path(output: Path) -> Path:
    """The lock a running extract holds on ``output`` (slicer_embed.locking)."""
    return output.with_name(output.name + ".lock")


def sidecar_path(output: Path) -> Path:
    """The JSON sidecar of an ``npy`` output: its whole name plus ``.json`` (``out.npy.json``).

    Appending keeps distinct outputs apart on every filesystem: two sidecar names are equal (or equal
    ignoring case) exactly when the output names are, so ``out.npy`` and ``out.NPY`` (or ``out`` with
    ``--format npy``) never share one, as they did when the suffix was replaced (``out.json``)."""
    return output.with_name(output.name + ".json")


def legacy_sidecar_path(output: Path) -> Path | None:
    """Where earlier builds put the sidecar (``out.json`` for ``out.npy``), or None."""
    return output.with_suffix(".json") if output.suffix else None


def dir_target(output: Path, rel: str) -> Path:
    """Where ``dir`` output puts input ``rel``: the same relative path plus ``.npz``, kept inside."""
    parts = [p if p not in ("..", ".") else "_" for p in PurePosixPath(rel.replace("\\", "/")).parts
             if p not in ("/", "")]
    parts = [p.replace(":", "_") for p in parts] or ["_"]
    return output.joinpath(*parts[:-1], parts[-1] + ".npz")


def _fold(path: PurePosixPath | Path) -> str:
    """A name as a case- and normalisation-insensitive filesystem compares it (macOS, Windows)."""
    return unicodedata.normalize("NFC", str(path)).casefold()


def _tagged(target: Path, rel: str) -> Path:
    """``name.npz`` -> ``name.<8 hex digits of sha256(rel)>.npz``: the same for an input in every run."""
    tag = hashlib.sha256(to_bytes(rel)).hexdigest()[:8]
    return target.with_name(f"{target.name[:-len('.npz')]}.{tag}.npz")


def dir_targets(output: Path, rels: Sequence[str]) -> list[Path]:
    """Each input's file in a ``dir`` output, all distinct on any filesystem; computed before any write.

    ``dir_target(rel)`` unless that name clashes, ignoring case and Unicode normalisation (one file on
    macOS and Windows), with another input's (``a:b.flac`` and ``a_b.flac`` both give ``a_b.flac.npz``;
    ``A.wav`` and ``a.wav``), or is a folder another input needs (``x.wav`` and ``x.wav.npz/y.wav``):
    then each input of the clash gets ``dir_target(rel)`` with ``.<8 hex digits of sha256(rel)>``
    before ``.npz``, a name that depends on that input alone. Raises ``OutputError`` if names still
    clash (a hash collision: never seen).
    """
    base = [dir_target(output, r) for r in rels]
    targets = list(base)
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(base):
        groups.setdefault(_fold(t), []).append(i)
    folders = {_fold(p) for t in base for p in t.parents}
    for key, members in groups.items():
        if len(members) > 1 or key in folders:
            for i in members:
                targets[i] = _tagged(base[i], rels[i])
    seen: dict[str, int] = {}
    folders = {_fold(p) for t in targets for p in t.parents}
    for i, t in enumerate(targets):
        j = seen.setdefault(_fold(t), i)
        if j != i or _fold(t) in folders:
            other = display(rels[j]) if j != i else "another input's folder"
            raise OutputError(f"{output}: inputs {display(rels[i])!r} and {other!r} would be written to the same "
                              f"file {display(t)}; rename one, or write .npz/.npy/.parquet")
    return targets


def read_metadata(output: Path, fmt: str) -> dict[str, Any] | None:
    """The metadata a finished OUTPUT records (sidecar, npz member, Parquet schema, dir metadata.json),
    or None when there is none to read (not written by extract, or torn)."""
    try:
        if fmt == "npy":
            meta = json.loads(sidecar_path(output).read_text(encoding="utf-8")).get("metadata")
        elif fmt == "npz":
            with np.load(output, allow_pickle=False) as z:
                meta = json.loads(str(z["metadata"])) if "metadata" in z.files else None
        elif fmt == "parquet":
            from .parquet import import_pyarrow
            _, pq = import_pyarrow()
            raw = (pq.read_schema(str(output)).metadata or {}).get(b"slicer_embed")
            meta = json.loads(raw) if raw is not None else None
        else:
            meta = json.loads((output / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, AttributeError, ImportError):
        return None
    return meta if isinstance(meta, dict) else None


def read_dir_file(target: Path) -> tuple[str, dict[str, Any]] | None:
    """(``path``, metadata) recorded in one ``dir`` output file, or None if it is not one of ours."""
    try:
        with np.load(target, allow_pickle=False) as z:
            meta = json.loads(str(z["metadata"]))
            return str(z["path"]), meta if isinstance(meta, dict) else {}
    except (OSError, ValueError, KeyError, EOFError):
        return None


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
    """Write the output for every finished good file; returns the number of rows written.

    Memory stays bounded by one shard plus one block (``npyio.BLOCK_BYTES``) whatever the size of
    the job: the clip and frame arrays are first put together in input order in ``.npy`` files in
    the partial folder (by row ranges, no memory map), then renamed (``npy``) or copied block by
    block into the ``.npz`` / Parquet output."""
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
    try:
        if plan.fmt == "npy":
            sidecar: dict[str, Any] = {"paths": paths, "durations": durations.tolist(), "metadata": plan.metadata}
            if frames is not None:
                sidecar["frame_offsets"] = offsets.tolist()
            _commit_npy(clip if clip is not None else frames, plan.output, sidecar)
        elif plan.fmt == "npz":
            members: dict[str, Any] = {"paths": np.array(paths, dtype=str), "durations": durations,
                                       "metadata": np.array(meta)}
            if clip is not None:
                members["embeddings"] = _stream_rows(clip)
            if frames is not None:
                members.update(frame_embeddings=_stream_rows(frames), frame_offsets=offsets,
                               timestamps=Stream((int(offsets[-1]),), np.float64, _timestamp_blocks(plan, offsets)))
            save_npz(plan.output, members)
        else:
            from .parquet import write_parquet
            write_parquet(plan, paths, durations, clip, frames, offsets, meta)
    finally:
        for a in (clip, frames):
            if a is not None:
                a.close()
    for name in ("clip.npy", "frames.npy"):
        (partial / name).unlink(missing_ok=True)
    return len(ok)


def _stream_rows(rows: NpyRows) -> Stream:
    return Stream((rows.rows, rows.dim), rows.dtype, rows.blocks())


def _assemble_clip(plan: Plan, row: dict[int, int], partial: Path) -> NpyRows:
    out = NpyRows(partial / "clip.npy", len(row), plan.dim, plan.dtype)
    for shard in iter_shards(partial):
        for j, i in enumerate(shard["ok_index"].tolist()):  # shards hold files in any order
            out.write(row[i], shard["clip"][j:j + 1])
    return out


def _assemble_frames(plan: Plan, summary: Summary, ok: list[int], row: dict[int, int],
                     partial: Path) -> tuple[NpyRows, np.ndarray]:
    counts = np.array([summary.frame_counts[i] for i in ok], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = NpyRows(partial / "frames.npy", int(offsets[-1]), plan.dim, plan.dtype)
    block = block_rows(plan.dim, 4)
    for shard in iter_shards(partial):
        for i, _n, blocks in iter_file_frames(shard, partial, plan.dim, block):
            at = int(offsets[row[i]])
            for b in blocks:
                out.write(at, b)
                at += len(b)
    return out, offsets


def _timestamp_blocks(plan: Plan, offsets: np.ndarray, block: int = 1 << 20):
    """Frame centres (float64 s) of every file in row order, in pieces of about ``block`` values."""
    pending: list[np.ndarray] = []
    size = 0
    for n in np.diff(offsets).tolist():
        pending.append(frame_timestamps(int(n), plan.hop, plan.stride, plan.sample_rate))
        size += n
        if size >= block:
            yield np.concatenate(pending)
            pending, size = [], 0
    if pending:
        yield np.concatenate(pending)


def _commit_npy(arr: "np.ndarray | NpyRows", output: Path, sidecar: dict[str, Any]) -> None:
    """Put OUTPUT.npy and its sidecar OUTPUT.json in place so that, whenever the process dies, the
    sidecar on disk never describes another array: both are staged and fsynced, the old sidecar is
    removed, then the array and then the new sidecar are renamed into place. A run killed in between
    leaves an array without a sidecar (and OUTPUT.partial/, so --resume or --overwrite redoes this
    step), never a mismatched pair. The sidecar records the array's ``rows`` and ``array_sha256``."""
    from ..hub import file_sha256

    side = sidecar_path(output)
    if isinstance(arr, NpyRows):
        arr.sync()
        staged = arr.path
    else:
        staged = output.with_name(f".{output.name}.staged.tmp")
        try:
            with open(staged, "wb") as f:
                np.save(f, arr)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
    rows = arr.rows if isinstance(arr, NpyRows) else int(arr.shape[0])
    sidecar = {**sidecar, "rows": rows, "array_sha256": file_sha256(staged)}
    staged_side = side.with_name(f".{side.name}.staged.tmp")
    try:
        with open(staged_side, "w", encoding="utf-8") as f:
            f.write(json.dumps(sidecar, indent=1))
            f.flush()
            os.fsync(f.fileno())
    except BaseException:  # a full disk: no staged file left beside the output
        staged_side.unlink(missing_ok=True)
        if not isinstance(arr, NpyRows):  # ours; the NpyRows file belongs to the partial folder
            staged.unlink(missing_ok=True)
        raise
    side.unlink(missing_ok=True)
    _remove_legacy_sidecar(output)
    _fsync_dir(output.parent)
    os.replace(staged, output)
    os.replace(staged_side, side)
    _fsync_dir(output.parent)


def _remove_legacy_sidecar(output: Path) -> None:
    """An ``out.json`` written by an earlier build for ``out.npy`` would describe the array being
    replaced: remove it if it is one of our sidecars (``paths``, ``metadata`` with
    ``slicer_embed_version``) whose ``rows`` are the replaced array's (earlier builds also gave
    ``out.NPY`` that name: a sidecar of another array is left alone)."""
    old = legacy_sidecar_path(output)
    if old is None or old == output or not old.is_file() or not output.is_file():
        return
    try:
        d = json.loads(old.read_text(encoding="utf-8"))
        with open(output, "rb") as f:
            version = np.lib.format.read_magic(f)
            shape = _npy_shape(f, version)
    except (OSError, ValueError):
        return
    if isinstance(d, dict) and "paths" in d and isinstance(d.get("metadata"), dict) \
            and "slicer_embed_version" in d["metadata"] and d.get("rows", len(d["paths"])) == shape[0]:
        old.unlink(missing_ok=True)


def _npy_shape(f: Any, version: tuple[int, int]) -> tuple[int, ...]:
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return tuple(reader(f)[0])


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
    block = block_rows(plan.dim, 4)
    n = 0
    for shard in iter_shards(partial):
        frames = iter_file_frames(shard, partial, plan.dim, block) if plan.frames else None
        for j, i in enumerate(shard["ok_index"].tolist()):
            members: dict[str, Any] = {"path": np.array(display(plan.rels[i])), "metadata": meta,
                                       "duration": np.float64(shard["ok_samples"][j] / plan.sample_rate)}
            if plan.clip:
                members["embedding"] = shard["clip"][j].astype(plan.dtype, copy=False)
            if frames is not None:
                _, t, blocks = next(frames)
                members["frame_embeddings"] = Stream((t, plan.dim), plan.dtype, blocks)
                members["timestamps"] = frame_timestamps(t, plan.hop, plan.stride, plan.sample_rate)
            target = plan.targets[i] if plan.targets is not None else dir_target(plan.output, plan.rels[i])
            target.parent.mkdir(parents=True, exist_ok=True)
            save_npz(target, members)
            n += 1
    atomic_write_text(plan.output / "metadata.json", json.dumps(plan.metadata, indent=1, sort_keys=True))
    return n
