"""What a long run needs: kept learning-curve checkpoints, stopping early on the full schedule, the
fast encoder path resuming exactly, and the fused AdamW."""

from __future__ import annotations

import json

import pytest
import torch

from slicer_embed.training.cli_train import main
from slicer_embed.training.infra.checkpoint import checkpoint_path, list_checkpoints, load_checkpoint, prune
from slicer_embed.training.method.config import PRESETS
from train_audio import make_corpus

BASE = ["--preset", "smoke", "--progress", "false", "--device", "cpu", "--batch-size", "4", "--num-workers", "0"]


def lrs(run):
    return {r["step"]: r["lr"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"), n=12)


def test_keep_steps_are_checkpointed_and_never_pruned(corpus, tmp_path):
    out = tmp_path / "run"
    assert main(["--data", str(corpus), "--out", str(out), *BASE, "--max-steps", "6", "--checkpoint-every", "4",
                 "--keep-checkpoints", "1", "--keep-steps", "1,3"]) == 0
    steps = sorted(int(p.stem.split("_")[1]) for p in list_checkpoints(out))
    assert steps == [1, 3, 6]  # 4 was pruned by 6; 1 and 3 are curve points


def test_prune_protects_listed_steps(tmp_path):
    for s in (1, 2, 3, 4, 5):
        checkpoint_path(tmp_path, s).parent.mkdir(parents=True, exist_ok=True)
        checkpoint_path(tmp_path, s).write_bytes(b"x")
    prune(tmp_path, 2, protect={1, 4})
    assert sorted(p.name for p in list_checkpoints(tmp_path)) == [
        "step_00000001.pt", "step_00000003.pt", "step_00000004.pt", "step_00000005.pt"]


def test_keep_steps_must_be_positive_integers():
    with pytest.raises(ValueError, match="keep_steps"):
        PRESETS["smoke"].replace(keep_steps="10,abc")
    with pytest.raises(ValueError, match="keep_steps"):
        PRESETS["smoke"].replace(keep_steps="0")
    assert PRESETS["smoke"].replace(keep_steps=" 5, 7 ,").keep_step_set == {5, 7}


@pytest.mark.parametrize("fast", ["false", "true"])
def test_stop_at_step_keeps_the_schedule_and_resumes_to_the_same_weights(corpus, tmp_path, fast):
    """A run stopped early follows the full run's LR schedule; resuming it without the stop gives the
    full run's weights bit for bit (with the fast encoder path too)."""
    extra = ["--fast-encoder", fast, "--lr-schedule", "cosine", "--warmup-steps", "2"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["--data", str(corpus), "--out", str(full), *BASE, *extra, "--max-steps", "6"]) == 0
    assert main(["--data", str(corpus), "--out", str(part), *BASE, *extra, "--max-steps", "6",
                 "--stop-at-step", "3"]) == 0
    assert (part / "model" / "model.safetensors").is_file()
    assert load_checkpoint(list_checkpoints(part)[-1])["position"]["step"] == 3
    assert {s: v for s, v in lrs(full).items() if s <= 3} == lrs(part)
    assert main(["--data", str(corpus), "--out", str(part), *BASE, "--resume", "--stop-at-step", "0"]) == 0
    a = load_checkpoint(list_checkpoints(full)[-1])["student"]
    b = load_checkpoint(list_checkpoints(part)[-1])["student"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_adamw_is_the_fused_kernel_on_cpu():
    from slicer_embed.training.method.pretrain import make_optimizer
    opt = make_optimizer(PRESETS["cpu"], [torch.nn.Parameter(torch.zeros(3))])
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["fused"]


def test_resume_falls_back_to_the_last_readable_checkpoint(corpus, tmp_path):
    run = tmp_path / "run"
    args = ["--data", str(corpus), "--out", str(run), *BASE, "--max-steps", "4", "--checkpoint-every", "2",
            "--keep-checkpoints", "0"]
    assert main([*args, "--stop-at-step", "4"]) == 0
    straight = load_checkpoint(checkpoint_path(run, 4))["student"]
    last = checkpoint_path(run, 4)
    last.write_bytes(last.read_bytes()[:1000])  # truncated, as by a full disk
    assert main([*args, "--resume"]) == 0
    log = (run / "train.log").read_text()
    assert "skipped the unreadable checkpoint step_00000004.pt" in log and "resumed from step 2" in log
    assert (run / "checkpoints" / "step_00000004.pt.unreadable").is_file()  # kept for inspection, out of the way
    again = load_checkpoint(checkpoint_path(run, 4))["student"]
    assert all(torch.equal(straight[k], again[k]) for k in straight)


def test_run_batches_are_the_epoch_batches_back_to_back():
    from slicer_embed.training.infra.data import EpochBatches, RunBatches
    it = iter(RunBatches(10, 3, seed=5, epoch=2, start=1))
    got = [next(it) for _ in range(2 + 3 + 3)]
    want = list(EpochBatches(10, 3, 5, 2, 1)) + list(EpochBatches(10, 3, 5, 3)) + list(EpochBatches(10, 3, 5, 4))
    assert got == want


def test_one_dataloader_serves_every_epoch(corpus, tmp_path, monkeypatch):
    """A corpus of one batch per epoch used to start a new DataLoader (and its workers) every step."""
    from slicer_embed.training.method import pretrain
    made = []
    real = pretrain.DataLoader

    def counting(*a, **k):
        made.append(1)
        return real(*a, **k)
    monkeypatch.setattr(pretrain, "DataLoader", counting)
    out = tmp_path / "run"
    assert main(["--data", str(corpus), "--out", str(out), *BASE, "--batch-size", "12", "--max-steps", "5"]) == 0
    assert len(made) == 1
