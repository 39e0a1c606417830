"""Converters from the official layouts of the LAPE speech datasets to canonical task manifests.

Each ``convert_*(source, dest, seed)`` reads a dataset as distributed, writes ``dest/manifest.csv``
(paths relative to ``dest``, pointing back into ``source``; nothing is copied except generated
Speech Commands silence clips) and ``dest/task.json`` (dataset, source, seed, counts), and returns
``dest``. Splits follow the task table of docs/evaluation.md; where a dataset ships no split, a seeded
stratified hold-out is cut and the exact files are the manifest itself.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from slicer_embed.audio import load_audio

from .manifest import Row, TaskError, write_manifest
from .splits import holdout_mask

SC_COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN, SILENCE = "_unknown_", "_silence_"
IEMOCAP_CLASSES = ("neu", "ang", "sad", "hap")  # 'exc' is *not* merged into 'hap' (as the LAPE code)
VOXFORGE_LANGS = ("en", "es", "fr", "de", "ru", "it")
TEST_FRACTION = 0.2  # LAPE's 80/20 for datasets without an official split
SR = 16000


def rel(dest: Path, path: Path) -> str:
    return os.path.relpath(path, dest).replace(os.sep, "/")


def finish(dest: Path, rows: list[Row], info: dict[str, Any]) -> Path:
    if not rows:
        raise TaskError(f"{info.get('source')}: no audio found for {info.get('dataset')} in the expected layout")
    info = {**info, "counts": {s: n for s, n in sorted(Counter(r.split for r in rows).items())},
            "classes": len({r.label for r in rows})}
    write_manifest(dest, rows, info)
    return dest


def seeded_test_split(rows: list[Row], seed: int, fraction: float = TEST_FRACTION) -> list[Row]:
    """Move a stratified, group-aware ``fraction`` of the (all-train) rows to ``test``."""
    mask = holdout_mask([r.label for r in rows], [r.group for r in rows], fraction, seed)
    return [Row(r.file_name, r.label, "test", r.group) if m else r for r, m in zip(rows, mask)]


def _require_dir(p: Path, what: str) -> Path:
    if not p.is_dir():
        raise TaskError(f"{p}: not found; expected the {what}")
    return p


# -- Speech Commands --------------------------------------------------------------------------------

def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise TaskError(f"{path}: missing official split list")
    return {ln.strip() for ln in path.read_text().splitlines() if ln.strip()}


def convert_speech_commands(source: Path, dest: Path, seed: int, n_classes: int) -> Path:
    """Speech Commands v0.01/v0.02 folder (word folders, ``validation_list.txt``, ``testing_list.txt``).

    ``n_classes=35`` (v2): every word is a class. ``n_classes=12``: the 10 commands, ``_unknown_`` (all
    other words) and ``_silence_``: 1 s crops of ``_background_noise_`` written into ``dest``, taken
    from disjoint time regions per split (first 80 % of each noise file for train, next 10 % valid,
    last 10 % test), as many per split as the mean command-word count of that split. Splits: the
    official lists (valid = ``validation_list.txt``, test = ``testing_list.txt``); group = speaker hash.
    """
    source = _require_dir(source, "Speech Commands root (word folders + testing_list.txt)")
    valid, test = _read_list(source / "validation_list.txt"), _read_list(source / "testing_list.txt")
    rows = []
    for wav in sorted(source.glob("*/*.wav")):
        word = wav.parent.name
        if word.startswith("_"):
            continue
        key = f"{word}/{wav.name}"
        label = word if n_classes == 35 or word in SC_COMMANDS else UNKNOWN
        split = "test" if key in test else "valid" if key in valid else "train"
        rows.append(Row(rel(dest, wav), label, split, wav.name.split("_nohash_")[0]))
    if n_classes == 12:
        rows += _silence_rows(source / "_background_noise_", dest, rows, seed)
    elif n_classes != 35:
        raise ValueError(f"Speech Commands has 12- and 35-class tasks, not {n_classes}")
    return finish(dest, rows, {"dataset": "speech_commands", "source": str(source), "seed": seed,
                               "n_classes_requested": n_classes})


def _silence_rows(noise_dir: Path, dest: Path, rows: list[Row], seed: int) -> list[Row]:
    files = sorted(_require_dir(noise_dir, "_background_noise_ folder").glob("*.wav"))
    if not files:
        raise TaskError(f"{noise_dir}: no background noise wavs to cut silence clips from")
    noises = [load_audio(f, SR) for f in files]
    rng = np.random.default_rng(seed)
    out_dir = dest / SILENCE
    out_dir.mkdir(parents=True, exist_ok=True)
    regions = {"train": (0.0, 0.8), "valid": (0.8, 0.9), "test": (0.9, 1.0)}
    out = []
    for split, (a, b) in regions.items():
        counts = Counter(r.label for r in rows if r.split == split and r.label in SC_COMMANDS)
        n = round(sum(counts.values()) / len(SC_COMMANDS))
        for i in range(n):
            k = i % len(noises)  # spread evenly over the noise files
            x = noises[k]
            lo, hi = int(a * len(x)), int(b * len(x)) - SR
            start = lo if hi <= lo else int(rng.integers(lo, hi))
            clip = np.zeros(SR, np.float32)
            seg = x[start:start + min(SR, len(x) - start)]
            clip[:len(seg)] = seg
            path = out_dir / f"{split}_{i:05d}_{files[k].stem}.wav"
            sf.write(path, clip, SR, subtype="PCM_16")
            out.append(Row(rel(dest, path), SILENCE, split, f"noise:{files[k].stem}"))
    return out


# -- VoxCeleb1 --------------------------------------------------------------------------------------

def convert_voxceleb1(source: Path, dest: Path, seed: int) -> Path:
    """VoxCeleb1 identification: ``iden_split.txt`` (1 train, 2 valid, 3 test) over ``wav/``; 1,251 speakers."""
    split_file = source / "iden_split.txt"
    if not split_file.is_file():
        raise TaskError(f"{split_file}: missing (VoxCeleb1 identification split list)")
    names = {"1": "train", "2": "valid", "3": "test"}
    rows = []
    for n, line in enumerate(split_file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        code, path = line.split()
        if code not in names:
            raise TaskError(f"{split_file}:{n}: unknown split code {code!r}")
        spk, video = path.split("/")[:2]
        rows.append(Row(rel(dest, source / "wav" / path), spk, names[code], video))
    return finish(dest, rows, {"dataset": "voxceleb1", "source": str(source), "seed": seed})


# -- LibriSpeech train-clean-100 ---------------------------------------------------------------------

def convert_librispeech(source: Path, dest: Path, seed: int) -> Path:
    """LibriSpeech ``train-clean-100/<speaker>/<chapter>/*.flac``; label = speaker (251 classes).

    No official split: seeded, per-speaker stratified 80/20 of utterances (the LAPE code split its
    585 speaker-chapter ids the same way; we use the 251 true speakers).
    """
    root = source / "train-clean-100" if (source / "train-clean-100").is_dir() else source
    rows = [Row(rel(dest, f), f.parent.parent.name, "train")
            for f in sorted(root.glob("*/*/*.flac"))]
    return finish(dest, seeded_test_split(rows, seed), {"dataset": "librispeech100", "source": str(root),
                                                        "seed": seed, "test_fraction": TEST_FRACTION})


# -- IEMOCAP ------------------------------------------------------------------------------------------

_IEMOCAP_LINE = re.compile(r"^\[[\d.]+ - [\d.]+\]\t(\S+)\t(\w+)\t")


def convert_iemocap(source: Path, dest: Path, seed: int) -> Path:
    """IEMOCAP ``Session{1..5}``: labels from ``dialog/EmoEvaluation/*.txt``, audio ``sentences/wav``.

    Four classes (neu, ang, sad, hap; other labels dropped). Session 5 is test, 1-4 train;
    group = speaker (session + gender of the turn), so a carved valid split is speaker-disjoint.
    """
    rows = []
    for sess in range(1, 6):
        sdir = source / f"Session{sess}"
        for ev in sorted((sdir / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in ev.read_text(errors="replace").splitlines():
                m = _IEMOCAP_LINE.match(line)
                if not m or m.group(2) not in IEMOCAP_CLASSES:
                    continue
                turn = m.group(1)
                wav = sdir / "sentences" / "wav" / ev.stem / f"{turn}.wav"
                speaker = f"{turn[:5]}{turn.rsplit('_', 1)[-1][0]}"
                rows.append(Row(rel(dest, wav), m.group(2), "test" if sess == 5 else "train", speaker))
    return finish(dest, rows, {"dataset": "iemocap", "source": str(source), "seed": seed,
                               "classes_kept": list(IEMOCAP_CLASSES)})


# -- VoxForge -----------------------------------------------------------------------------------------

def convert_voxforge(source: Path, dest: Path, seed: int) -> Path:
    """VoxForge ``<lang>/<submission>/wav/*.wav`` for en, es, fr, de, ru, it.

    No official split: seeded 80/20 per language, **speaker-disjoint** (group = the user name before
    the first '-' of the submission folder). The LAPE code split files at random, so the same
    speaker appeared in train and test.
    """
    rows = []
    for lang in VOXFORGE_LANGS:
        for wav in sorted((source / lang).glob("*/wav/*.wav")):
            sub = wav.parent.parent.name
            user = sub.split("-")[0]
            rows.append(Row(rel(dest, wav), lang, "train", f"{lang}:{sub if user == 'anonymous' else user}"))
    return finish(dest, seeded_test_split(rows, seed), {"dataset": "voxforge", "source": str(source),
                                                        "seed": seed, "test_fraction": TEST_FRACTION})

