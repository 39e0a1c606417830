"""Official dataset layouts -> canonical manifests: tiny generated fixtures, checked for labels and splits."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from slicer_embed.training.evaluation import layouts_other as other
from slicer_embed.training.evaluation import layouts_speech as speech
from slicer_embed.training.evaluation.manifest import TaskError, read_manifest
from slicer_embed.training.evaluation.registry import LAPE_TASKS, resolve_tasks

SR = 16000


def wav(path: Path, seconds: float = 0.1, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(seed).normal(0, 0.05, int(seconds * SR)).astype(np.float32)
    sf.write(path, x, SR)
    return path


def rows_by_file(dest: Path) -> dict[str, tuple[str, str, str]]:
    task = read_manifest(dest)
    for r in task.rows:  # every manifest path must point at an existing file
        assert task.path(r).is_file(), r.file_name
    return {Path(r.file_name).name: (r.label, r.split, r.group) for r in task.rows}


# -- Speech Commands --------------------------------------------------------------------------------

def make_speech_commands(root: Path) -> Path:
    words = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "bed", "marvin"]
    valid, test = [], []
    for w in words:
        for spk in ("aaaa1111", "bbbb2222", "cccc3333", "dddd4444"):
            wav(root / w / f"{spk}_nohash_0.wav")
        valid.append(f"{w}/cccc3333_nohash_0.wav")
        test.append(f"{w}/dddd4444_nohash_0.wav")
    for name in ("white_noise", "pink_noise"):
        wav(root / "_background_noise_" / f"{name}.wav", seconds=12.0)
    (root / "validation_list.txt").write_text("\n".join(valid) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root


def test_speech_commands_12_classes(tmp_path):
    src = make_speech_commands(tmp_path / "sc")
    dest = speech.convert_speech_commands(src, tmp_path / "task", seed=0, n_classes=12)
    task = read_manifest(dest)
    labels = Counter((r.label, r.split) for r in task.rows)
    assert {r.label for r in task.rows} == set(speech.SC_COMMANDS) | {"_unknown_", "_silence_"}
    assert labels[("yes", "train")] == 2 and labels[("yes", "valid")] == 1 and labels[("yes", "test")] == 1
    assert labels[("_unknown_", "train")] == 4  # bed + marvin, 2 train speakers each
    # silence: one clip per split per mean command count, in every split, 1 s long, from the noise files
    assert labels[("_silence_", "train")] == 2 and labels[("_silence_", "test")] == 1
    sil = [r for r in task.rows if r.label == "_silence_"]
    assert all(sf.info(str(task.path(r))).frames == SR for r in sil)
    files = rows_by_file(dest)
    assert files["aaaa1111_nohash_0.wav"][2] == "aaaa1111"  # group = speaker hash
    assert all(split == "test" for (lab, split, g) in files.values() if g == "dddd4444")


def test_speech_commands_35_classes(tmp_path):
    src = make_speech_commands(tmp_path / "sc")
    task = read_manifest(speech.convert_speech_commands(src, tmp_path / "task", seed=0, n_classes=35))
    assert "_silence_" not in {r.label for r in task.rows} and "_unknown_" not in {r.label for r in task.rows}
    assert Counter(r.label for r in task.rows)["marvin"] == 4
    assert Counter(r.split for r in task.rows) == {"train": 24, "valid": 12, "test": 12}


def test_speech_commands_missing_lists_is_clear(tmp_path):
    src = make_speech_commands(tmp_path / "sc")
    (src / "testing_list.txt").unlink()
    with pytest.raises(TaskError, match="testing_list.txt"):
        speech.convert_speech_commands(src, tmp_path / "task", seed=0, n_classes=35)


# -- speaker, emotion, language --------------------------------------------------------------------

def test_voxceleb1_iden_split(tmp_path):
    src = tmp_path / "vox"
    lines = []
    for spk in ("id10001", "id10002"):
        for code, vid in (("1", "vidA"), ("2", "vidB"), ("3", "vidC")):
            wav(src / "wav" / spk / vid / "00001.wav")
            lines.append(f"{code} {spk}/{vid}/00001.wav")
    (src / "iden_split.txt").write_text("\n".join(lines) + "\n")
    task = read_manifest(speech.convert_voxceleb1(src, tmp_path / "t", 0))
    got = {(Path(r.file_name).parent.parent.name, Path(r.file_name).parent.name): (r.label, r.split) for r in task.rows}
    assert got[("id10001", "vidA")] == ("id10001", "train")
    assert got[("id10002", "vidB")] == ("id10002", "valid")
    assert got[("id10002", "vidC")] == ("id10002", "test")


def test_librispeech_speaker_split_is_seeded_and_stratified(tmp_path):
    src = tmp_path / "LibriSpeech"
    for spk in ("19", "26"):
        for ch in ("198", "495"):
            for u in range(5):
                wav(src / "train-clean-100" / spk / ch / f"{spk}-{ch}-{u:04d}.flac")
    a = read_manifest(speech.convert_librispeech(src, tmp_path / "a", 7))
    b = read_manifest(speech.convert_librispeech(src, tmp_path / "b", 7))
    assert a.rows == b.rows  # same seed, same split
    assert {r.label for r in a.rows} == {"19", "26"}
    per = Counter((r.label, r.split) for r in a.rows)
    assert per[("19", "test")] == 2 and per[("26", "test")] == 2  # 20 % of 10 per speaker
    assert json.loads((tmp_path / "a" / "task.json").read_text())["seed"] == 7


def test_iemocap_four_classes_session5_test(tmp_path):
    src = tmp_path / "IEMOCAP_full_release"
    emos = ["neu", "ang", "sad", "hap", "exc", "fru", "xxx"]
    for sess in (1, 5):
        dialog = f"Ses0{sess}F_impro01"
        lines = ["% header line"]
        for k, emo in enumerate(emos):
            turn = f"{dialog}_{'FM'[k % 2]}{k:03d}"
            wav(src / f"Session{sess}" / "sentences" / "wav" / dialog / f"{turn}.wav")
            lines.append(f"[1.0 - 2.5]\t{turn}\t{emo}\t[2.5, 2.5, 2.5]")
        ev = src / f"Session{sess}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        ev.parent.mkdir(parents=True)
        ev.write_text("\n".join(lines) + "\n")
    task = read_manifest(speech.convert_iemocap(src, tmp_path / "t", 0))
    assert {r.label for r in task.rows} == {"neu", "ang", "sad", "hap"}  # exc/fru/xxx dropped, not merged
    files = rows_by_file(tmp_path / "t")
    assert files["Ses01F_impro01_F000.wav"] == ("neu", "train", "Ses01F")
    assert files["Ses05F_impro01_M001.wav"] == ("ang", "test", "Ses05M")


def test_voxforge_split_is_speaker_disjoint(tmp_path):
    src = tmp_path / "voxforge"
    for lang in speech.VOXFORGE_LANGS:
        for user in ("alice", "bob", "carol", "dave", "erin"):
            for u in range(2):
                wav(src / lang / f"{user}-20100101-{lang}x" / "wav" / f"a{u}.wav")
    task = read_manifest(speech.convert_voxforge(src, tmp_path / "t", 3))
    assert {r.label for r in task.rows} == set(speech.VOXFORGE_LANGS)
    for lang in speech.VOXFORGE_LANGS:
        train = {r.group for r in task.rows if r.label == lang and r.split == "train"}
        test = {r.group for r in task.rows if r.label == lang and r.split == "test"}
        assert len(test) == 1 and not train & test  # one of five speakers, never in both splits


# -- music and non-speech ---------------------------------------------------------------------------

def test_nsynth_official_splits(tmp_path):
    src = tmp_path / "nsynth"
    fams = {"train": ["bass", "brass", "flute"], "valid": ["bass", "flute"], "test": ["brass"]}
    for split, fs in fams.items():
        meta = {}
        for k, fam in enumerate(fs):
            key = f"{fam}_acoustic_{k:03d}-060-100"
            wav(src / f"nsynth-{split}" / "audio" / f"{key}.wav")
            meta[key] = {"instrument_family_str": fam, "instrument_str": f"{fam}_acoustic_{k:03d}"}
        (src / f"nsynth-{split}" / "examples.json").write_text(json.dumps(meta))
    task = read_manifest(other.convert_nsynth(src, tmp_path / "t", 0))
    got = Counter((r.label, r.split) for r in task.rows)
    assert got == {("bass", "train"): 1, ("brass", "train"): 1, ("flute", "train"): 1,
                   ("bass", "valid"): 1, ("flute", "valid"): 1, ("brass", "test"): 1}
    assert all(Path(r.file_name).parts[-3] == f"nsynth-{r.split}" for r in task.rows)


def test_tut2018_fold1(tmp_path):
    src = tmp_path / "tut"
    train = ["audio/airport-barcelona-0-0-a.wav\tairport", "audio/park-helsinki-1-3-a.wav\tpark"]
    test = ["audio/airport-paris-5-1-a.wav\tairport", "audio/park-paris-6-0-a.wav\tpark"]
    for line in train + test:
        wav(src / line.split("\t")[0])
    (src / "evaluation_setup").mkdir()
    (src / "evaluation_setup" / "fold1_train.txt").write_text("\n".join(train) + "\n")
    (src / "evaluation_setup" / "fold1_evaluate.txt").write_text("\n".join(test) + "\n")
    files = rows_by_file(other.convert_tut2018(src, tmp_path / "t", 0))
    assert files["airport-barcelona-0-0-a.wav"] == ("airport", "train", "barcelona-0")
    assert files["park-paris-6-0-a.wav"] == ("park", "test", "paris-6")


def test_bird_detection_combined_and_split(tmp_path):
    src = tmp_path / "bad"
    for sub in ("ff1010bird", "warblrb10k_public"):
        (src / sub).mkdir(parents=True)
        with open(src / sub / f"{sub}_metadata_2018.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["itemid", "datasetid", "hasbird"])
            for i in range(10):
                w.writerow([f"{sub[:2]}{i}", sub, i % 2])
                wav(src / sub / "wav" / f"{sub[:2]}{i}.wav")
    task = read_manifest(other.convert_bird(src, tmp_path / "t", 1))
    got = Counter((r.label, r.split) for r in task.rows)
    assert got == {("bird", "train"): 8, ("bird", "test"): 2, ("nobird", "train"): 8, ("nobird", "test"): 2}
    files = rows_by_file(tmp_path / "t")
    assert files["wa1.wav"][0] == "bird" and files["ff0.wav"][0] == "nobird"


def test_musan_three_classes(tmp_path):
    src = tmp_path / "musan"
    for cls, sub in (("speech", "librivox"), ("music", "fma"), ("noise", "free-sound")):
        for i in range(5):
            wav(src / cls / sub / f"{cls}-{i}.wav")
    task = read_manifest(other.convert_musan(src, tmp_path / "t", 0))
    got = Counter((r.label, r.split) for r in task.rows)
    assert all(got[(c, "train")] == 4 and got[(c, "test")] == 1 for c in other.MUSAN_CLASSES)


def test_resolve_lape_name_converts_once_under_data_root(tmp_path):
    make_speech_commands(tmp_path / "data" / LAPE_TASKS["spcv2_35"].folder)
    (task,) = resolve_tasks("spcv2_35", tmp_path / "data", None, split_seed=0)
    assert task.name == "spcv2_35" and task.info["lape_task"] == "spcv2_35"
    assert (tmp_path / "data" / "slicer_tasks" / "spcv2_35" / "manifest.csv").is_file()
    with pytest.raises(TaskError, match="--data-root"):
        resolve_tasks("spcv2_35", None, None, split_seed=0)
    with pytest.raises(TaskError, match="not found"):
        resolve_tasks("nsynth", tmp_path / "data", None, split_seed=0)
