"""benchmarks/bench_precision.py: file selection per group and the cosine it reports."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_precision
    finally:
        sys.path.remove(str(BENCH))
    return bench_precision


def test_files_are_grouped_by_folder_thinned_and_capped(bench, tmp_path):
    for task, n in (("kws", 7), ("bird", 3)):
        for i in range(n):
            f = tmp_path / task / "audio" / f"{i:02d}.wav"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"")
    (tmp_path / "kws" / "manifest.csv").write_text("not audio")
    groups = bench.pick_files(tmp_path, depth=1, every=2, per_group=3)
    assert sorted(groups) == ["bird", "kws"]
    assert [p.name for p in groups["kws"]] == ["00.wav", "02.wav", "04.wav"]  # every 2nd, at most 3
    assert [p.name for p in groups["bird"]] == ["00.wav", "02.wav"]
    assert all(p.is_absolute() for files in groups.values() for p in files)


def test_row_cosine(bench):
    a = np.array([[1.0, 0.0], [3.0, 4.0], [1.0, 1.0]], np.float32)
    b = np.array([[2.0, 0.0], [3.0, 4.0], [-1.0, -1.0]], np.float32)
    np.testing.assert_allclose(bench.row_cosine(a, b), [1.0, 1.0, -1.0], atol=1e-12)
