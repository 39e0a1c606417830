"""End-to-end pretraining on generated audio: artefacts, export, learning, divergence handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import slicer_embed
from slicer_embed.training.cli_train import main
from slicer_embed.training.infra.checkpoint import list_checkpoints
from slicer_embed.training.infra.export import export_run, is_training_run
from slicer_embed.training.method import pretrain
from train_audio import make_corpus, make_diverse_corpus

FAST = ["--preset", "smoke", "--progress", "false", "--device", "cpu"]


@pytest.fixture(scope="module")
def diverse(tmp_path_factory):
    return make_diverse_corpus(tmp_path_factory.mktemp("diverse"))


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_smoke_run_writes_a_loadable_model(tmp_path):
    data, run = make_corpus(tmp_path / "data", n=12), tmp_path / "run"
    assert main(["--data", str(data), "--out", str(run), *FAST, "--max-steps", "4", "--checkpoint-every", "2"]) == 0
    rows = metrics(run)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for r in rows:
        assert {"loss", "loss_instance", "loss_cluster", "lr", "clips_per_s", "data_s", "model_s"} <= set(r)
        assert np.isfinite(r["loss"]) and r["clips_per_s"] > 0
    assert len(list_checkpoints(run)) == 2 and is_training_run(run) and not is_training_run(data)
    model = slicer_embed.load(run / "model")
    norm = model.config.normalization
    assert norm.std > 0 and norm.mean != 0.0 and str(data) in norm.source  # corpus statistics exported
    prov = model.config.provenance
    assert prov["steps"] == 4 and prov["clips_seen"] == 32 and prov["preset"] == "smoke"
    assert prov["corpus"]["source"] == str(data) and prov["corpus"]["files"] == 12  # the corpus it read
    assert len(prov["corpus"]["sha256"]) == 64
    emb = model.embed(np.random.default_rng(0).standard_normal(20000).astype(np.float32) * 0.1, 16000)
    assert emb.shape == (2048,) and np.isfinite(emb).all()
    # the exported encoder is the student's, bit for bit
    state = torch.load(list_checkpoints(run)[-1], weights_only=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["student"]["model." + k])
    # export of an older checkpoint file, in float16
    out = export_run(list_checkpoints(run)[0], tmp_path / "exported", dtype=torch.float16)
    assert slicer_embed.load(out).config.provenance["steps"] == 2


def test_loss_falls_without_augmentation(tmp_path, diverse):
    """Student, teacher, queue and losses learn: with identical views the loss must drop clearly."""
    run = tmp_path / "run"
    assert main(["--data", str(diverse), "--out", str(run), *FAST, "--max-steps", "30", "--augmentations", "",
                 "--checkpoint-every", "1000"]) == 0
    loss = [r["loss"] for r in metrics(run)]
    early, late = np.mean(loss[1:6]), np.mean(loss[-10:])  # step 1 is special: the queue is still random
    assert late < 0.85 * early, (early, late)


BYOL_SMALL = ["--objective", "byol", "--projector-hidden", "64", "--predictor-hidden", "32", "--instance-dim", "16",
              "--cluster-weight", "0"]


@pytest.mark.slow  # 30 learning steps; BYOL's checkpoint and resume run by default (test_train_resume.py)
def test_byol_objective_learns_and_keeps_its_predictor(tmp_path, diverse):
    """BYOL: with identical views the prediction learns the teacher's projection; the predictor is saved,
    the cluster head is left alone, and the exported encoder is the student's."""
    run = tmp_path / "run"
    assert main(["--data", str(diverse), "--out", str(run), *FAST, *BYOL_SMALL, "--max-steps", "30",
                 "--augmentations", "", "--checkpoint-every", "1000"]) == 0
    rows = metrics(run)
    loss = [r["loss"] for r in rows]
    assert all(0.0 <= x <= 8.0 for x in loss) and all(r["loss_cluster"] == 0.0 for r in rows)
    assert np.mean(loss[-5:]) < 0.5 * np.mean(loss[:3]), loss
    state = torch.load(list_checkpoints(run)[-1], weights_only=True)
    assert state["predictor"]["0.weight"].shape == (32, 16) and state["predictor"]["3.weight"].shape == (16, 32)
    assert state["student"]["instance_head.0.weight"].shape == (64, 2048)  # BYOL-A's projector MLP
    fresh, _ = pretrain.build_student_teacher(16, 128, 0, torch.device("cpu"), 64)
    for k, v in fresh.cluster_head.state_dict().items():
        assert torch.equal(v, state["student"]["cluster_head." + k]), k  # not optimised (no weight decay either)
    model = slicer_embed.load(run / "model")
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["student"]["model." + k])


