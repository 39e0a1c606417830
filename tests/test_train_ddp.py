"""torchrun DDP with 2 CPU ranks (gloo): the queue receives the keys of both ranks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import slicer_embed
from slicer_embed.training.infra.checkpoint import latest_checkpoint
from train_audio import make_corpus

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")


def test_two_rank_gloo_run(tmp_path):
    data, run = make_corpus(tmp_path / "data", n=16), tmp_path / "run"
    steps, per_rank, queue = 3, 2, 64
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "slicer_embed", "train", "--data", str(data), "--out", str(run), "--preset", "smoke",
           "--device", "cpu", "--progress", "false", "--max-steps", str(steps), "--batch-size", str(2 * per_rank),
           "--queue-size", str(queue), "--checkpoint-every", "100"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    state = torch.load(latest_checkpoint(run), weights_only=True)
    # Each step enqueues 2 keys per clip from both ranks: 2 * global batch columns per step.
    assert state["queue"]["ptr"] == (steps * 2 * 2 * per_rank) % queue
    assert state["position"]["clips_seen"] == steps * 2 * per_rank
    assert "batch 4 = 2 x 2" in (run / "train.log").read_text()
    # The last step's 8 columns: rank 0's 4 keys then rank 1's 4 keys (gathered rank-major), all real keys.
    ptr = state["queue"]["ptr"]
    newest = state["queue"]["keys"][:, ptr - 8:ptr]
    assert torch.allclose(newest.norm(dim=0), torch.ones(8), atol=1e-4)
    assert not torch.allclose(newest[:, :4], newest[:, 4:], atol=1e-3)  # rank 1 sent its own clips' keys
    assert slicer_embed.load(run / "model").config.provenance["clips_seen"] == steps * 4
