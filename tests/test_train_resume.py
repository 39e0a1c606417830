"""Exact resume: 2N steps straight == N steps, kill -9, resume N steps (on CPU, same weights bit for bit)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from slicer_embed.training.infra.checkpoint import checkpoint_path, load_checkpoint
from train_audio import make_corpus

N = 3
COMMON = ["--preset", "smoke", "--max-steps", str(2 * N), "--checkpoint-every", str(N), "--batch-size", "4",
          "--progress", "false", "--device", "cpu", "--keep-checkpoints", "0"]


def env() -> dict[str, str]:
    """The test's environment (read at call time: the ``kernels`` fixture lifts SLICER_EMBED_NO_KERNEL)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def train_cmd(data, out, *extra):
    return [sys.executable, "-m", "slicer_embed", "train", "--data", str(data), "--out", str(out), *COMMON, *extra]


BYOL = ["--objective", "byol", "--projector-hidden", "32", "--predictor-hidden", "16", "--instance-dim", "16",
        "--augmentations", "mixup,rrc", "--cluster-weight", "0"]


# the CPU fast path of --preset cpu, bf16 autocast: in the default suite through torch ops (tests/conftest.py),
# with -m slow also with the compiled kernels (block 1, pool + ReLU)
FAST = ["--fast-encoder", "true", "--amp", "true", "--channels-last", "true"]


@pytest.mark.parametrize("recipe,compiled", [([], False), (BYOL, False), (FAST, False),
                                             pytest.param(FAST, True, marks=pytest.mark.slow)],
                         ids=["slicer", "byol", "slicer-fast-path", "slicer-fast-path-kernels"])
def test_kill9_and_resume_gives_identical_weights(tmp_path, recipe, compiled, request):
    if compiled:
        request.getfixturevalue("kernels")  # lifts SLICER_EMBED_NO_KERNEL for the runs (skips if unbuildable)
    byol = recipe is BYOL
    data = make_corpus(tmp_path / "data", n=12)

    def run_cmd(data, out, *extra):
        return train_cmd(data, out, *recipe, *extra)

    straight = subprocess.run(run_cmd(data, tmp_path / "a", "--num-workers", "0"), env=env(),
                              capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr

    # Run B stalls after writing its step-N checkpoint; we SIGKILL it there (state in memory is lost).
    proc = subprocess.Popen(run_cmd(data, tmp_path / "b", "--num-workers", "0", "--stall-after-step", str(N)),
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt_n = checkpoint_path(tmp_path / "b", N)
    deadline = time.time() + 240
    while not ckpt_n.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert ckpt_n.exists() and not checkpoint_path(tmp_path / "b", 2 * N).exists()

    # Resume with one DataLoader worker: the data stream must not depend on the worker count.
    resumed = subprocess.run(run_cmd(data, tmp_path / "b", "--resume", "--num-workers", "1",
                                       "--stall-after-step", "0"),
                             env=env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(checkpoint_path(tmp_path / "a", 2 * N))
    b = load_checkpoint(checkpoint_path(tmp_path / "b", 2 * N))
    parts = ("student", "teacher", "predictor") if byol else ("student", "teacher")
    assert ("predictor" in a) == byol
    for part in parts:
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), f"{part}.{key} differs after resume"
    assert torch.equal(a["queue"]["keys"], b["queue"]["keys"]) and a["queue"]["ptr"] == b["queue"]["ptr"]
    if not byol:
        assert torch.equal(a["views"]["kmix_bank"]["data"], b["views"]["kmix_bank"]["data"])
    assert a["position"] == b["position"]
    # the checkpoints name the path that made the weights (one stretch: the resume ran on the same build)
    fast = "--fast-encoder" in recipe
    want = "module" if not fast else ("torch ops" if os.environ.get("SLICER_EMBED_NO_KERNEL") else "kernels")
    assert [x["encoder_path"] for x in b["builds"]] == [want] and b["builds"] == a["builds"]
    assert b["builds"][0]["torch"] == torch.__version__
    # The metrics of the resumed half equal the straight run's (same losses, step by step).
    la = [line for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    lb = [line for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    loss_a = {json.loads(x)["step"]: json.loads(x)["loss"] for x in la}
    loss_b = {json.loads(x)["step"]: json.loads(x)["loss"] for x in lb}
    assert loss_a == loss_b


def test_resume_refuses_recipe_changes(tmp_path):
    from slicer_embed.training.cli_train import main

    data = make_corpus(tmp_path / "data", n=8)
    out = tmp_path / "run"
    assert main(["--data", str(data), "--out", str(out), "--preset", "smoke", "--max-steps", "1",
                 "--batch-size", "4", "--progress", "false", "--device", "cpu"]) == 0
    assert main(["--data", str(data), "--out", str(out), "--resume", "--lr", "0.5", "--device", "cpu"]) == 2
    assert main(["--data", str(data), "--out", str(tmp_path / "none"), "--resume", "--device", "cpu"]) == 2