@pytest.mark.slow
def test_block1_writing_bf16_keeps_the_weights_bit_identical(tmp_path, monkeypatch, kernels):
    """Block 1 writing bf16 under autocast leaves a bf16 run's checkpoint bit-identical to the path where
    it wrote float32 and the next conv cast it."""
    from slicer_embed.training.speed import fast_encoder

    data = make_corpus(tmp_path / "data", n=12)
    args = ["--data", str(data), *FAST, "--max-steps", "3", "--fast-encoder", "true", "--amp", "true",
            "--channels-last", "true", "--checkpoint-every", "1000"]
    assert main([*args, "--out", str(tmp_path / "new")]) == 0
    monkeypatch.setattr(fast_encoder, "_autocast_dtype", lambda device_type: torch.float32)
    assert main([*args, "--out", str(tmp_path / "old")]) == 0
    new, old = (torch.load(list_checkpoints(tmp_path / r)[-1], weights_only=True) for r in ("new", "old"))
    for part in ("student", "teacher"):
        for k, v in old[part].items():
            assert torch.equal(v, new[part][k]), (part, k)
    assert torch.equal(old["rng_cpu"], new["rng_cpu"]) and torch.equal(old["queue"]["keys"], new["queue"]["keys"])


@pytest.mark.slow
def test_full_recipe_beats_a_frozen_control(tmp_path, diverse):
    """With all augmentations, 30 steps lower the loss below the same run with lr = 0."""
    means = {}
    for lr in ("1e-3", "0"):
        run = tmp_path / f"lr{lr}"
        assert main(["--data", str(diverse), "--out", str(run), *FAST, "--max-steps", "30", "--lr", lr,
                     "--checkpoint-every", "1000"]) == 0
        means[lr] = np.mean([r["loss"] for r in metrics(run)][-10:])
    assert means["1e-3"] < 0.92 * means["0"], means


def test_non_finite_loss_stops_with_a_checkpoint(tmp_path, monkeypatch, capsys):
    data, run = make_corpus(tmp_path / "data", n=8), tmp_path / "run"
    real = pretrain.instance_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = real(*args, **kwargs)
        return out * float("nan") if calls["n"] > 2 else out  # step 2 goes bad

    monkeypatch.setattr(pretrain, "instance_loss", poisoned)
    assert main(["--data", str(data), "--out", str(run), *FAST, "--max-steps", "5"]) == 1
    err = capsys.readouterr().err
    assert "not finite at step 2" in err
    saved = run / "checkpoints" / "diverged_step_00000002.pt"
    assert saved.is_file() and saved.name in err
    state = torch.load(saved, weights_only=True)
    assert state["position"]["step"] == 1  # the state before the bad step


def test_bad_inputs_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--data", str(empty), "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "no audio files" in capsys.readouterr().err
    few = make_corpus(tmp_path / "few", n=3)
    assert main(["--data", str(few), "--out", str(tmp_path / "r2"), *FAST]) == 2
    assert "batch_size=8" in capsys.readouterr().err


def test_reference_preset_artefact_options_run(tmp_path):
    """The reference path: EMA inside each direction, enqueue per direction, k-mix on raw-feature centroids."""
    data, run = make_corpus(tmp_path / "data", n=12), tmp_path / "run"
    assert main(["--data", str(data), "--out", str(run), "--preset", "reference", "--device", "cpu",
                 "--progress", "false", "--batch-size", "4", "--max-steps", "3", "--queue-size", "64",
                 "--memory-size", "16", "--kmix-top-k", "4", "--norm-clips", "8", "--num-workers", "0",
                 "--kmix-fraction", "0.5", "--log-every", "1"]) == 0
    state = torch.load(list_checkpoints(run)[-1], weights_only=True)
    assert state["queue"]["ptr"] == 3 * 2 * 4  # 2 directions x 4 keys per step
    assert len(state["views"]["centroids"]) == 4 and state["views"]["kmix_bank"]["count"] == 16
    # two EMA updates per step with m = 0.999: the teacher moved, but only slightly
    s, t = state["student"], state["teacher"]
    diffs = [float((s[k] - t[k]).abs().max()) for k in s if s[k].is_floating_point() and "running" not in k]
    assert max(diffs) > 0
    assert all(np.isfinite(r["loss"]) for r in metrics(run))


@pytest.mark.skipif(not pretrain.bf16_autocast_supported(torch.device("cpu")),
                    reason="this CPU has no native bf16 (AMX / avx512_bf16), so --amp is ignored on it")
def test_cpu_bf16_channels_last_run_learns_and_exports_fp32(tmp_path, diverse):
    """The default preset's CPU path: bf16 autocast + NHWC; weights stay fp32 and the model exports."""
    run = tmp_path / "run"
    assert main(["--data", str(diverse), "--out", str(run), *FAST, "--max-steps", "30", "--augmentations", "",
                 "--amp", "true", "--channels-last", "true", "--checkpoint-every", "1000"]) == 0
    assert "bf16" in (run / "train.log").read_text()
    loss = [r["loss"] for r in metrics(run)]
    assert np.isfinite(loss).all() and np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.3
    model = slicer_embed.load(run / "model")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    emb = model.embed(np.random.default_rng(0).standard_normal(20000).astype(np.float32) * 0.1, 16000)
    assert np.isfinite(emb).all()
