"""``--finetune`` (basic): trains a copy of the encoder, selects on valid, never touches test or the caller's model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from eval_synth import make_task, read_rows
from slicer_embed.training.evaluation.embedders import ModelEmbedder, state_sha256
from slicer_embed.training.evaluation.finetune import FinetuneConfig, finetune_once, load_crops, run_finetune_task
from slicer_embed.training.evaluation.manifest import read_manifest

import slicer_embed

CFG = FinetuneConfig(max_epochs=2, batch_size=16)


@pytest.fixture(scope="module", autouse=True)
def _single_thread(one_thread):
    yield


@pytest.fixture(scope="module")
def embedder():
    return ModelEmbedder(slicer_embed.create_model(seed=0), "random(seed=0)", "mean")


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory):
    return make_task(tmp_path_factory.mktemp("ft") / "t", per_split={"train": 6, "valid": 2, "test": 2}, seed=3)


def test_finetune_changes_a_copy_only_and_is_deterministic(embedder, task_dir):
    before = state_sha256(embedder.model)
    task = read_manifest(task_dir)
    waves, keep, errors = load_crops(task, 16000, 16000)
    assert not errors and waves.shape == (len(task.rows), 16000)
    labels = sorted({r.label for r in task.rows})
    y = torch.tensor([labels.index(r.label) for r in task.rows])
    split = np.array([r.split for r in task.rows])
    net_a, epoch_a, accs_a = finetune_once(embedder, torch.from_numpy(waves), y, split, 4, CFG, 0, False)
    net_b, epoch_b, accs_b = finetune_once(embedder, torch.from_numpy(waves), y, split, 4, CFG, 0, False)
    assert state_sha256(embedder.model) == before  # the caller's model is untouched
    assert state_sha256(net_a.model) != before  # the encoder itself was trained
    assert (epoch_a, accs_a) == (epoch_b, accs_b) and state_sha256(net_a) == state_sha256(net_b)


def test_finetune_selection_ignores_test_audio(embedder, task_dir, tmp_path):
    base = run_finetune_task(embedder, read_manifest(task_dir), 1.0, CFG, [0], 0.1, 0, progress=False)
    d = tmp_path / "poisoned"
    shutil.copytree(task_dir, d)
    for r in read_rows(d):
        if r[2] == "test":
            sf.write(d / r[0], np.random.default_rng(0).normal(0, 0.5, 16000).astype(np.float32), 16000)
    other = run_finetune_task(embedder, read_manifest(d), 1.0, CFG, [0], 0.1, 0, progress=False)
    assert other["best_epochs"] == base["best_epochs"] and other["valid_accuracy"] == base["valid_accuracy"]
    assert base["finetune"] and set(base["accuracy"]) == {"test"} and base["n"]["test"] == 8
