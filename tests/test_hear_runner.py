"""The real HEAR 2021 embedding runner (``heareval`` 2021.1.3) drives ``slicer_embed.hear`` end to end.

heareval is installed by ``scripts/install-dev.sh`` the way the README tells users to (``--no-deps``
plus click, python-slugify, intervaltree and tensorflow-cpu: its pinned numpy 1.19 cannot install on
Python >= 3.10). The test writes two tiny tasks in the HEAR task layout (one scene task, one event task,
16 kHz WAVs of tones), runs ``python -m heareval.embeddings.runner slicer_embed.hear`` in a
subprocess and checks what heareval wrote against ``slicer_embed.hear`` called directly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from slicer_embed import hear

pytestmark = pytest.mark.skipif(importlib.util.find_spec("heareval") is None,
                                reason="heareval not installed (scripts/install-dev.sh installs it; README: HEAR)")

SR = 16000


def _tone(freq: float, seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    noise = 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def _write_task(root: Path, name: str, kind: str) -> dict[str, dict]:
    """A HEAR task folder: task_metadata.json, labelvocabulary.csv, <split>.json, 16000/<split>/*.wav."""
    task = root / name
    splits = {"train": {}, "test": {}}
    seconds = 1.5 if kind == "scene" else 2.0
    for s, split in enumerate(splits):
        (task / str(SR) / split).mkdir(parents=True)
        for i, (freq, label) in enumerate([(220.0, "low"), (880.0, "high"), (440.0, "low")]):
            fname = f"{split}_{i}.wav"
            sf.write(task / str(SR) / split / fname, _tone(freq, seconds, 10 * s + i), SR)
            splits[split][fname] = [label] if kind == "scene" else [
                {"label": label, "start": 250.0, "end": 1250.0}]
        (task / f"{split}.json").write_text(json.dumps(splits[split]))
    meta = {"task_name": name, "version": "tiny-1", "embedding_type": kind,
            "prediction_type": "multiclass" if kind == "scene" else "multilabel",
            "split_mode": "trainvaltest", "sample_duration": seconds, "evaluation": ["top1_acc"],
            "splits": list(splits)}
    (task / "task_metadata.json").write_text(json.dumps(meta))
    (task / "labelvocabulary.csv").write_text("idx,label\n0,high\n1,low\n")
    return splits


def test_heareval_runner_embeds_scene_and_event_tasks(tmp_path, model_dir):
    tasks = tmp_path / "tasks"
    labels = {"tiny_scene": _write_task(tasks, "tiny_scene", "scene"),
              "tiny_event": _write_task(tasks, "tiny_event", "event")}
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "heareval.embeddings.runner", "slicer_embed.hear",
                           "--model", str(model_dir), "--tasks-dir", str(tasks),
                           "--embeddings-dir", str(tmp_path / "embeddings")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "embeddings" / "slicer_embed.hear"
    model = hear.load_model(str(model_dir))
    for name, kind in (("tiny_scene", "scene"), ("tiny_event", "event")):
        d = out / name
        assert (d / "profile.embeddings.json").is_file(), f"{name}: heareval did not finish the task"
        for split, files in labels[name].items():
            n, dim = json.loads((d / f"{split}.embedding-dimensions.json").read_text())
            assert dim == model.embedding_dim
            for fname in files:
                audio = torch.from_numpy(sf.read(tasks / name / str(SR) / split / fname, dtype="float32")[0])[None]
                got = np.load(d / split / f"{fname}.embedding.npy")
                if kind == "scene":
                    want = hear.get_scene_embeddings(audio, model)[0].numpy()
                else:
                    emb, ts = hear.get_timestamp_embeddings(audio, model)
                    want = emb[0].numpy()
                    stamps = json.loads((d / split / f"{fname}.timestamps.json").read_text())
                    np.testing.assert_allclose(stamps, ts[0].numpy(), atol=1e-3)
                    # heareval's labels per frame: the event (250-1250 ms) is on exactly where it should be
                    per_frame = json.loads((d / split / f"{fname}.target-labels.json").read_text())
                    on = [bool(lbl) for lbl in per_frame]
                    assert on == [250.0 <= t <= 1250.0001 for t in stamps] and any(on) and not all(on)
                # heareval batches several clips per call: equal up to batching's last float bits
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
            rows = np.memmap(d / f"{split}.embeddings.npy", dtype=np.float32, mode="r", shape=(n, dim))
            assert np.isfinite(rows).all() and rows.std() > 0
            with open(d / f"{split}.target-labels.pkl", "rb") as f:
                assert len(pickle.load(f)) == n
        if kind == "scene":
            assert n == 3
