"""Evaluation protocols (``lape``, ``evar``) and the per-task run: embed, split, probe, score.

Data flow for one task, with the guarantee that test rows only ever reach ``score``:
  manifest rows -> embeddings (cache) -> drop undecodable rows (reported) -> valid carved from train
  if missing (seeded, group-aware, recorded) -> label ids from the sorted train classes ->
  for each seed: ``fit_probe(train, valid)`` -> accuracy on each test split.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .cache import embed_task
from .manifest import Row, Task, check_classes, ensure_valid
from .probe import ProbeConfig, ProbeResult, accuracy, fit_probe
from .registry import crop_seconds


@dataclass(frozen=True)
class ProtocolConfig:
    name: str
    probe: ProbeConfig
    pooling: str  # frame pooling for SLICER models ("mean" is LAPE's downstream pooling)
    valid_fraction: float = 0.1  # carved from train when a task has no valid split
    split_seed: int = 0  # seed of that carve (fixed across probe seeds: seeds vary the probe only)
    crop: float | None = None  # seconds; None = per-task (registry.crop_seconds)
    score_test: bool = True  # False: valid accuracy only (model selection never reads a test split)
    notes: str = ""


PROTOCOLS: dict[str, ProtocolConfig] = {
    "lape": ProtocolConfig("lape", ProbeConfig(lr=1e-3, batch_size=32, max_epochs=100), "mean",
                           notes="LAPE: frozen encoder, mean pooling, linear layer, Adam 1e-3, batch 32, "
                                 "100 epochs; epoch chosen on valid (never test)."),
    "evar": ProtocolConfig("evar", ProbeConfig(lr=3e-4, batch_size=256, max_epochs=200, weight_decay=1e-8,
                                               standardize=True, patience=20), "mean+max",
                           notes="EVAR/BYOL-A: standardised embeddings, linear layer, Adam 3e-4, wd 1e-8, "
                                 "batch 256, <=200 epochs, early stop after 20 epochs without valid gain."),
}


def protocol_settings(p: ProtocolConfig) -> dict[str, Any]:
    d = dataclasses.asdict(p)
    d["selection"] = "best valid accuracy (ties: lower valid loss, then earlier epoch); test used once"
    return d


@dataclass
class TaskOutcome:
    result: dict[str, Any]
    skipped: list[dict[str, str]] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)  # one per seed, best-on-valid weights


def _durations(task: Task) -> list[float]:
    out = []
    for r in task.rows:
        if r.split == "train":
            try:
                info = sf.info(str(task.path(r)))
                out.append(info.frames / info.samplerate)
            except Exception:
                continue
    return out


def task_crop(task: Task, protocol: ProtocolConfig) -> float:
    """Crop length in seconds for ``task`` under ``protocol`` (reads train durations only if needed)."""
    needs_durations = protocol.crop is None and "lape_task" not in task.info and "crop_seconds" not in task.info
    return crop_seconds(task, protocol.name, protocol.crop, _durations(task) if needs_durations else [])


def run_task(embedder: Any, task: Task, protocol: ProtocolConfig, seeds: list[int], cache_dir: Path,
             batch_size: int = 32, progress: bool = True) -> TaskOutcome:
    """Evaluate one task; raises ``TaskError`` for tasks that cannot be evaluated as given.

    Without ``protocol.score_test`` the test rows are dropped before anything is read: model selection
    neither scores nor embeds (decodes) a test file."""
    if not protocol.score_test:
        task = dataclasses.replace(task, rows=tuple(r for r in task.rows if not r.split.startswith("test")))
    crop = task_crop(task, protocol)
    emb = embed_task(embedder, task, crop, cache_dir, batch_size, progress)
    skipped = [{"file": task.rows[i].file_name, "split": task.rows[i].split, "error": msg}
               for i, msg in sorted(emb.errors.items())]
    for s in skipped:
        print(f"slicer-embed eval: {task.name}: skipped {s['file']} ({s['split']}): {s['error']}", file=sys.stderr)
    keep = [i for i in range(len(task.rows)) if emb.ok[i]]
    rows: list[Row] = [task.rows[i] for i in keep]
    X = emb.X[keep]
    rows, carve = ensure_valid(task.name, rows, protocol.valid_fraction, protocol.split_seed)
    classes = check_classes(task.name, rows)
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[r.label] for r in rows], dtype=np.int64)
    split = np.array([r.split for r in rows])
    tr, va = split == "train", split == "valid"
    tests = sorted({s for s in split if s.startswith("test")}) if protocol.score_test else []

    per_seed: dict[str, list[float]] = {t: [] for t in tests}
    best_epochs, valid_accs, probes = [], [], []
    for seed in seeds:
        probe = fit_probe(X[tr], y[tr], X[va], y[va], len(classes), protocol.probe, seed, progress)
        probes.append(probe)
        best_epochs.append(probe.best_epoch)
        valid_accs.append(probe.valid_acc[probe.best_epoch - 1])
        for t in tests:  # the only place test rows are touched
            m = split == t
            per_seed[t].append(accuracy(probe.predict(X[m]), y[m]))
    result = {
        "task": task.name,
        "source": str(task.root),
        "crop_seconds": crop,
        "classes": classes,
        "n": {s: int((split == s).sum()) for s in sorted(set(split))},
        "n_skipped": len(skipped),
        "skipped": skipped,
        "valid_carve": carve,
        "accuracy": {t: summary(v) for t, v in per_seed.items()},
        "valid_accuracy": summary(valid_accs),
        "best_epochs": best_epochs,
        "seeds": list(seeds),
        "embedding_cache_key": emb.key,
        "task_info": dict(task.info),
    }
    return TaskOutcome(result, skipped, probes)


def summary(values: list[float]) -> dict[str, Any]:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "per_seed": [float(v) for v in a]}
