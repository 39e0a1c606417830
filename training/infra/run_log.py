"""Run-folder logging: ``RUN/metrics.jsonl``, ``RUN/train.log``, a tqdm bar and optional TensorBoard.

Only rank 0 writes. ``metrics.jsonl`` holds one JSON object per logged step: step, epoch, clips_seen,
loss and its parts (means over the logging window and over ranks), lr, clips_per_s (all ranks),
data_s and model_s (seconds spent waiting for data vs in the model step during the window).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm


@dataclass
class Window:
    """Accumulates timings and loss parts between two metric lines."""

    start: float = field(default_factory=time.perf_counter)
    data_s: float = 0.0
    model_s: float = 0.0
    clips: int = 0
    steps: int = 0
    sums: dict[str, float] = field(default_factory=dict)

    def add(self, model_s: float, clips: int, parts: dict[str, float]) -> None:
        self.model_s += model_s
        self.clips += clips
        self.steps += 1
        for k, v in parts.items():
            self.sums[k] = self.sums.get(k, 0.0) + v


class RunLog:
    def __init__(self, out: Path, is_main: bool, progress: bool):
        self.out, self.is_main = Path(out), is_main
        self.bar: tqdm | None = None
        self.progress = progress and is_main
        self.tb = None
        if is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            self.tb = _tensorboard(self.out / "tensorboard")

    def info(self, text: str) -> None:
        if not self.is_main:
            return
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        (tqdm.write if self.bar is not None else print)(line, file=sys.stderr)
        with open(self.out / "train.log", "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def write_json(self, name: str, obj: Any) -> None:
        if self.is_main:
            tmp = self.out / (name + ".tmp")
            tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.out / name)

    def start_progress(self, total: int, initial: int) -> None:
        if self.progress:
            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

    def advance(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}")

    def new_window(self) -> Window:
        return Window()

    def metrics(self, pos: Any, lr: float, w: Window) -> None:
        if not self.is_main or w.steps == 0:
            return
        wall = time.perf_counter() - w.start
        row = {"step": pos.step, "epoch": pos.epoch, "clips_seen": pos.clips_seen,
               **{k: v / w.steps for k, v in w.sums.items()}, "lr": lr,
               "clips_per_s": w.clips / wall if wall > 0 else None,
               "data_s": w.data_s, "model_s": w.model_s, "time": time.time()}
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k in ("loss", "loss_instance", "loss_cluster", "lr", "clips_per_s"):
                if row.get(k) is not None:
                    self.tb.add_scalar(f"train/{k}", row[k], pos.step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.tb is not None:
            self.tb.close()


def _tensorboard(folder: Path) -> Any:
    """A SummaryWriter if TensorBoard is installed, else None (it is optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))
