"""HEAR 2021 API (hearbenchmark.com/hear-api.html) for slicer-embed models.

``python -m heareval.embeddings.runner slicer_embed.hear --model MODEL_DIR`` works unmodified:

- ``load_model(model_file_path="")``: ``""`` = the bundled default model; otherwise a model folder (or the
  ``config.json``/``model.safetensors`` inside it) or a Hub repo id. Keyword options (heareval's
  ``--model-options``): ``hop_ms`` (timestamp hop: 40 (default), 80, 20 or 10 ms; exact, not interpolated),
  ``scene_pooling`` (``mean+max`` (default, the model's), ``mean``, ``max``), ``device``.
- ``get_scene_embeddings(audio, model)``: audio (n_sounds, n_samples) float tensor in [-1, 1] at
  ``model.sample_rate`` (16 kHz, no resampling, as HEAR requires) -> (n_sounds, 2048) float32 on the
  audio's device.
- ``get_timestamp_embeddings(audio, model)``: -> embeddings (n_sounds, T, 2048) float32 and timestamps
  (n_sounds, T) float32 in milliseconds: frame centres, evenly spaced, never past the end of the clip.

The encoder's native stride is 80 ms, above HEAR's suggested 50 ms; the default 40 ms hop runs the
encoder twice, on the audio and on the audio shifted by 40 ms, and interleaves the frames.
"""

from __future__ import annotations

from typing import Any

import torch

from .api import load
from .config import POOLINGS
from .model import SlicerModel

DEFAULT_HOP_MS = 40.0


def load_model(model_file_path: str = "", hop_ms: float = DEFAULT_HOP_MS, scene_pooling: str | None = None,
               device: str | None = "cpu", **unused: Any) -> SlicerModel:
    """Load a model for HEAR. See the module docstring for the options."""
    if unused:
        raise TypeError(f"unknown HEAR model option(s) {sorted(unused)}; known: hop_ms, scene_pooling, device")
    model = load(model_file_path or None, device=device)
    model._hop_passes(float(hop_ms) / 1000.0)  # fail now, not at the first batch, on a bad hop
    if scene_pooling is not None and scene_pooling not in POOLINGS:
        raise ValueError(f"scene_pooling must be one of {POOLINGS}, got {scene_pooling!r}")
    model.hear_hop_seconds = float(hop_ms) / 1000.0
    model.hear_scene_pooling = scene_pooling or model.pooling
    return model


def _check_audio(audio: Any, model: SlicerModel) -> None:
    if not isinstance(audio, torch.Tensor):
        raise ValueError(f"HEAR audio must be a torch.Tensor (n_sounds, n_samples), got {type(audio).__name__}")
    if audio.dim() != 2:
        raise ValueError(f"HEAR audio must be 2-D (n_sounds, n_samples) at {model.sample_rate} Hz, "
                         f"got shape {tuple(audio.shape)}")
    if audio.shape[0] == 0 or audio.shape[1] == 0:
        raise ValueError(f"HEAR audio is empty: shape {tuple(audio.shape)}")


def get_scene_embeddings(audio: torch.Tensor, model: SlicerModel) -> torch.Tensor:
    """(n_sounds, n_samples) -> (n_sounds, model.scene_embedding_size) float32, on the audio's device."""
    _check_audio(audio, model)
    pooling = getattr(model, "hear_scene_pooling", model.pooling)
    return model.embed(audio, model.sample_rate, pooling=pooling)


def get_timestamp_embeddings(audio: torch.Tensor, model: SlicerModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(n_sounds, n_samples) -> (embeddings (n, T, D) float32, timestamps (n, T) float32 in ms)."""
    _check_audio(audio, model)
    hop = getattr(model, "hear_hop_seconds", DEFAULT_HOP_MS / 1000.0)
    emb, times = model.embed_frames(audio, model.sample_rate, hop_seconds=hop)
    duration_ms = 1000.0 * audio.shape[1] / model.sample_rate
    # Only a clip shorter than the first frame centre (35 ms) can have a timestamp past its end.
    times_ms = torch.clamp(times * 1000.0, max=duration_ms).to(torch.float32)
    return emb, times_ms
