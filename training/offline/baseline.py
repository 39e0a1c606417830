"""Log-mel statistics baseline for a mini-LAPE task: a linear probe on pooled log-mel features.

Features: the package's own ``LogMelFrontend`` (64 Slaney mel bands, 16 kHz, 10 ms hop; raw log
mel, no normalisation), mean and std over time -> 128-d per clip. Classifier: StandardScaler +
multinomial LogisticRegression; C is chosen on ``valid`` from a small grid, then the model trained
on ``train`` is scored on every ``test*`` split.

  python -m slicer_embed.training.offline.baseline data/minilape [--tasks kws ...] [--out table.md]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf
import torch

from slicer_embed.config import FrontendConfig
from slicer_embed.frontend import LogMelFrontend

from .common import write_text
from .manifest import read_csv
from .tasks import ALL_NAMES

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


@dataclass(frozen=True)
class Result:
    task: str
    classes: int
    counts: dict[str, int]       # clips per split
    chance: dict[str, float]     # majority-class accuracy per test split
    accuracy: dict[str, float]   # probe accuracy per test split
    c: float                     # chosen inverse regularisation strength
    valid_accuracy: float


def logmel_stats(paths: list[Path], frontend: LogMelFrontend) -> np.ndarray:
    """(N, 128) float32: per-clip mean and std of the raw log-mel over time."""
    feats = []
    with torch.inference_mode():
        for p in paths:
            x, sr = sf.read(str(p), dtype="float32")
            if sr != frontend.cfg.sample_rate or x.ndim != 1:
                raise ValueError(f"{p}: expected mono {frontend.cfg.sample_rate} Hz, got {sr} Hz shape {x.shape}")
            m = frontend(torch.from_numpy(np.pad(x, (0, max(0, 1024 - len(x)))))[None])[0]
            feats.append(torch.cat([m.mean(1), m.std(1)]).numpy())
    return np.stack(feats)


def probe(task_dir: Path) -> Result:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = read_csv(task_dir / "manifest.csv")
    x = logmel_stats([task_dir / r["file_name"] for r in rows], LogMelFrontend(FrontendConfig()))
    y = np.array([r["label"] for r in rows])
    split = np.array([r["split"] for r in rows])
    tr, va = split == "train", split == "valid"

    def fit(c: float):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(x[tr], y[tr])

    scores = {c: float(np.mean(fit(c).predict(x[va]) == y[va])) for c in C_GRID}
    best = max(C_GRID, key=lambda c: (scores[c], -c))  # ties -> stronger regularisation
    model = fit(best)
    tests = sorted(s for s in set(split) if s.startswith("test"))
    acc = {s: float(np.mean(model.predict(x[split == s]) == y[split == s])) for s in tests}
    chance = {s: Counter(y[split == s]).most_common(1)[0][1] / int(np.sum(split == s)) for s in tests}
    return Result(task_dir.name, len(set(y)), dict(Counter(split)), chance, acc, best, scores[best])


def markdown(results: list[Result]) -> str:
    lines = ["| task | classes | train / valid / test clips | C | valid acc | test split: chance -> accuracy |",
             "|---|---|---|---|---|---|"]
    for r in results:
        tests = [s for s in r.counts if s.startswith("test")]
        sizes = " / ".join(str(r.counts.get(s, 0)) for s in ["train", "valid", *sorted(tests)])
        res = "; ".join(f"{s}: {r.chance[s]:.2f} -> **{r.accuracy[s]:.3f}**" for s in sorted(tests))
        lines.append(f"| {r.task} | {r.classes} | {sizes} | {r.c:g} | {r.valid_accuracy:.3f} | {res} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m slicer_embed.training.offline.baseline", description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="mini-LAPE folder (one sub-folder per task)")
    ap.add_argument("--tasks", nargs="+", default=list(ALL_NAMES), choices=ALL_NAMES)
    ap.add_argument("--out", type=Path, help="also write the markdown table here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    missing = [t for t in args.tasks if not (args.root / t / "manifest.csv").is_file()]
    if missing:
        print(f"baseline: no manifest.csv for {', '.join(missing)} under {args.root}", file=sys.stderr)
        return 2
    results = []
    for t in args.tasks:
        results.append(probe(args.root / t))
        print(markdown(results[-1:]).splitlines()[-1], file=sys.stderr)
    table = markdown(results)
    print(table)
    if args.out:
        write_text(args.out, table)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
