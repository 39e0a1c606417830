"""What a training run read: the corpus's version and domain mix, for the run's checkpoints and provenance.

``corpus_record(data, files, plan)`` is a plain dict (JSON and ``torch.load(weights_only=True)`` safe)
that the run stores with its normalisation statistics at step 0, so a resumed run and the exported
model carry the record of the corpus the run started on:

- ``source``: the folder or CSV given to ``--data``; ``sha256`` of the CSV's bytes (the corpus version:
  a manifest names every file with its sha1), or of the sorted file list for a folder;
- ``files`` and, where the manifest has a ``duration`` column (seconds), ``hours``;
- ``hours_by_domain`` (manifest ``domain`` column) and ``crops_per_pass_by_domain`` (the pass plan of
  ``--domain-weights``; without weights, one crop per file, so the files per domain).
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from slicer_embed.hub import file_sha256

from .data import read_domains
from .domains import DomainPlan


def _manifest_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def corpus_record(data: str | os.PathLike, files: Sequence[Path], plan: DomainPlan | None) -> dict[str, Any]:
    """The record of the corpus ``data`` whose readable ``files`` a run trains on (see the module docstring)."""
    data = Path(data)
    record: dict[str, Any] = {"source": str(data), "files": len(files)}
    if data.is_file():
        record["sha256"] = file_sha256(data)
        rows = _manifest_rows(data)
    else:
        record["sha256"] = hashlib.sha256("\n".join(sorted(map(str, files))).encode()).hexdigest()
        rows = []
    if rows and "duration" in rows[0]:
        hours: dict[str, float] = defaultdict(float)
        for r in rows:
            try:
                seconds = float(r["duration"])
            except (TypeError, ValueError):
                continue
            hours[(r.get("domain") or "").strip() or "all"] += seconds / 3600
        record["hours"] = round(sum(hours.values()), 3)
        if set(hours) != {"all"}:
            record["hours_by_domain"] = {d: round(h, 3) for d, h in sorted(hours.items())}
    if plan is not None:
        record["crops_per_pass_by_domain"] = {d: c for d, (c, _) in plan.mix().items()}
    elif data.is_file():
        of = read_domains(data)
        if of:
            counts: dict[str, int] = defaultdict(int)
            for f in files:
                counts[of.get(f, "unknown")] += 1
            record["crops_per_pass_by_domain"] = dict(sorted(counts.items()))
    return record
