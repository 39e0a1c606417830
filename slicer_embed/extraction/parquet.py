"""Parquet output (optional ``parquet`` extra: pyarrow, imported only when this format is used).

Clip level: one row per good file, columns ``path`` (string), ``duration_s`` (float64) and
``embedding`` (fixed-size list of D float32/float16). Frame level: one row per frame, ``path``,
``t_center_s`` (float64 centre seconds) and ``embedding``. The run metadata is stored as JSON under
the schema metadata key ``slicer_embed``. Rows are written in row groups from the disk-backed arrays.
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


def write_parquet(plan: Any, paths: list[str], durations: np.ndarray, clip: np.ndarray | None,
                  frames: np.ndarray | None, offsets: np.ndarray | None, meta: str) -> None:
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


def _clip_groups(paths: list[str], durations: np.ndarray, clip: np.ndarray):
    for s in range(0, len(paths), ROW_GROUP):
        yield paths[s:s + ROW_GROUP], durations[s:s + ROW_GROUP], np.asarray(clip[s:s + ROW_GROUP])


def _frame_groups(plan: Any, paths: list[str], frames: np.ndarray, offsets: np.ndarray):
    """Row groups of about ROW_GROUP frames, whole files each (a long file makes one large group)."""
    start = 0
    while start < len(paths):
        end = start + 1
        while end < len(paths) and offsets[end + 1] - offsets[start] <= ROW_GROUP:
            end += 1
        names: list[str] = []
        stamps = []
        for i in range(start, end):
            n = int(offsets[i + 1] - offsets[i])
            names += [paths[i]] * n
            stamps.append(frame_timestamps(n, plan.hop, plan.stride, plan.sample_rate))
        yield names, np.concatenate(stamps), np.asarray(frames[offsets[start]:offsets[end]])
        start = end
