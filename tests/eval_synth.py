"""Generated evaluation tasks for the eval tests: tones of different pitch vs noise bands (16 kHz WAV)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
CLASSES = ("low_tone", "high_tone", "low_noise", "high_noise")


def clip(label: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    if label.endswith("tone"):
        f0 = (250.0 if label == "low_tone" else 2500.0) * rng.uniform(0.85, 1.15)
        x = 0.3 * np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi))
    else:  # white noise, band-limited by a crude FFT mask
        lo, hi = (100.0, 800.0) if label == "low_noise" else (3000.0, 6000.0)
        spec = np.fft.rfft(rng.normal(0, 1, len(t)))
        freqs = np.fft.rfftfreq(len(t), 1 / SR)
        spec[(freqs < lo) | (freqs > hi)] = 0
        x = np.fft.irfft(spec, len(t))
        x = 0.2 * x / (np.abs(x).max() + 1e-9)
    return (x + rng.normal(0, 0.005, len(t))).astype(np.float32)


def make_task(folder: Path, per_split: dict[str, int] | None = None, seed: int = 0,
              groups: bool = True) -> Path:
    """Write a 4-class task (clips 0.6-1.3 s) with ``manifest.csv``; ``per_split`` = clips per class per split."""
    per_split = per_split or {"train": 30, "valid": 8, "test": 8}
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for label in CLASSES:
        for split, n in per_split.items():
            for i in range(n):
                name = f"{label}_{split}_{i:03d}.wav"
                sf.write(folder / name, clip(label, rng, rng.uniform(0.6, 1.3)), SR)
                rows.append([name, label, split, f"{label}-{split}-{i // 3}" if groups else ""])
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "label", "split", "group"])
        w.writerows(rows)
    return folder


def rewrite_manifest(folder: Path, rows: list[list[str]]) -> None:
    with open(folder / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "label", "split", "group"])
        w.writerows(rows)


def read_rows(folder: Path) -> list[list[str]]:
    with open(folder / "manifest.csv", newline="") as f:
        return [r for r in csv.reader(f)][1:]
