"""Tiny end-to-end builds of the mini-LAPE tasks and the corpus (``slicer-embed data ... --tiny``).

One tiny build of each per session (shared fixture). Needs the synthesis tools (fails with the
install command when they are missing) and the Debian mirror (skips when `apt-get download` fails).
Debian packages are cached in $SLICER_EMBED_DATA_CACHE or ~/.cache/slicer-embed/debs.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from data_build import build

from slicer_embed.training.offline import cli
from slicer_embed.training.offline.common import pcm_sha1
from slicer_embed.training.offline.manifest import read_csv
from slicer_embed.training.offline.tasks import ALL_NAMES, TASK_NAMES
from slicer_embed.training.offline.tools import ToolMissingError, require_tools

TOOLS = ("espeak-ng", "flite", "text2wave", "fluidsynth")
REBUILT = ("kws", "speaker", "instrument", "bird")  # rebuilt from scratch to check determinism


def _build(args: list[str]) -> None:
    build(args, TOOLS)


TINY_LIMIT_S = 180.0  # the bound for a --tiny build (with the Debian packages already cached)
TINY_SECONDS: dict[str, float] = {}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("offline")
    for kind in ("minilape", "corpus"):
        t0 = time.perf_counter()
        _build([kind, str(root / kind), "--tiny"])
        TINY_SECONDS[kind] = time.perf_counter() - t0
    return root


def _decode_all(folder: Path, rows: list[dict[str, str]]) -> None:
    for r in rows:
        x, sr = sf.read(str(folder / r["file_name"]), dtype="float32")
        assert sr == 16000 and x.ndim == 1, r["file_name"]
        assert abs(len(x) / sr - float(r["duration"])) < 1e-3
        assert np.isfinite(x).all() and np.abs(x).max() > 0, f"silent or bad file {r['file_name']}"
        assert pcm_sha1(x) == r["sha1"], f"{r['file_name']}: content does not match the manifest hash"


@pytest.mark.parametrize("task", ALL_NAMES)
def test_task_manifest_is_valid(tiny, task):
    folder = tiny / "minilape" / task
    rows = read_csv(folder / "manifest.csv")
    assert rows and {"file_name", "label", "split", "group"} <= set(rows[0])
    splits = {r["split"] for r in rows}
    assert {"train", "valid", "test"} <= splits and all(s in ("train", "valid") or s.startswith("test") for s in splits)
    crossing = {}
    for r in rows:
        crossing.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in crossing.values()), "a group crosses splits"
    labels = {r["label"] for r in rows if r["split"] == "train"}
    assert len(labels) >= 2 and {r["label"] for r in rows} == labels | {r["label"] for r in rows if r["split"] != "train"}
    _decode_all(folder, rows)
    assert list((folder / "licences").glob("*.copyright")), "licence files missing"


def test_task_class_sets(tiny):
    labels = {t: {r["label"] for r in read_csv(tiny / "minilape" / t / "manifest.csv")} for t in ALL_NAMES}
    assert len(labels["kws"]) == 12 and {"_unknown_", "_silence_", "yes", "go"} <= labels["kws"]
    assert len(labels["instrument"]) == 11
    assert labels["language"] == {"en", "es", "fr", "de", "ru", "it"}
    assert labels["bird"] == {"bird", "no_bird"}
    assert labels["pitch"] == {"C", "D", "E", "F", "G", "A", "B"}  # the tiny list: white keys C3-D5
    assert {r["split"] for r in read_csv(tiny / "minilape" / "language" / "manifest.csv")} >= {"test_real"}


def test_corpus_manifest_and_files(tiny):
    folder = tiny / "corpus"
    rows = read_csv(folder / "manifest.csv")
    assert rows and set(rows[0]) >= {"file_name", "source", "domain", "duration"}
    kinds = {r["file_name"].split("/")[0] for r in rows}
    assert kinds == {"speech", "music", "env", "tts"}
    assert {r["domain"] for r in rows} == {"speech", "music", "env"}
    assert {r["domain"] for r in rows if r["file_name"].startswith("tts/")} == {"speech"}
    assert all(r["source"].startswith("tts:espeak:") for r in rows if r["file_name"].startswith("tts/"))
    pieces = [r for r in rows if r["source"].startswith("render:")]
    assert pieces and {r["domain"] for r in pieces} == {"music"}
    assert all(float(r["duration"]) <= 10.0 + 1e-3 or r["file_name"].startswith(("speech", "tts")) for r in rows)
    _decode_all(folder, rows)
    assert (folder / "licences" / "hedgewars-data.copyright").is_file()
    assert (folder / "licences" / "fluidr3mono-gm-soundfont.copyright").is_file()


def test_corpus_holds_no_test_audio(tiny):
    corpus = read_csv(tiny / "corpus" / "manifest.csv")
    corpus_hashes = {r["sha1"] for r in corpus} | {r["source_sha1"] for r in corpus if r["source_sha1"]}
    test_hashes = set()
    for t in TASK_NAMES:
        test_hashes |= {r["sha1"] for r in read_csv(tiny / "minilape" / t / "manifest.csv") if r["split"].startswith("test")}
        test_hashes |= {r["sha1"] for r in read_csv(tiny / "minilape" / t / "sources.csv") if r["split"].startswith("test")}
    real_tests = [r for t in TASK_NAMES for r in read_csv(tiny / "minilape" / t / "sources.csv") if r["split"].startswith("test")]
    assert real_tests, "tiny mini-LAPE should use real recordings in its test splits"
    assert not corpus_hashes & test_hashes
    # The check is not vacuous: the tiny corpus and the tiny tasks draw on the same package.
    assert any(r["source"].startswith("hedgewars-data/") for r in corpus)
    assert any(r["source"].startswith("hedgewars-data/") for r in real_tests)


def test_tiny_builds_are_fast(tiny):
    # Measured on the first (cold-output) tiny builds of the session; packages may download once.
    assert set(TINY_SECONDS) == {"minilape", "corpus"}
    slow = {k: round(v) for k, v in TINY_SECONDS.items() if v > TINY_LIMIT_S}
    assert not slow, f"--tiny builds took {slow} s (limit {TINY_LIMIT_S:.0f} s each)"


def test_builds_are_deterministic(tiny, tmp_path):
    _build(["minilape", str(tmp_path / "again"), "--tiny", "--tasks", *REBUILT])
    for t in REBUILT:
        a = (tiny / "minilape" / t / "manifest.csv").read_text()
        assert a == (tmp_path / "again" / t / "manifest.csv").read_text(), t
    _build(["corpus", str(tmp_path / "corpus"), "--tiny"])
    assert (tiny / "corpus" / "manifest.csv").read_text() == (tmp_path / "corpus" / "manifest.csv").read_text()


def test_resume_skips_existing_and_restores_missing(tiny, tmp_path):
    out = tmp_path / "ml"
    shutil.copytree(tiny / "minilape" / "kws", out / "kws")
    rows = read_csv(out / "kws" / "manifest.csv")
    keep, gone = out / "kws" / rows[0]["file_name"], out / "kws" / rows[1]["file_name"]
    os.utime(keep, (1_000_000_000, 1_000_000_000))
    gone.unlink()
    _build(["minilape", str(out), "--tiny", "--tasks", "kws"])
    assert keep.stat().st_mtime == 1_000_000_000  # untouched: resumed, not regenerated
    assert gone.is_file()
    assert (out / "kws" / "manifest.csv").read_text() == (tiny / "minilape" / "kws" / "manifest.csv").read_text()


def test_missing_tool_message(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(ToolMissingError, match="install-audio-tools.sh"):
        require_tools("espeak-ng")
    assert cli.main(["minilape", str(tmp_path / "x"), "--tiny", "--tasks", "instrument"]) == 2
