"""benchmarks/gpu_check.py (scripts/gpu-check.sh) runs every row on the CPU with --quick: the script a
session lent a GPU will run has been run, end to end, on every CI machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_run_on_cpu(tmp_path):
    out = tmp_path / "check.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick",
                           "--json", str(out)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [r["check"] for r in rows] == ["train, default preset, AMP bf16", "DDP, torchrun 1 GPU",
                                          "extract fp32 / bf16", "eval (short)",
                                          "agreement with the CPU (bundled model)"]
    assert all(r["ok"] for r in rows)
    assert "steps/s" in rows[0]["result"] and "exit 0" in rows[1]["result"] and "realtime" in rows[2]["result"]
    assert "| check | result |" in done.stdout


def test_gpu_check_refuses_cuda_without_cuda():
    import torch
    if torch.cuda.is_available():
        return
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "CUDA is not available" in done.stderr
