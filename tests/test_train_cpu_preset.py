"""A few steps of the shipped recipe, ``--preset cpu``, with its progress bar on.

Short enough for the default suite and for ``scripts/check-floors.sh``, which runs it with the declared
minimum of every runtime dependency (torch's autocast queries, tqdm's bar, the fast encoder's kernels).
"""

from __future__ import annotations

import json

import numpy as np

import slicer_embed
from slicer_embed.training.cli_train import main
from train_audio import make_corpus

# the cpu preset as shipped, scaled to 16 generated clips: smaller batch, queue, banks and statistics
SMALL = ["--batch-size", "8", "--queue-size", "64", "--memory-size", "32", "--kmix-top-k", "8",
         "--kmix-fraction", "0.5", "--norm-clips", "16", "--num-workers", "0", "--checkpoint-every", "1000"]


def test_cpu_preset_trains_and_exports_with_its_progress_bar(tmp_path, capsys):
    data, run = make_corpus(tmp_path / "data", n=16), tmp_path / "run"
    assert main(["--data", str(data), "--out", str(run), "--preset", "cpu", "--device", "cpu", *SMALL,
                 "--stop-at-step", "3", "--progress", "true"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows and rows[-1]["step"] == 3 and all(np.isfinite(r["loss"]) for r in rows)
    assert "3/" in capsys.readouterr().err  # the bar reached step 3 of the schedule
    model = slicer_embed.load(run / "model")
    assert model.config.provenance["preset"] == "cpu" and model.config.provenance["steps"] == 3
    emb = model.embed(np.random.default_rng(0).standard_normal(20000).astype(np.float32) * 0.1, 16000)
    assert emb.shape == (2048,) and np.isfinite(emb).all()
