"""``slicer-embed train`` keeps its freed heap (training/speed/allocator.py): applied where glibc runs, and it moves
memory, never values (a run with glibc's defaults gives the same weights bit for bit).

Both run in subprocesses: the setting is process-wide and lasting, so it stays out of the test process.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from train_audio import make_corpus

ENV = {**os.environ, "OMP_NUM_THREADS": "2"}
# the training step of --preset cpu (bf16 autocast where the CPU has it, channels-last, the fast encoder)
# at smoke size
RECIPE = ["--preset", "smoke", "--max-steps", "4", "--batch-size", "8", "--num-workers", "1", "--amp", "true",
          "--channels-last", "true", "--fast-encoder", "true", "--progress", "false", "--device", "cpu"]
DEFAULT_ALLOCATOR = ("import sys; import slicer_embed.training.speed.allocator as a; "
                     "a.keep_freed_memory = lambda: False; "
                     "from slicer_embed.training.cli_train import main; sys.exit(main(sys.argv[1:]))")


def test_keep_freed_memory_applies_where_glibc_runs():
    done = subprocess.run([sys.executable, "-c", "from slicer_embed.training.speed.allocator import keep_freed_memory; "
                           "print(keep_freed_memory())"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert done.stdout.strip() == str(glibc)


@pytest.mark.slow  # two training processes; run it when training/speed/allocator.py changes
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator setting applies to glibc only")
def test_weights_do_not_depend_on_the_allocator(tmp_path):
    data = make_corpus(tmp_path / "data", n=16)
    runs = {}
    for name, prefix in [("kept", ["-m", "slicer_embed", "train"]), ("default", ["-c", DEFAULT_ALLOCATOR])]:
        out = tmp_path / name
        done = subprocess.run([sys.executable, *prefix, "--data", str(data), "--out", str(out), *RECIPE],
                              env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        runs[name] = load_file(out / "model" / "model.safetensors")
    kept, default = runs["kept"], runs["default"]
    assert kept.keys() == default.keys() and kept
    for key in kept:
        assert torch.equal(kept[key], default[key]), key
