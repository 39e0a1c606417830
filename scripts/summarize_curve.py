"""Learning curve of a pretraining run on mini-LAPE *valid* splits: a markdown table and a plot.

    python scripts/summarize_curve.py --curve runs/eval_curve --baselines runs/eval \
        --corpus-files 22813 --out docs/learning_curve.png [--json docs/learning_curve.json]

Reads ``results.json`` of ``slicer-embed eval`` runs: every ``step_*`` folder under --curve (a kept
checkpoint of the run; crops seen from its provenance), other folders there as extra points (e.g. a
second training seed, ``seed1``), and ``logmel``, ``random`` and ``prev_default`` under --baselines.
Valid accuracy only (mean ± std over probe seeds): this is what the shipped checkpoint is chosen on.
``--probe LABEL=ROOT`` adds a column and a panel, not in the mean, from ``ROOT/<name>/results.json``
for the same folder names (e.g. the pitch probe under either protocol).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

from summarize_results import load, parse_probes  # scripts/ is on sys.path when run as a script

TASKS = ("kws", "speaker", "language", "instrument", "expression", "bird")
BASELINES = ("logmel", "random", "prev_default")


def valid(folder: Path, tasks: Sequence[str] = TASKS) -> dict[str, Any] | None:
    path = folder / "results.json"
    if not path.is_file():
        return None
    r = json.loads(path.read_text())
    found = r["tasks"]
    if not all(t in found for t in tasks):
        return None
    acc = {t: (100 * found[t]["valid_accuracy"]["mean"], 100 * found[t]["valid_accuracy"]["std"]) for t in tasks}
    prov = (r["model"].get("provenance") or {})
    return {"acc": acc, "mean": sum(a for a, _ in acc.values()) / len(tasks),
            "clips_seen": prov.get("clips_seen"), "steps": prov.get("steps"),
            "seed": (prov.get("recipe") or {}).get("seed")}


def probe_valid(root: Path, name: str) -> tuple[float, float] | None:
    """(mean, std) valid accuracy in % of the single task evaluated in ``root/name``, if there."""
    if not (root / name / "results.json").is_file():
        return None
    accs = list(load(root / name, "valid").values())
    return accs[0] if len(accs) == 1 else None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--curve", type=Path, required=True)
    p.add_argument("--baselines", type=Path, required=True)
    p.add_argument("--corpus-files", type=int, required=True, help="files in the training corpus (one pass)")
    p.add_argument("--out", type=Path, default=None, help="plot (PNG)")
    p.add_argument("--json", type=Path, default=None, help="the table's numbers as JSON")
    p.add_argument("--probe", action="append", default=[], metavar="LABEL=ROOT",
                   help="a probe task reported apart from the mean (repeatable)")
    p.add_argument("--tasks", default=",".join(TASKS),
                   help="comma list of the tasks in the mean (default: the six mini-LAPE tasks)")
    p.add_argument("--title", default="mini-LAPE", help="the benchmark's name in the plot's title")
    a = p.parse_args(argv)
    tasks = tuple(t for t in a.tasks.split(",") if t)
    probes = parse_probes(a.probe)
    points = {d.name: v for d in sorted(a.curve.iterdir()) if (v := valid(d, tasks))}
    base = {b: v for b in BASELINES if (v := valid(a.baselines / b, tasks))}
    curve = sorted(((k, v) for k, v in points.items() if k.startswith("step_")), key=lambda kv: kv[1]["clips_seen"])
    extra = [(k, v) for k, v in points.items() if not k.startswith("step_") and k not in BASELINES]

    for name, v in list(points.items()) + list(base.items()):
        v["probes"] = {lbl: probe_valid(root, name) for lbl, root in probes}
    head = "| model | crops seen | passes | " + " | ".join(tasks) + " | **mean** |"
    head += "".join(f" {lbl} |" for lbl, _ in probes)
    print(head + "\n|" + "---|" * (len(tasks) + 4 + len(probes)))

    def row(name: str, v: dict[str, Any]) -> str:
        cs = v["clips_seen"]
        # a baseline (e.g. the previous default) was trained on another corpus: its passes are not of this one
        passes = f"{cs / a.corpus_files:.2f}" if cs and name not in BASELINES else ""
        cells = " | ".join(f"{m:.1f} ± {s:.1f}" for m, s in (v["acc"][t] for t in tasks))
        extra_cells = "".join(f" {pv[0]:.1f} ± {pv[1]:.1f} |" if (pv := v["probes"][lbl]) else " |"
                              for lbl, _ in probes)
        return f"| {name} | {cs or ''} | {passes} | {cells} | **{v['mean']:.1f}** |{extra_cells}"
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
        panels = list(tasks) + ["mean"] + [lbl for lbl, _ in probes]
        ncols = (len(panels) + 2) // 2
        fig, axes = plt.subplots(2, ncols, figsize=(4 * ncols, 7), sharex=True)
        xs = [v["clips_seen"] for _, v in curve]

        def value(v: dict[str, Any], task: str) -> tuple[float, float] | None:
            if task == "mean":
                return v["mean"], 0.0
            if task in v["acc"]:
                return v["acc"][task]
            return v["probes"].get(task)
        colours = {"logmel": "tab:gray", "random": "tab:orange", "prev_default": "tab:green"}
        for ax, task in zip(axes.flat, panels):
            pts = [(x, pv) for x, (_, v) in zip(xs, curve) if (pv := value(v, task))]
            ax.errorbar([x for x, _ in pts], [m for _, (m, _) in pts], yerr=[e for _, (_, e) in pts],
                        marker="o", color="tab:blue", label="this run (seed 0)")
            for name, v in extra:
                if pv := value(v, task):
                    ax.plot([v["clips_seen"]], [pv[0]], "s", color="tab:purple", label=f"{name}")
            for name, v in base.items():
                if pv := value(v, task):
                    ax.axhline(pv[0], color=colours[name], ls="--", lw=1, label=name)
            ax.set_xscale("log")
            ax.set_title(task if task != "mean" else f"mean of the {len(tasks)} tasks")
            ax.grid(alpha=0.3)
        for ax in axes[1]:
            ax.set_xlabel("crops seen (log)")
        axes[0, 0].set_ylabel("valid accuracy (%)")
        axes[1, 0].set_ylabel("valid accuracy (%)")
        handles, labels = axes.flat[len(tasks)].get_legend_handles_labels()  # the mean panel has every line
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        axes.flat[len(panels)].legend(handles, labels, loc="center", fontsize=9)
        for ax in axes[0]:
            top = ax.secondary_xaxis("top", functions=(lambda c: c / a.corpus_files, lambda q: q * a.corpus_files))
            top.set_xlabel("passes", fontsize=8)
            top.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        fig.suptitle(f"{a.title} valid accuracy (LAPE linear protocol, 3 probe seeds) against pretraining crops seen")
        fig.tight_layout()
        fig.savefig(a.out, dpi=90)
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
