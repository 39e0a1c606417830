"""``extract`` under ``torchrun --nproc-per-node 2`` (gloo, CPU) equals a single-process run."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import soundfile as sf

from slicer_embed.commands.extract import main
from test_extract_data import make_bad, make_model, tone


def test_two_rank_torchrun_equals_single_process(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    for i in range(9):
        sf.write(src / ("a" if i % 2 else ".") / f"x{i}.wav", tone(0.5 + 0.6 * i, 16000, 150.0 + 40 * i, seed=i),
                 16000)
    make_bad(src)
    model_dir = make_model(tmp_path)
    single = tmp_path / "single.npz"
    assert main([str(src), str(single), "--model", str(model_dir), "--level", "both", "--num-workers", "0",
                 "-q"]) == 1

    multi = tmp_path / "multi.npz"
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([*torchrun, "--standalone", "--nproc-per-node", "2", "--module", "slicer_embed",
                        "extract", str(src), str(multi), "--model", str(model_dir), "--level", "both",
                        "--batch-size", "4", "--num-workers", "1", "-q"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert multi.exists(), r.stderr[-3000:]
    assert r.returncode != 0  # ranks exit 1 because some inputs failed; torchrun reports the failure
    for name in ("bad_empty.wav", "nested/bad_text.mp3"):  # each failure reported by the rank that met it
        assert f"skipped {name}:" in r.stderr
    a, b = np.load(single, allow_pickle=False), np.load(multi, allow_pickle=False)
    for key in ("paths", "durations", "frame_offsets", "timestamps"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_allclose(a["embeddings"], b["embeddings"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a["frame_embeddings"], b["frame_embeddings"], rtol=1e-5, atol=1e-5)
    assert (tmp_path / "multi.npz.errors.tsv").read_text() == (tmp_path / "single.npz.errors.tsv").read_text()
    assert not (tmp_path / "multi.npz.partial").exists()
