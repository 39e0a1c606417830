"""Signal-level augmentation: coloured noise, mixing at an SNR, per-clip channel randomisation.

Pure functions of (signal, rng); callers seed the rng per clip (``common.rng_for``) so results are
reproducible and independent of build order.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from .common import SR


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise of ``n`` samples, unit std, float32."""
    w = rng.standard_normal(n)
    if colour != "white":
        spec = np.fft.rfft(w)
        f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0)  # avoid the DC blow-up below 20 Hz
        spec /= f ** (0.5 if colour == "pink" else 1.0)
        w = np.fft.irfft(spec, n)
    return (w / (np.std(w) + 1e-12)).astype(np.float32)


def loop_to(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n``-sample excerpt of ``x`` (looped if shorter)."""
    if len(x) == 0:
        return np.zeros(n, dtype=np.float32)
    reps = int(np.ceil((n + len(x)) / len(x)))
    start = int(rng.integers(0, len(x)))
    return np.tile(x, reps)[start:start + n].astype(np.float32)


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """signal + noise scaled so that rms(signal)/rms(noise) = snr_db. Same length required."""
    if signal.shape != noise.shape:
        raise ValueError(f"mix_at_snr: shapes differ {signal.shape} vs {noise.shape}")
    ps = float(np.sqrt(np.mean(signal**2))) + 1e-9
    pn = float(np.sqrt(np.mean(noise**2))) + 1e-9
    return (signal + noise * (ps / pn) / 10 ** (snr_db / 20)).astype(np.float32)


def random_channel(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulated recording chain: band-pass (low edge 50-300 Hz, high 3.4-7.9 kHz), random spectral
    tilt, then white or brown noise at 5-25 dB SNR. Input/output float32 at 16 kHz, same length."""
    lo, hi = rng.uniform(50, 300), rng.uniform(3400, 7900)
    y = sosfilt(butter(4, [lo, hi], btype="band", fs=SR, output="sos"), x)
    if rng.random() < 0.5:  # first-order tilt: pre-emphasis (brighter) or a leaky integrator (darker)
        a = rng.uniform(0.3, 0.9)
        y = lfilter([1, -a], [1], y) if rng.random() < 0.5 else lfilter([1 - a], [1, -a], y)
    y = y.astype(np.float32)
    noise = coloured_noise(len(y), "white" if rng.random() < 0.5 else "brown", rng)
    return mix_at_snr(y, noise, float(rng.uniform(5, 25)))
