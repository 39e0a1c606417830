"""Full training-state checkpoints: ``RUN/checkpoints/step_XXXXXXXX.pt`` written atomically.

A checkpoint is one ``torch.save`` dict (training state only; releases go through export.py as
safetensors): student, teacher, optimiser, step/epoch/batch position, clips seen, the key queue, the
memory banks, the k-mix centroids, the normalisation statistics, every random generator state and the
training config. ``latest_checkpoint`` finds the newest; ``prune`` keeps the last few.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

CKPT_DIR = "checkpoints"
_NAME = re.compile(r"^step_(\d{8})\.pt$")


def checkpoint_path(run: Path, step: int) -> Path:
    return Path(run) / CKPT_DIR / f"step_{step:08d}.pt"


def save_checkpoint(state: dict[str, Any], path: Path) -> Path:
    """Write ``state`` to ``path`` via a temporary file and ``os.replace`` (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def list_checkpoints(run: Path) -> list[Path]:
    """Step checkpoints of a run, oldest first."""
    folder = Path(run) / CKPT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def latest_checkpoint(run: Path) -> Path | None:
    found = list_checkpoints(run)
    return found[-1] if found else None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a training checkpoint (a plain dict of tensors, numbers and strings; weights_only)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a readable slicer-embed training checkpoint ({e})") from e
    if not isinstance(state, dict) or "student" not in state or "config" not in state:
        raise ValueError(f"{path}: not a slicer-embed training checkpoint (no 'student'/'config' entries)")
    return state


def checkpoint_step(path: Path) -> int:
    """The step number in a ``step_XXXXXXXX.pt`` name."""
    m = _NAME.match(Path(path).name)
    if m is None:
        raise ValueError(f"{path}: not a step_XXXXXXXX.pt checkpoint name")
    return int(m.group(1))


def prune(run: Path, keep: int, protect: frozenset[int] | set[int] = frozenset()) -> None:
    """Delete all but the newest ``keep`` step checkpoints (keep <= 0 keeps everything); checkpoints
    of the steps in ``protect`` (a learning curve's points) are never deleted and do not count."""
    if keep <= 0:
        return
    rolling = [p for p in list_checkpoints(run) if checkpoint_step(p) not in protect]
    for old in rolling[:-keep]:
        old.unlink(missing_ok=True)
