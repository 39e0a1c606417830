"""Writing and combining results: ``results.json``, ``results.md`` tables and a bar chart PNG.

One run (one model) writes ``RES/results.json``; ``compare`` reads several of them and builds a
tasks x models table. A column is a (task, test split) pair; cells read ``mean ± std`` accuracy in %
over the probe seeds. matplotlib is imported only to draw the chart (Agg backend, no display).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .manifest import atomic_write_text

RESULTS_JSON, RESULTS_MD, CHART_PNG = "results.json", "results.md", "results.png"


def write_run(out: Path, payload: dict[str, Any]) -> None:
    """Write ``out/results.json``, ``out/results.md``, ``out/splits/*.valid.txt`` and ``out/results.png``."""
    out.mkdir(parents=True, exist_ok=True)
    for res in payload["tasks"].values():
        carve = res.get("valid_carve")
        if carve and "files" in carve:  # exact carved file list next to the json, not inside it
            (out / "splits").mkdir(exist_ok=True)
            name = f"{res['task']}.valid.txt"
            atomic_write_text(out / "splits" / name, "\n".join(carve.pop("files")) + "\n")
            carve["file_list"] = f"splits/{name}"
    atomic_write_text(out / RESULTS_JSON, json.dumps(payload, indent=2, sort_keys=False) + "\n")
    runs = [payload]
    atomic_write_text(out / RESULTS_MD, markdown_table(runs))
    bar_chart(runs, out / CHART_PNG)


def load_run(folder: str | os.PathLike) -> dict[str, Any]:
    path = Path(folder) / RESULTS_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (expected the output folder of 'slicer-embed eval')")
    data = json.loads(path.read_text())
    if "tasks" not in data or "model" not in data:
        raise ValueError(f"{path}: not a slicer-embed eval results file (no 'tasks'/'model')")
    return data


def columns(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(task, test split) pairs over all runs, in first-seen order."""
    seen: list[tuple[str, str]] = []
    for run in runs:
        for name, res in run["tasks"].items():
            for split in res["accuracy"]:
                if (name, split) not in seen:
                    seen.append((name, split))
    return seen


def column_label(task: str, split: str) -> str:
    return task if split == "test" else f"{task}/{split}"


def model_label(run: dict[str, Any]) -> str:
    mode = "finetune" if run.get("finetune") else run["protocol"]["name"]
    return f"{run['model']['name']} [{mode}]"


def cell(run: dict[str, Any], task: str, split: str) -> tuple[float, float] | None:
    acc = run["tasks"].get(task, {}).get("accuracy", {}).get(split)
    return None if acc is None else (100 * acc["mean"], 100 * acc["std"])


def markdown_table(runs: list[dict[str, Any]]) -> str:
    """Models as rows, (task, split) as columns, plus the mean over the columns each model has."""
    cols = columns(runs)
    head = ["model"] + [column_label(t, s) for t, s in cols] + ["mean"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        cells, means = [], []
        for t, s in cols:
            c = cell(run, t, s)
            cells.append("n/a" if c is None else f"{c[0]:.1f} ± {c[1]:.1f}")
            if c is not None:
                means.append(c[0])
        avg = f"{sum(means) / len(means):.1f}" if means else "n/a"
        lines.append("| " + " | ".join([model_label(run)] + cells + [avg]) + " |")
    seeds = sorted({len(r.get("seeds", [])) for r in runs})
    note = (f"\nTest accuracy in %, mean ± std over {'/'.join(map(str, seeds))} probe seed(s); epoch selected "
            f"on the validation split only.\n")
    return "\n".join(lines) + "\n" + note


def bar_chart(runs: list[dict[str, Any]], path: Path) -> bool:
    """Grouped bars (one group per task column, one bar per model) with std error bars. False if no matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("slicer-embed eval: matplotlib is not installed; no chart (pip install 'slicer-embed[train]')",
              file=sys.stderr)
        return False
    cols = columns(runs)
    width = 0.8 / max(1, len(runs))
    fig, ax = plt.subplots(figsize=(4.0 + 0.6 * len(cols) * max(1, len(runs)) ** 0.5 + 2.5, 4))
    for k, run in enumerate(runs):
        vals = [cell(run, t, s) or (0.0, 0.0) for t, s in cols]
        xs = [i + (k - (len(runs) - 1) / 2) * width for i in range(len(cols))]
        ax.bar(xs, [v[0] for v in vals], width, yerr=[v[1] for v in vals], capsize=2, label=model_label(run))
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([column_label(t, s) for t, s in cols], rotation=30, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never hides bars
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def compare(folders: list[str], out: Path) -> dict[str, Any]:
    """Combine several run folders into ``out/results.md``, ``out/comparison.json`` and ``out/results.png``."""
    runs = [load_run(f) for f in folders]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / RESULTS_MD, markdown_table(runs))
    table = {model_label(r): {column_label(t, s): cell(r, t, s) for t, s in columns(runs)} for r in runs}
    summary = {"runs": [str(Path(f).resolve()) for f in folders], "accuracy_percent_mean_std": table}
    atomic_write_text(out / "comparison.json", json.dumps(summary, indent=2) + "\n")
    bar_chart(runs, out / CHART_PNG)
    return summary
