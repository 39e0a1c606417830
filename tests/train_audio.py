"""Generated audio corpora for the training tests (tones, noise, chirps; some files at 22.05 kHz, some stereo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def make_corpus(folder: Path, n: int = 24, seed: int = 0) -> Path:
    """Write ``n`` short clips (0.5-2.5 s) into ``folder`` (half in a subfolder); returns the folder."""
    rng = np.random.default_rng(seed)
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sr = 22050 if i % 4 == 0 else 16000
        t = np.arange(int(sr * rng.uniform(0.5, 2.5))) / sr
        kind = i % 3
        if kind == 0:
            x = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
        elif kind == 1:
            x = 0.1 * rng.standard_normal(len(t))
        else:
            x = 0.3 * np.sin(2 * np.pi * (200 + rng.uniform(500, 3000) * t) * t)
        x = x.astype(np.float32)
        if i % 5 == 0:
            x = np.stack([x, 0.5 * x], axis=1)  # stereo: channels are averaged
        sf.write(folder / ("sub" if i % 2 else "") / f"clip{i:03d}.wav", x, sr)
    return folder


def make_diverse_corpus(folder: Path, n: int = 32, seed: int = 1) -> Path:
    """``n`` 1-2 s clips at 16 kHz, each a distinct mix (two tones + coloured noise, amplitude-modulated),
    so that instance discrimination is possible (plain white-noise clips are indistinguishable)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sr = 16000
    for i in range(n):
        t = np.arange(int(sr * rng.uniform(1.0, 2.0))) / sr
        x = sum(0.2 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) for _ in range(2))
        am = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 8) * t)
        k = int(rng.integers(1, 30))
        noise = np.convolve(rng.standard_normal(len(t)), np.ones(k) / k, "same")
        sf.write(folder / f"mix{i:03d}.wav", ((x + 0.1 * noise) * am).astype(np.float32), sr)
    return folder
