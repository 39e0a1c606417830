"""The default-model target on mini-LAPE: each trained model against the better baseline.

    python scripts/summarize_results.py runs/eval            # every RES folder under runs/eval
    python scripts/summarize_results.py runs/eval_valid --split valid \
        --probe "pitch (LAPE)=runs/eval_pitch" --probe "pitch (standardised)=runs/eval_pitch_evar"

Reads ``RES/results.json`` of ``slicer-embed eval`` runs, prints a markdown table of test accuracy
(mean ± std over probe seeds) on the six mini-LAPE tasks (language scored on its synthetic-voice
``test`` split; ``test_real`` is shown apart and not in the mean), the six-task mean, and for each
model the gap to the better of the ``random`` and ``logmel`` baselines: on the mean, and the number
of tasks where the model is ahead of the better baseline of that task (by any margin, and by 5 points).
``--split valid`` reads the valid accuracies instead (``slicer-embed eval --valid-only``: choosing
models). ``--probe LABEL=ROOT`` adds a column, not in the mean, from ``ROOT/<model>/results.json`` of
the same models (e.g. the pitch probe, under either protocol).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

TASKS = ("kws", "speaker", "language", "instrument", "expression", "bird")
BASELINES = ("logmel", "random")


def load(folder: Path, split: str = "test") -> dict[str, tuple[float, float]]:
    """{task or 'language/test_real': (mean %, std %)} from one eval result folder."""
    tasks = json.loads((folder / "results.json").read_text())["tasks"]
    out = {}
    for name, t in tasks.items():
        if split == "valid":
            acc = t["valid_accuracy"]
            out[name] = (100 * acc["mean"], 100 * acc["std"])
            continue
        for sp, acc in t["accuracy"].items():
            key = name if sp == "test" else f"{name}/{sp}"
            out[key] = (100 * acc["mean"], 100 * acc["std"])
    return out


def parse_probes(specs: list[str]) -> list[tuple[str, Path]]:
    """``--probe LABEL=ROOT`` values -> [(label, root)]."""
    return [(lbl, Path(root)) for lbl, _, root in (x.partition("=") for x in specs)]


def probe_cell(root: Path, model: str, split: str) -> str:
    f = root / model
    if not (f / "results.json").is_file():
        return "-"
    vals = list(load(f, split).values())
    return f"{vals[0][0]:.1f} ± {vals[0][1]:.1f}" if vals else "-"


def mean6(r: dict[str, tuple[float, float]]) -> float:
    return sum(r[t][0] for t in TASKS) / len(TASKS)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", type=Path, help="folder holding one eval result folder per model")
    p.add_argument("--split", choices=("test", "valid"), default="test")
    p.add_argument("--probe", action="append", default=[], metavar="LABEL=ROOT",
                   help="an extra column (not in the mean) from ROOT/<model>/results.json")
    a = p.parse_args(argv)
    probes = parse_probes(a.probe)
    runs = {d.name: load(d, a.split) for d in sorted(a.root.iterdir()) if (d / "results.json").is_file()}
    missing = [b for b in BASELINES if b not in runs]
    if missing:
        print(f"missing baseline results: {', '.join(missing)}", file=sys.stderr)
        return 2
    best_task = {t: max(runs[b][t][0] for b in BASELINES) for t in TASKS}
    best_mean_name = max(BASELINES, key=lambda b: mean6(runs[b]))
    best_mean = mean6(runs[best_mean_name])
    cols = list(TASKS) + ["mean (6)", "language/test_real", "vs better baseline: mean", "tasks ahead (by ≥5)"]
    cols += [lbl for lbl, _ in probes]
    print("| model | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name, r in sorted(runs.items(), key=lambda kv: (kv[0] not in BASELINES, -mean6(kv[1]))):
        cells = [f"{r[t][0]:.1f} ± {r[t][1]:.1f}" for t in TASKS]
        real = r.get("language/test_real")
        cells += [f"**{mean6(r):.1f}**", f"{real[0]:.1f} ± {real[1]:.1f}" if real else "-"]
        if name in BASELINES:
            cells += ["(baseline)", "-"]
        else:
            ahead = sum(r[t][0] > best_task[t] for t in TASKS)
            ahead5 = sum(r[t][0] >= best_task[t] + 5 for t in TASKS)
            cells += [f"{mean6(r) - best_mean:+.1f}", f"{ahead}/6 ({ahead5}/6)"]
        cells += [probe_cell(root, name, a.split) for _, root in probes]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nbetter baseline on the mean: {best_mean_name} ({best_mean:.1f}); per task: "
          + ", ".join(f"{t} {best_task[t]:.1f}" for t in TASKS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
