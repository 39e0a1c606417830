"""Learning curve of a pretraining run on mini-LAPE *valid* splits: a markdown table and a plot.

    python scripts/summarize_curve.py --curve runs/eval_curve --baselines runs/eval \
        --corpus-files 22813 --out docs/learning_curve.png [--json docs/learning_curve.json]

Reads ``results.json`` of ``slicer-embed eval`` runs: every ``step_*`` folder under --curve (a kept
checkpoint of the run; crops seen from its provenance), other folders there as extra points (e.g. a
second training seed, ``seed1``), and ``logmel``, ``random`` and ``prev_default`` under --baselines.
Valid accuracy only (mean ± std over probe seeds): this is what the shipped checkpoint is chosen on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

TASKS = ("kws", "speaker", "language", "instrument", "expression", "bird")
BASELINES = ("logmel", "random", "prev_default")


def valid(folder: Path) -> dict[str, Any] | None:
    path = folder / "results.json"
    if not path.is_file():
        return None
    r = json.loads(path.read_text())
    tasks = r["tasks"]
    if not all(t in tasks for t in TASKS):
        return None
    acc = {t: (100 * tasks[t]["valid_accuracy"]["mean"], 100 * tasks[t]["valid_accuracy"]["std"]) for t in TASKS}
    prov = (r["model"].get("provenance") or {})
    return {"acc": acc, "mean": sum(a for a, _ in acc.values()) / len(TASKS),
            "clips_seen": prov.get("clips_seen"), "steps": prov.get("steps"),
            "seed": (prov.get("recipe") or {}).get("seed")}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--curve", type=Path, required=True)
    p.add_argument("--baselines", type=Path, required=True)
    p.add_argument("--corpus-files", type=int, required=True, help="files in the training corpus (one pass)")
    p.add_argument("--out", type=Path, default=None, help="plot (PNG)")
    p.add_argument("--json", type=Path, default=None, help="the table's numbers as JSON")
    a = p.parse_args(argv)
    points = {d.name: v for d in sorted(a.curve.iterdir()) if (v := valid(d))}
    base = {b: v for b in BASELINES if (v := valid(a.baselines / b))}
    curve = sorted(((k, v) for k, v in points.items() if k.startswith("step_")), key=lambda kv: kv[1]["clips_seen"])
    extra = [(k, v) for k, v in points.items() if not k.startswith("step_")]

    head = "| model | crops seen | passes | " + " | ".join(TASKS) + " | **mean** |"
    print(head + "\n|" + "---|" * (len(TASKS) + 4))

    def row(name: str, v: dict[str, Any]) -> str:
        cs = v["clips_seen"]
        passes = f"{cs / a.corpus_files:.2f}" if cs else ""
        cells = " | ".join(f"{m:.1f} ± {s:.1f}" for m, s in (v["acc"][t] for t in TASKS))
        return f"| {name} | {cs or ''} | {passes} | {cells} | **{v['mean']:.1f}** |"
    for name, v in curve + extra:
        print(row(name, v))
    for name, v in base.items():
        print(row(name, v))
    best = max(curve, key=lambda kv: kv[1]["mean"]) if curve else None
    if best:
        print(f"\nbest valid mean on the curve: {best[0]} ({best[1]['mean']:.2f})")
    if a.json:
        a.json.write_text(json.dumps({"curve": dict(curve), "extra": dict(extra), "baselines": base,
                                      "corpus_files": a.corpus_files}, indent=1) + "\n")
    if a.out and curve:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
        fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True)
        xs = [v["clips_seen"] for _, v in curve]
        panels = list(TASKS) + ["mean"]
        colours = {"logmel": "tab:gray", "random": "tab:orange", "prev_default": "tab:green"}
        for ax, task in zip(axes.flat, panels):
            ys = [v["mean"] if task == "mean" else v["acc"][task][0] for _, v in curve]
            es = [0 if task == "mean" else v["acc"][task][1] for _, v in curve]
            ax.errorbar(xs, ys, yerr=es, marker="o", color="tab:blue", label="this run (seed 0)")
            for name, v in extra:
                y = v["mean"] if task == "mean" else v["acc"][task][0]
                ax.plot([v["clips_seen"]], [y], "s", color="tab:purple", label=f"{name}")
            for name, v in base.items():
                y = v["mean"] if task == "mean" else v["acc"][task][0]
                ax.axhline(y, color=colours[name], ls="--", lw=1, label=name)
            ax.set_xscale("log")
            ax.set_title(task if task != "mean" else "mean of the six tasks")
            ax.grid(alpha=0.3)
        for ax in axes[1]:
            ax.set_xlabel("crops seen (log)")
        axes[0, 0].set_ylabel("valid accuracy (%)")
        axes[1, 0].set_ylabel("valid accuracy (%)")
        handles, labels = axes.flat[len(panels) - 1].get_legend_handles_labels()
        spare = axes.flat[len(panels)]
        spare.axis("off")
        spare.legend(handles, labels, loc="center", fontsize=9)
        for ax in axes[0]:
            top = ax.secondary_xaxis("top", functions=(lambda c: c / a.corpus_files, lambda q: q * a.corpus_files))
            top.set_xlabel("passes", fontsize=8)
            top.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        fig.suptitle("mini-LAPE valid accuracy (LAPE linear protocol, 3 probe seeds) against pretraining crops seen")
        fig.tight_layout()
        fig.savefig(a.out, dpi=90)
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
