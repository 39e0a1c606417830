"""Converters for the LAPE music and non-speech datasets (NSynth, TUT 2018, bird detection, MUSAN).

Same contract as ``layouts_speech``: ``convert_*(source, dest, seed) -> dest`` writes a canonical
``manifest.csv`` + ``task.json`` into ``dest`` with paths relative to it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .layouts_speech import TEST_FRACTION, finish, rel, seeded_test_split
from .manifest import Row, TaskError

BIRD_SUBSETS = ("ff1010bird", "warblrb10k_public")
MUSAN_CLASSES = ("speech", "music", "noise")


def convert_nsynth(source: Path, dest: Path, seed: int) -> Path:
    """NSynth ``nsynth-{train,valid,test}/examples.json`` + ``audio/<key>.wav``; label = instrument family.

    Official splits (the DECAR prep built its test rows from the *valid* json; we do not).
    group = instrument id (e.g. ``bass_synthetic_033``).
    """
    rows = []
    for split in ("train", "valid", "test"):
        sdir = source / f"nsynth-{split}"
        meta = sdir / "examples.json"
        if not meta.is_file():
            raise TaskError(f"{meta}: missing (NSynth split metadata)")
        for key, ex in sorted(json.loads(meta.read_text()).items()):
            family = ex.get("instrument_family_str")
            if not family:
                raise TaskError(f"{meta}: example {key!r} has no instrument_family_str")
            rows.append(Row(rel(dest, sdir / "audio" / f"{key}.wav"), family, split,
                            str(ex.get("instrument_str", ""))))
    return finish(dest, rows, {"dataset": "nsynth", "source": str(source), "seed": seed})


def _tut_group(path: str) -> str:
    # audio/<scene>-<city>-<location>-<segment>-<device>.wav: segments of one location stay together
    parts = Path(path).stem.split("-")
    return "-".join(parts[1:3]) if len(parts) >= 3 else Path(path).stem


def convert_tut2018(source: Path, dest: Path, seed: int) -> Path:
    """TUT Urban Acoustic Scenes 2018 development set, ``evaluation_setup/fold1_{train,evaluate}.txt``.

    fold1_train -> train, fold1_evaluate -> test (10 scenes). group = city-location, so the
    validation split carved from train never shares a recording location with train.
    """
    rows = []
    for fname, split in (("fold1_train.txt", "train"), ("fold1_evaluate.txt", "test")):
        lst = source / "evaluation_setup" / fname
        if not lst.is_file():
            raise TaskError(f"{lst}: missing (TUT 2018 fold-1 list)")
        for n, line in enumerate(lst.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise TaskError(f"{lst}:{n}: expected 'audio/<file>.wav<TAB><scene>'")
            rows.append(Row(rel(dest, source / parts[0].strip()), parts[1].strip(), split, _tut_group(parts[0])))
    return finish(dest, rows, {"dataset": "tut2018", "source": str(source), "seed": seed})


def convert_bird(source: Path, dest: Path, seed: int) -> Path:
    """DCASE 2018 bird audio detection: ``ff1010bird`` + ``warblrb10k_public``.

    Each subset folder holds a ``*metadata*.csv`` (``itemid,datasetid,hasbird``) and ``wav/<itemid>.wav``.
    Labels ``bird``/``nobird``; no official split: seeded stratified 80/20 of the combined set.
    """
    rows = []
    for sub in BIRD_SUBSETS:
        sdir = source / sub
        metas = sorted(sdir.glob("*metadata*.csv"))
        if not metas:
            raise TaskError(f"{sdir}: no *metadata*.csv (itemid,datasetid,hasbird)")
        with open(metas[0], newline="") as f:
            for rec in csv.DictReader(f):
                if rec.get("hasbird") not in ("0", "1"):
                    raise TaskError(f"{metas[0]}: item {rec.get('itemid')!r} has hasbird={rec.get('hasbird')!r}")
                label = "bird" if rec["hasbird"] == "1" else "nobird"
                rows.append(Row(rel(dest, sdir / "wav" / f"{rec['itemid']}.wav"), label, "train"))
    return finish(dest, seeded_test_split(rows, seed), {"dataset": "bird_audio_detection", "source": str(source),
                                                        "seed": seed, "test_fraction": TEST_FRACTION})


def convert_musan(source: Path, dest: Path, seed: int) -> Path:
    """MUSAN ``{speech,music,noise}/<subset>/*.wav``; 3 classes; seeded stratified 80/20 by file."""
    rows = [Row(rel(dest, wav), cls, "train", "")
            for cls in MUSAN_CLASSES for wav in sorted((source / cls).glob("**/*.wav"))]
    return finish(dest, seeded_test_split(rows, seed), {"dataset": "musan", "source": str(source),
                                                        "seed": seed, "test_fraction": TEST_FRACTION})
