"""Learning-rate schedule as a pure function of the step (DINO/nanoGPT style: easy to test and resume)."""

from __future__ import annotations

import math


def learning_rate(step: int, base_lr: float, total_steps: int, schedule: str = "constant",
                  warmup_steps: int = 0) -> float:
    """LR for optimiser step ``step`` (0-based): linear warm-up, then constant or cosine to 0 at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    if schedule == "cosine":
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr schedule {schedule!r}; use 'constant' or 'cosine'")
