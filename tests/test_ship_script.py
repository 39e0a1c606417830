"""scripts/ship_default_model.py: the training facts it records for a shipped model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("ship_default_model", ROOT / "scripts" / "ship_default_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(step: int, seconds: float = 1.0) -> dict:
    # 10 steps of 64 crops per row, as `slicer-embed train` logs them
    return {"step": step, "clips_seen": step * 64, "clips_per_s": 640 / seconds, "model_s": seconds, "data_s": 0.0}


def test_training_facts_count_a_resumed_runs_replayed_steps_once(tmp_path):
    # steps 10..50, then killed after 50 and resumed from the step-30 checkpoint: 40 and 50 are logged twice
    rows = [_row(s) for s in (10, 20, 30, 40, 50)] + [_row(s, seconds=2.0) for s in (40, 50, 60)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    facts = _script().training_facts(tmp_path, {"steps": 60, "clips_seen": 3840}, corpus_files=1920)
    assert facts["log_windows_replayed_after_resume"] == 2
    # the replayed rows (2 s each) replace the lost ones (1 s): 3 x 1 s + 3 x 2 s; none is a pause
    assert facts["wall_seconds_training"] == 9.0
    assert facts["passes"] == 2.0 and facts["steps"] == 60


def test_training_facts_count_a_paused_window_at_the_median_rate(tmp_path):
    rows = [_row(s) for s in (10, 20, 30, 40)] + [_row(50, seconds=100.0)]  # kill -STOP during step 41-50
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    facts = _script().training_facts(tmp_path, {"steps": 50, "clips_seen": 3200}, corpus_files=None)
    assert facts["windows_counted_at_median"] == 1 and facts["wall_seconds_training"] == 5.0
    assert facts["median_crops_per_second"] == 640.0 and "passes" not in facts
