"""Make a trained model the package's bundled default (``slicer_embed/weights/``).

    python scripts/ship_default_model.py runs/no_cluster/model --note "mini-LAPE mean 53.3 (docs/results.md)"

Copies the model's weights as float32 (config.json + model.safetensors, the sha256 recorded in the
config's provenance, as ``save_pretrained`` does), adds ``provenance.shipped_as_default`` and the given
note, and prints the sha256 for the CHANGELOG. Then regenerate the golden embedding on purpose:
``SLICER_EMBED_UPDATE_GOLDEN=1 python -m pytest tests/test_default_model.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    import platform
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    from slicer_embed.runtime import cpu_flags
    flags = cpu_flags()
    extras = [f for f in ("avx512_bf16", "amx_bf16") if flags.get(f)]
    return f"{name}, {os.cpu_count()} cores{', ' + ', '.join(extras) if extras else ''}, no GPU"


def training_facts(run: Path | None, provenance: dict, corpus_files: int | None) -> dict:
    """Steps, crops, passes, wall time (the run's own model and data time up to the model's step, so
    pauses for evaluations are not counted) and the machine."""
    import json
    steps, clips = provenance.get("steps"), provenance.get("clips_seen")
    out = {"steps": steps, "clips_seen": clips, "machine": machine()}
    if corpus_files and clips:
        out["passes"] = round(clips / corpus_files, 3)
        out["corpus_files"] = corpus_files
    if run is not None and (run / "metrics.jsonl").is_file():
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        # A run resumed from a checkpoint logs the steps after that checkpoint twice (the lost and the
        # replayed stretch): the model is the replay's, so the last row of each step counts.
        by_step = {r["step"]: r for r in rows}
        used = [by_step[k] for k in sorted(by_step) if steps is None or k <= steps]
        out["log_windows_replayed_after_resume"] = len(rows) - len(by_step)
        # A window that held a pause (kill -STOP for an evaluation, a busy machine) is counted at the
        # median rate: the figure is the training's own time, not the session's.
        rates = sorted(r["clips_per_s"] for r in used if r.get("clips_per_s"))
        median = rates[len(rates) // 2] if rates else None
        seconds, slow = 0.0, 0
        prev = 0
        for r in used:
            crops = r["clips_seen"] - prev
            prev = r["clips_seen"]
            t = r.get("model_s", 0.0) + r.get("data_s", 0.0)
            if median and r.get("clips_per_s") and r["clips_per_s"] < median / 2:
                t, slow = crops / median, slow + 1
            seconds += t
        out["wall_seconds_training"] = round(seconds, 1)
        out["median_crops_per_second"] = round(median, 1) if median else None
        out["windows_counted_at_median"] = slow
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="trained model folder (RUN/model) or checkpoint run folder")
    p.add_argument("--note", default="", help="free text recorded in the provenance (why this model)")
    p.add_argument("--out", type=Path, default=ROOT / "slicer_embed" / "weights")
    p.add_argument("--run", type=Path, default=None,
                   help="the training run folder: its metrics.jsonl gives the wall time up to the model's step")
    p.add_argument("--corpus-files", type=int, default=None, help="files in the training corpus (passes = crops / files)")
    p.add_argument("--selected-by", default="", help="how the checkpoint was chosen (e.g. best mini-LAPE valid mean)")
    a = p.parse_args(argv)

    import slicer_embed
    from slicer_embed.hub import WEIGHTS_NAME, file_sha256

    model = slicer_embed.load(a.model, device="cpu")
    provenance = {k: v for k, v in dict(model.config.provenance).items() if k != "weights_sha256"}
    provenance["shipped_as_default"] = {"from": str(a.model), "note": a.note}
    if a.selected_by:
        provenance["shipped_as_default"]["selected_by"] = a.selected_by
    if a.run is not None or a.corpus_files:
        provenance["training"] = training_facts(a.run, provenance, a.corpus_files)
    model.config = model.config.replace(provenance=provenance)
    model.save_pretrained(a.out)  # atomic; records the new file's sha256 in config.json
    sha = file_sha256(a.out / WEIGHTS_NAME)
    size = (a.out / WEIGHTS_NAME).stat().st_size
    print(f"{a.out}: {size / 2**20:.1f} MiB, sha256 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
