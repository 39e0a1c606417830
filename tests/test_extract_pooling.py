"""extract's running pooling (extraction/pooling.py) gives the bits of SlicerModel._pool_sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slicer_embed.extraction.pooling import FileAccumulator, window_summaries


def _frames(seed: int, b: int = 37, t: int = 12, d: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # ReLU outputs over many orders of magnitude, exact zeros included: where float64 sums round
    scale = torch.rand(b, t, 1, generator=g) ** 8 * 10 ** torch.randint(-6, 3, (b, 1, 1), generator=g)
    return torch.relu(torch.randn(b, t, d, generator=g)) * scale


@pytest.mark.parametrize("seed", range(5))
def test_window_summaries_equal_window_by_window_reductions_bit_for_bit(seed):
    out = _frames(seed)
    kept = np.random.default_rng(seed).integers(1, out.shape[1] + 1, len(out))
    kept[:20] = out.shape[1]  # most windows are whole
    sums, maxima = window_summaries(out, kept)
    assert sums.dtype == np.float64 and maxima.dtype == np.float32 and sums.shape == (len(out), out.shape[2])
    for i, k in enumerate(kept):
        assert np.array_equal(sums[i], out[i, :k].sum(0, dtype=torch.float64).numpy())
        assert np.array_equal(maxima[i], out[i, :k].amax(0).numpy())


@pytest.mark.parametrize("pooling", ["mean", "max", "mean+max"])
def test_accumulated_clip_equals_the_models_pooling(pooling):
    out = _frames(7)
    kept = np.full(len(out), out.shape[1])
    kept[-1] = 5  # the file's last window is partial
    # SlicerModel._pool_sources, one file: torch ops window by window
    total, peak = torch.zeros(out.shape[2], dtype=torch.float64), torch.full((out.shape[2],), -torch.inf)
    for f, k in zip(out, kept):
        total += f[:k].sum(0, dtype=torch.float64)
        peak = torch.maximum(peak, f[:k].amax(0))
    mean = (total / float(kept.sum())).float()
    expected = {"mean": mean, "max": peak, "mean+max": mean + peak}[pooling].numpy()
    acc = FileAccumulator(out.shape[2], clip=True, frames=True)
    for lo in range(0, len(out), 16):  # the file's windows spread over three batches
        sums, maxima = window_summaries(out[lo:lo + 16], kept[lo:lo + 16])
        for i in range(len(sums)):
            acc.add(int(kept[lo + i]), sums[i], maxima[i], out[lo + i, :kept[lo + i]])
    got = acc.pooled(pooling)
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    frames = acc.frame_array()
    assert frames.shape == (int(kept.sum()), out.shape[2])
    assert np.array_equal(frames[:12], out[0].numpy()) and acc.buffer is None  # handed over, not kept
