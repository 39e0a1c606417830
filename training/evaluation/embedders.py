"""What gets evaluated: a frozen function from fixed-length waveforms to clip embeddings.

``load_embedder(spec)`` accepts a local model folder or Hub id (``slicer_embed.load``) and two
built-in baselines: ``logmel`` (per-band mean and std over time of the raw log-mel, 128-d) and
``random`` (the reference encoder with seeded random weights). Every embedder carries an
``identity`` dict (including a sha256 of its weights) that keys the embedding cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
import torch

import slicer_embed
from slicer_embed.config import FrontendConfig
from slicer_embed.encoder import pool_frames
from slicer_embed.frontend import LogMelFrontend
from slicer_embed.hub import resolve_device

BASELINES = ("logmel", "random")


def state_sha256(module: torch.nn.Module) -> str:
    """sha256 over the names, dtypes, shapes and bytes of a module's state dict (sorted by name)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        a = t.detach().cpu().contiguous()
        h.update(f"{name}:{a.dtype}:{tuple(a.shape)}\n".encode())
        h.update(a.reshape(-1).view(torch.uint8).numpy().tobytes() if a.numel() else b"")
    return h.hexdigest()


class LogMelStats:
    """Baseline: raw log-mel (64 bands) -> [mean over time, std over time], (B, samples) -> (B, 128)."""

    sample_rate = 16000

    def __init__(self, device: str = "cpu"):
        self.config = FrontendConfig()
        self.device = resolve_device(device)
        self.frontend = LogMelFrontend(self.config).to(self.device)
        self.dim = 2 * self.config.n_mels
        self.name = "logmel"
        self.identity = {"kind": "logmel", "frontend": dataclasses.asdict(self.config)}
        self.provenance: dict[str, Any] = {"baseline": "log-mel mean/std statistics"}

    @torch.inference_mode()
    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        m = self.frontend(wave.to(self.device))  # (B, 64, T)
        return torch.cat([m.mean(-1), m.std(-1)], dim=1).float().cpu()


class ModelEmbedder:
    """A ``SlicerModel``: ``forward`` on the whole crop -> frames (B, T', D) -> ``pool_frames``."""

    def __init__(self, model: Any, name: str, pooling: str):
        self.model = model.eval()
        self.sample_rate = model.sample_rate
        self.dim = model.embedding_dim
        self.name = name
        self.pooling = pooling
        self.device = model.device
        self.identity = {"kind": "slicer", "name": name, "weights_sha256": state_sha256(model),
                         "config": json.loads(json.dumps(model.config.to_dict(), default=str)),
                         "pooling": pooling}
        self.provenance = {"source": getattr(model, "source", name), "revision": getattr(model, "revision", None),
                           **dict(model.config.provenance)}

    @torch.inference_mode()
    def __call__(self, wave: torch.Tensor) -> torch.Tensor:
        frames = self.model(wave.to(self.device))
        return pool_frames(frames, self.pooling, dim=1).float().cpu()


def load_embedder(spec: str, *, pooling: str, device: str = "cpu", seed: int = 0) -> LogMelStats | ModelEmbedder:
    """``logmel`` | ``random`` | model folder | Hub id -> an embedder on ``device``."""
    if spec == "logmel":
        return LogMelStats(device)
    if spec == "random":
        model = slicer_embed.create_model(seed=seed, device=device)
        return ModelEmbedder(model, f"random(seed={seed})", pooling)
    model = slicer_embed.load(spec, device=device)
    return ModelEmbedder(model, spec, pooling)


def fixed_crop(x: np.ndarray, n: int) -> np.ndarray:
    """Centre crop (longer clips) or centre zero-pad (shorter ones) a 1-D clip to exactly ``n`` samples.

    Deterministic on purpose: the reference code took a random crop at train *and* test time, which
    makes test scores stochastic. Centre-padding follows the reference's padding convention.
    """
    if len(x) >= n:
        start = (len(x) - n) // 2
        return np.ascontiguousarray(x[start:start + n], dtype=np.float32)
    out = np.zeros(n, np.float32)
    left = (n - len(x)) // 2
    out[left:left + len(x)] = x
    return out
