"""Checks on a *full* build (``slicer-embed data minilape|corpus`` without ``--tiny``).

Opt-in: marked slow and skipped unless the folders are named, e.g.
  SLICER_EMBED_MINILAPE=data/minilape SLICER_EMBED_CORPUS=data/corpus \\
    OMP_NUM_THREADS=1 python -m pytest tests/test_offline_full.py -m slow -q
Every file is decoded and its 16-bit PCM hash recomputed, so the no-test-audio check does not trust
the manifests' ``sha1`` column (a few minutes for ~20 h of audio).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from slicer_embed.training.offline.common import pcm_sha1
from slicer_embed.training.offline.manifest import group_violations, read_csv
from slicer_embed.training.offline.tasks import TASK_NAMES

pytestmark = pytest.mark.slow


def _folder(var: str) -> Path:
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"set {var} to a full build folder to run this check")
    path = Path(value)
    if not (path / "manifest.csv").is_file() and not any((path / t / "manifest.csv").is_file() for t in TASK_NAMES):
        pytest.fail(f"{var}={value}: no manifest.csv there")
    return path


def _check_files(folder: Path, rows: list[dict[str, str]]) -> None:
    """Every row's file decodes as 16 kHz mono, is not silent, and matches its duration and hash."""
    bad = []
    for r in rows:
        x, sr = sf.read(str(folder / r["file_name"]), dtype="int16")
        y = x.astype(np.float32) / 32768
        if sr != 16000 or x.ndim != 1 or not np.abs(x).max() > 0 or abs(len(x) / sr - float(r["duration"])) > 1e-3 \
                or pcm_sha1(y) != r["sha1"]:
            bad.append(r["file_name"])
    assert not bad, f"{len(bad)} bad files, e.g. {bad[:3]}"


def _licensed(folder: Path, sources: set[str]) -> None:
    packages = {s.split("/", 1)[0] for s in sources if "/" in s and not s.startswith("tts:")}
    have = {p.name.removesuffix(".copyright") for p in (folder / "licences").glob("*.copyright")}
    assert packages <= have, f"copyright file missing for {sorted(packages - have)}"


@pytest.mark.parametrize("task", TASK_NAMES)
def test_full_task(task):
    folder = _folder("SLICER_EMBED_MINILAPE") / task
    rows = read_csv(folder / "manifest.csv")
    assert not group_violations(rows), "a group crosses splits"
    assert {"train", "valid", "test"} <= {r["split"] for r in rows}
    assert len({r["file_name"] for r in rows}) == len(rows)
    _check_files(folder, rows)
    _licensed(folder, {r["source"] for r in read_csv(folder / "sources.csv")})
    _failures_left_out(folder, rows)


def _failures_left_out(folder: Path, rows: list[dict[str, str]]) -> None:
    """Clips listed in failures.txt (see render_all) must not be in the manifest nor on disk."""
    report = folder / "failures.txt"
    failed = {line.split(": ", 1)[0] for line in report.read_text().splitlines()} if report.exists() else set()
    assert not failed & {r["file_name"] for r in rows}
    assert not [f for f in failed if (folder / f).exists()]


def test_full_corpus_holds_no_test_audio():
    corpus, minilape = _folder("SLICER_EMBED_CORPUS"), _folder("SLICER_EMBED_MINILAPE")
    rows = read_csv(corpus / "manifest.csv")
    _check_files(corpus, rows)
    _licensed(corpus, {r["source"] for r in rows})
    _failures_left_out(corpus, rows)
    test_sources, test_hashes = set(), set()
    for t in TASK_NAMES:
        test_hashes |= {r["sha1"] for r in read_csv(minilape / t / "manifest.csv") if r["split"].startswith("test")}
        for r in read_csv(minilape / t / "sources.csv"):
            if r["split"].startswith("test"):
                test_sources.add(r["source"])
                test_hashes.add(r["sha1"])
    assert test_sources, "the full mini-LAPE should use real recordings in its test splits"
    assert not {r["source"] for r in rows} & test_sources
    assert not ({r["sha1"] for r in rows} | {r["source_sha1"] for r in rows if r["source_sha1"]}) & test_hashes


def test_full_corpus_and_benchmark_share_no_source():
    """Issue 22: no package, voice, soundfont or recording feeds both the corpus and the benchmark.

    Run with SLICER_EMBED_CORPUS=data/corpus2 SLICER_EMBED_BENCHMARK=data/benchmark (manifests only)."""
    from slicer_embed.training.offline.allocation import BENCHMARK_TTS_ENGINES, RESERVED, RESERVED_FOR_PRETRAINING
    from slicer_embed.training.offline.benchmark import NAMES
    from slicer_embed.training.offline.corpus import source_packages

    corpus = _folder("SLICER_EMBED_CORPUS")
    bench = Path(os.environ.get("SLICER_EMBED_BENCHMARK") or pytest.skip("set SLICER_EMBED_BENCHMARK"))
    rows = read_csv(corpus / "manifest.csv")
    bench_sources = [r for t in NAMES for r in read_csv(bench / t / "sources.csv")]
    assert rows and bench_sources
    corpus_pkgs = source_packages(rows)
    bench_pkgs = {s["source"].split("/", 1)[0] for s in bench_sources if not s["source"].startswith("tts:")}
    assert not corpus_pkgs & bench_pkgs, "a package feeds both"
    assert not corpus_pkgs & (RESERVED | RESERVED_FOR_PRETRAINING)
    assert not bench_pkgs & RESERVED
    corpus_voices = {r["source"] for r in rows if r["source"].startswith("tts:")}
    bench_voices = {s["source"] for s in bench_sources if s["source"].startswith("tts:")}
    assert not corpus_voices & bench_voices
    assert {v.split(":")[1] for v in bench_voices} <= set(BENCHMARK_TTS_ENGINES)
    corpus_audio = {r["sha1"] for r in rows} | {r["source_sha1"] for r in rows if r["source_sha1"]}
    bench_audio = {s["sha1"] for s in bench_sources if s.get("sha1")}
    for t in NAMES:
        bench_audio |= {r["sha1"] for r in read_csv(bench / t / "manifest.csv")}
    assert not corpus_audio & bench_audio, "the same recording (by 16 kHz PCM hash) is in both"
