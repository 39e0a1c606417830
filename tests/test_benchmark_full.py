"""Checks on a *full* benchmark build (``slicer-embed data benchmark OUT`` without ``--tiny``).

Opt-in: marked slow and skipped unless the folder is named, e.g.
  SLICER_EMBED_BENCHMARK=data/benchmark python -m pytest tests/test_benchmark_full.py -m slow -q
Reads manifests and sources only (test audio is never opened): every task is group-disjoint, has
every class in each split, and uses only benchmark sources.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from slicer_embed.training.offline.allocation import (BENCHMARK_PACKAGES, BENCHMARK_SOUNDFONTS,
                                                      BENCHMARK_TTS_ENGINES, RESERVED)
from slicer_embed.training.offline.benchmark import NAMES
from slicer_embed.training.offline.manifest import group_violations, read_csv

pytestmark = pytest.mark.slow


def _root() -> Path:
    value = os.environ.get("SLICER_EMBED_BENCHMARK")
    if not value:
        pytest.skip("set SLICER_EMBED_BENCHMARK to a full benchmark build folder to run this check")
    return Path(value)


@pytest.mark.parametrize("task", NAMES)
def test_full_task(task):
    root = _root()
    rows = read_csv(root / task / "manifest.csv")
    assert not group_violations(rows), "a group crosses splits"
    labels = defaultdict(set)
    for r in rows:
        labels[r["split"]].add(r["label"])
    assert set(labels) == {"train", "valid", "test"}
    assert labels["train"] == labels["valid"] == labels["test"], "a class is missing from a split"
    dev = read_csv(root / "dev" / task / "manifest.csv")
    assert len(dev) == sum(r["split"] != "test" for r in rows) and {r["split"] for r in dev} == {"train", "valid"}
    for r in read_csv(root / task / "sources.csv"):
        s = r["source"]
        if s.startswith("tts:"):
            assert s.split(":")[1] in BENCHMARK_TTS_ENGINES, s
        else:
            pkg = s.split("/", 1)[0]
            assert pkg in BENCHMARK_PACKAGES and pkg not in RESERVED, s
            if s.endswith((".sf2", ".sf3")):
                assert BENCHMARK_SOUNDFONTS[pkg][1] == r["split"], f"{s} renders the {r['split']} split"
