"""A tiny end-to-end build of the out-of-domain benchmark (``slicer-embed data benchmark OUT --tiny``).

One tiny build per session (shared fixture, ~30 s with the Debian packages cached). Needs flite,
festival and fluidsynth (fails with the install command when they are missing) and the Debian mirror
(skips when `apt-get download` fails). Packages are cached in $SLICER_EMBED_DATA_CACHE or
~/.cache/slicer-embed/debs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from data_build import build

from slicer_embed.training.offline.allocation import (BENCHMARK_PACKAGES, BENCHMARK_TTS_ENGINES,
                                                      CORPUS_TTS_ENGINES, RESERVED,
                                                      corpus_packages)
from slicer_embed.training.offline.benchmark import NAMES
from slicer_embed.training.offline.common import pcm_sha1
from slicer_embed.training.offline.manifest import group_violations, read_csv

TOOLS = ("flite", "festival", "text2wave", "fluidsynth")


def _build(args: list[str]) -> None:
    build(args, TOOLS)


@pytest.fixture(scope="session")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("benchmark")
    _build(["benchmark", str(root), "--tiny"])
    return root


@pytest.mark.parametrize("task", NAMES)
def test_task_is_group_disjoint_and_evaluable(bench, task):
    folder = bench / task
    rows = read_csv(folder / "manifest.csv")
    assert rows and list(rows[0]) == ["file_name", "label", "split", "group", "duration", "sha1"]
    assert {r["split"] for r in rows} == {"train", "valid", "test"}
    assert not group_violations(rows), "a group crosses splits"
    train = {r["label"] for r in rows if r["split"] == "train"}
    assert len(train) >= 2 and {r["label"] for r in rows} == train, "a class is missing from train"
    for r in rows:
        x, sr = sf.read(str(folder / r["file_name"]), dtype="float32")
        assert sr == 16000 and x.ndim == 1 and np.abs(x).max() > 0, r["file_name"]
        assert abs(len(x) / sr - float(r["duration"])) < 1e-3 and pcm_sha1(x) == r["sha1"], r["file_name"]
    assert list((folder / "licences").glob("*.copyright")), "licence files missing"


def test_eval_reads_the_task_folders_and_dev_views(bench):
    from slicer_embed.training.evaluation.manifest import read_manifest

    for t in NAMES:
        task = read_manifest(bench / t)
        assert set(task.splits) == {"train", "valid", "test"} and all(task.path(r).is_file() for r in task.rows)
        dev = read_manifest(bench / "dev" / t)
        assert dev.name == t and set(dev.splits) == {"train", "valid"}
        assert {task.path(r).resolve() for r in task.rows if r.split != "test"} == {dev.path(r).resolve() for r in dev.rows}


def test_sources_are_benchmark_only(bench):
    corpus = set(corpus_packages())
    seen_pkgs, seen_engines = set(), set()
    for t in NAMES:
        for r in read_csv(bench / t / "sources.csv"):
            s = r["source"]
            if s.startswith("tts:"):
                seen_engines.add(s.split(":")[1])
            else:
                seen_pkgs.add(s.split("/", 1)[0])
                assert r["sha1"], f"{t}: {s} has no content hash"
    assert seen_pkgs and seen_pkgs <= BENCHMARK_PACKAGES
    assert not seen_pkgs & (corpus | RESERVED)
    assert seen_engines == set(BENCHMARK_TTS_ENGINES) and not seen_engines & set(CORPUS_TTS_ENGINES)
    # every soundfont the benchmark renders with is recorded as a source of its split
    fonts = {r["source"].split("/", 1)[0]: r["split"] for r in read_csv(bench / "pitch" / "sources.csv")}
    assert fonts == {"minuet-data": "train", "csound-soundfont": "valid", "timgm6mb-soundfont": "test"}


def test_kws_splits_by_speaker(bench):
    rows = read_csv(bench / "kws" / "manifest.csv")
    assert all(r["group"].startswith("speaker:") for r in rows)
    assert len({r["label"] for r in rows}) == 11


def test_rebuild_is_identical(bench, tmp_path):
    _build(["benchmark", str(tmp_path / "again"), "--tiny", "--tasks", "kws", "drums", "sfx"])
    for t in ("kws", "drums", "sfx"):
        assert (bench / t / "manifest.csv").read_text() == (tmp_path / "again" / t / "manifest.csv").read_text(), t
