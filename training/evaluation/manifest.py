"""Task manifests: the one canonical form every evaluation task is converted into.

A task is a folder holding ``manifest.csv`` with the columns ``file_name,label,split[,group]``:
``file_name`` is relative to the folder (absolute paths are accepted too), ``label`` a string,
``split`` one of ``train``, ``valid``, ``test`` or any other name starting with ``test`` (each test
split is scored separately), ``group`` an optional speaker/source/recording id used to keep carved
validation splits group-disjoint. An optional ``task.json`` may give ``crop_seconds``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from slicer_embed.atomic import atomic_write_text  # noqa: F401  (re-exported)

from .splits import holdout_mask

MANIFEST_NAME = "manifest.csv"
TASK_INFO_NAME = "task.json"
REQUIRED_COLUMNS = ("file_name", "label", "split")


class TaskError(ValueError):
    """A task that cannot be evaluated as given (bad manifest, class missing from train, ...)."""


@dataclass(frozen=True)
class Row:
    file_name: str
    label: str
    split: str
    group: str = ""


@dataclass(frozen=True)
class Task:
    """A loaded manifest. ``root`` is the folder ``file_name`` is relative to."""

    name: str
    root: Path
    rows: tuple[Row, ...]
    info: Mapping[str, Any] = field(default_factory=dict)  # task.json contents (crop_seconds, source, ...)

    def path(self, row: Row) -> Path:
        p = Path(row.file_name)
        return p if p.is_absolute() else self.root / p

    @property
    def splits(self) -> list[str]:
        return sorted({r.split for r in self.rows})

    @property
    def test_splits(self) -> list[str]:
        return [s for s in self.splits if s.startswith("test")]

    def fingerprint(self) -> str:
        """sha256 of the rows and of each file's size and mtime: changes when any listed file does."""
        h = hashlib.sha256(self.name.encode())
        for r in self.rows:
            try:
                st = self.path(r).stat()
                stamp = f"{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                stamp = "missing"
            h.update(f"{r.file_name}\t{r.label}\t{r.split}\t{r.group}\t{stamp}\n".encode())
        return h.hexdigest()


def _check_split(split: str, where: str) -> str:
    if split in ("train", "valid") or split.startswith("test"):
        return split
    raise TaskError(f"{where}: split {split!r} is not train, valid or test*")


def read_manifest(folder: str | os.PathLike, name: str | None = None) -> Task:
    """Load ``folder/manifest.csv`` (and ``task.json`` if present) into a ``Task``."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise TaskError(f"{folder}: no {MANIFEST_NAME} (expected columns {','.join(REQUIRED_COLUMNS)}[,group])")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TaskError(f"{path}: missing column(s) {missing}; header is {reader.fieldnames}")
        rows = []
        for line, rec in enumerate(reader, start=2):
            where = f"{path}:{line}"
            fn, label = (rec.get("file_name") or "").strip(), (rec.get("label") or "").strip()
            if not fn or not label:
                raise TaskError(f"{where}: empty file_name or label")
            split = _check_split((rec.get("split") or "").strip(), where)
            rows.append(Row(fn, label, split, (rec.get("group") or "").strip()))
    if not rows:
        raise TaskError(f"{path}: manifest has no rows")
    info_path = folder / TASK_INFO_NAME
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    return Task(name or folder.name, folder, tuple(rows), info)


def write_manifest(folder: str | os.PathLike, rows: Iterable[Row], info: Mapping[str, Any] | None = None) -> Path:
    """Write ``folder/manifest.csv`` (and ``task.json`` when ``info`` is given) atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file_name", "label", "split", "group"])
    for r in rows:
        w.writerow([r.file_name, r.label, r.split, r.group])
    atomic_write_text(folder / MANIFEST_NAME, buf.getvalue())
    if info is not None:
        atomic_write_text(folder / TASK_INFO_NAME, json.dumps(dict(info), indent=2, sort_keys=True) + "\n")
    return folder / MANIFEST_NAME



def check_classes(task_name: str, rows: Sequence[Row]) -> list[str]:
    """Sorted class list of the train rows; fails naming any class seen in valid/test but not in train."""
    train = {r.label for r in rows if r.split == "train"}
    if not train:
        raise TaskError(f"task {task_name}: no usable train rows")
    for r in rows:
        if r.label not in train:
            raise TaskError(f"task {task_name}: class {r.label!r} appears in split {r.split!r} but has no "
                            f"usable train example (e.g. {r.file_name}); add train data or drop the class")
    return sorted(train)


def ensure_valid(task_name: str, rows: Sequence[Row], fraction: float, seed: int) -> tuple[list[Row], dict | None]:
    """Rows with a ``valid`` split: unchanged if one exists, else carved from train (group-aware, seeded).

    Returns the rows and a record of the carve (seed, fraction, exact file list) or None.
    """
    if any(r.split == "valid" for r in rows):
        return list(rows), None
    train_idx = [i for i, r in enumerate(rows) if r.split == "train"]
    mask = holdout_mask([rows[i].label for i in train_idx], [rows[i].group for i in train_idx], fraction, seed)
    if not mask.any():
        raise TaskError(f"task {task_name}: has no valid split and none could be carved from train "
                        f"({len(train_idx)} rows; every class needs >= 2 groups)")
    carved = {train_idx[j] for j in range(len(train_idx)) if mask[j]}
    out = [Row(r.file_name, r.label, "valid", r.group) if i in carved else r for i, r in enumerate(rows)]
    record = {"seed": seed, "fraction": fraction, "n_valid": len(carved), "group_aware": True,
              "files": sorted(rows[i].file_name for i in carved)}
    return out, record
