"""Parquet output (optional ``parquet`` extra: pyarrow, imported only when this format is used).

Clip level: one row per good file, columns ``path`` (string), ``duration_s`` (float64) and
``embedding`` (fixed-size list of D float32/float16). Frame level: one row per frame, ``path``,
``t_center_s`` (float64 centre seconds) and ``embedding``. The run metadata is stored as JSON under
the schema metadata key ``slicer_embed``. Rows are written in row groups of at most ``ROW_GROUP`` rows
(a long file's frames span several groups), read block by block from the staged ``.npy`` files.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np

from .pooling import frame_timestamps

ROW_GROUP = 4096


def import_pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError("parquet output needs pyarrow: pip install 'slicer-embed[parquet]' "
                          "(or write .npz / .npy instead)") from e
    return pa, pq


def _embedding_column(pa: Any, block: np.ndarray) -> Any:
    flat = pa.array(np.ascontiguousarray(block).reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, block.shape[1])


def write_parquet(plan: Any, paths: list[str], durations: np.ndarray, clip: Any, frames: Any,
                  offsets: np.ndarray | None, meta: str) -> None:
    """``clip`` / ``frames``: ``npyio.NpyRows`` in row order; one of them is None."""
    pa, pq = import_pyarrow()
    value = pa.float16() if plan.dtype == np.float16 else pa.float32()
    emb_type = pa.list_(value, plan.dim)
    if clip is not None:
        schema = pa.schema([("path", pa.string()), ("duration_s", pa.float64()), ("embedding", emb_type)])
    else:
        schema = pa.schema([("path", pa.string()), ("t_center_s", pa.float64()), ("embedding", emb_type)])
    schema = schema.with_metadata({"slicer_embed": meta})
    tmp = plan.output.with_name(f".{plan.output.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with pq.ParquetWriter(str(tmp), schema) as w:
            for cols in (_clip_groups(paths, durations, clip) if clip is not None
                         else _frame_groups(plan, paths, frames, offsets)):
                names, stamps, block = cols
                w.write_table(pa.table([pa.array(names, pa.string()), pa.array(stamps, pa.float64()),
                                        _embedding_column(pa, block)], schema=schema))
        with open(tmp, "rb+") as f:  # on disk before the rename (as slicer_embed.atomic does)
            os.fsync(f.fileno())
        os.replace(tmp, plan.output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _clip_groups(paths: list[str], durations: np.ndarray, clip: Any):
    for s in range(0, len(paths), ROW_GROUP):
        yield paths[s:s + ROW_GROUP], durations[s:s + ROW_GROUP], clip.read(s, min(len(paths), s + ROW_GROUP))


def _frame_groups(plan: Any, paths: list[str], frames: Any, offsets: np.ndarray):
    """Row groups of ROW_GROUP frames (the last one shorter), in row order across file boundaries."""
    total = int(offsets[-1])
    for s in range(0, total, ROW_GROUP):
        e = min(total, s + ROW_GROUP)
        first, last = int(np.searchsorted(offsets, s, "right")) - 1, int(np.searchsorted(offsets, e - 1, "right")) - 1
        names: list[str] = []
        stamps = []
        for i in range(first, last + 1):
            a, b = max(s, int(offsets[i])), min(e, int(offsets[i + 1]))
            if b <= a:
                continue
            names += [paths[i]] * (b - a)
            stamps.append(frame_timestamps(b - a, plan.hop, plan.stride, plan.sample_rate, first=a - int(offsets[i])))
        yield names, np.concatenate(stamps), frames.read(s, e)
