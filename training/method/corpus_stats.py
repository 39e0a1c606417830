"""Statistics computed on the training corpus before training starts.

- ``norm_stats``: one scalar mean and std of the log-mel over random crops (replaces the reference's
  per-worker RunningNorm; the numbers go into the exported ``config.normalization``).
- ``kmix_centroids``: spherical k-means centroids of time-averaged log-mel of a sample of the files.

Both use the model's own frontend (``LogMelFrontend``) so there is no train/serve skew, and both are
seeded: the same corpus and seed give the same numbers.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ..infra.data import ClipSource
from .kmix import spherical_kmeans

BATCH = 64  # crops per frontend call


def _log_mel_batches(source: ClipSource, indices: np.ndarray, crop_samples: int, frontend: torch.nn.Module,
                     seed: int, tag: int) -> Iterator[torch.Tensor]:
    """Raw log-mel (b, n_mels, frames) of one random crop per index, in batches."""
    device = next(iter(frontend.buffers())).device
    for lo in range(0, len(indices), BATCH):
        waves = [source.crop(int(i), crop_samples, np.random.default_rng([seed, tag, int(i)]))
                 for i in indices[lo:lo + BATCH]]
        with torch.no_grad():
            yield frontend(torch.from_numpy(np.stack(waves)).to(device)).float()


def norm_stats(source: ClipSource, frontend: torch.nn.Module, n_clips: int, crop_samples: int,
               seed: int) -> tuple[float, float, int]:
    """(mean, std, clips used) of the raw log-mel over up to ``n_clips`` files (one crop each)."""
    n = min(n_clips, len(source)) if n_clips > 0 else len(source)
    indices = np.random.default_rng([seed, 101]).permutation(len(source))[:n]
    total, total_sq, count = 0.0, 0.0, 0
    for x in _log_mel_batches(source, indices, crop_samples, frontend, seed, 102):
        x = x.double()
        total += float(x.sum())
        total_sq += float((x * x).sum())
        count += x.numel()
    mean = total / count
    std = max(total_sq / count - mean * mean, 0.0) ** 0.5
    if not np.isfinite(mean) or not std > 0:
        raise ValueError(f"log-mel statistics of the training data are degenerate (mean {mean}, std {std}): "
                         f"is the corpus silent?")
    return mean, std, n


def kmix_centroids(source: ClipSource, frontend: torch.nn.Module, fraction: float, clusters: int, iters: int,
                   crop_samples: int, seed: int, normalize: tuple[float, float] | None) -> torch.Tensor:
    """(clusters, n_mels) unit centroids from a ``fraction`` of the files (at least ``clusters`` of them).

    ``normalize=(mean, std)`` clusters normalised log-mel (our default); None clusters the raw log-mel
    as the reference does. The time-mean direction differs between the two (the mean shifts it).
    """
    n = min(len(source), max(clusters, int(round(fraction * len(source)))))
    indices = np.random.default_rng([seed, 201]).permutation(len(source))[:n]
    feats = []
    for x in _log_mel_batches(source, indices, crop_samples, frontend, seed, 202):
        if normalize is not None:
            x = (x - normalize[0]) / normalize[1]
        feats.append(x.mean(-1).cpu())  # (b, n_mels)
    gen = torch.Generator().manual_seed(seed + 203)
    return spherical_kmeans(torch.cat(feats), clusters, iters, gen)
