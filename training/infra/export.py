"""Export a training run (or one checkpoint) as a slicer-embed model folder.

``export_run(src, out)`` writes ``out/config.json`` + ``out/model.safetensors`` with the **student**
encoder (as LAPE's ``load_pretrained_encoder`` does with ``encoder_q``; docs/reproduction.md), the
corpus normalisation statistics in ``config.normalization`` and the recipe in ``config.provenance``.
The heads, the teacher, the queue and the memory banks are training state and are not exported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

import slicer_embed
from slicer_embed.config import NormalizationConfig
from slicer_embed.hub import save_pretrained

from .checkpoint import CKPT_DIR, latest_checkpoint, load_checkpoint

MODEL_PREFIX = "model."  # SlicerNet.model is the SlicerModel


def is_training_run(path: str | os.PathLike) -> bool:
    """True for a run folder (``checkpoints/step_*.pt`` inside) or a training checkpoint file."""
    p = Path(path)
    if p.is_dir():
        return latest_checkpoint(p) is not None
    return p.is_file() and p.suffix == ".pt" and p.parent.name == CKPT_DIR


def _resolve(src: Path) -> Path:
    if src.is_dir():
        found = latest_checkpoint(src)
        if found is None:
            raise FileNotFoundError(f"{src}: no {CKPT_DIR}/step_*.pt checkpoint in this run folder")
        return found
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such run folder or checkpoint file")
    return src


def model_from_checkpoint(state: dict[str, Any], which: str = "student") -> slicer_embed.SlicerModel:
    """A ``SlicerModel`` (eval mode) holding the checkpoint's student (or teacher) encoder and the corpus stats."""
    net = state[which]
    weights = {k[len(MODEL_PREFIX):]: v for k, v in net.items() if k.startswith(MODEL_PREFIX)}
    model = slicer_embed.create_model(device="cpu")
    model.load_state_dict(weights, strict=True)
    stats, cfg, pos = state["stats"], state["config"], state["position"]
    norm = NormalizationConfig(mean=float(stats["mean"]), std=float(stats["std"]), source=str(stats["source"]))
    provenance = {
        "trained_with": "slicer-embed train",
        "encoder": which,
        "preset": stats.get("preset", "custom"),
        "recipe": cfg,
        "steps": pos["step"], "epochs_completed": pos["epoch"], "clips_seen": pos["clips_seen"],
        "data": str(stats["source"]),
        # the corpus version (manifest sha256) and its domain mix (hours, crops per pass): corpus_record.py
        **({"corpus": stats["corpus"]} if stats.get("corpus") else {}),
        # which encoder path (module, torch ops or the compiled kernels), torch and compiler made the weights
        **({"builds": state["builds"]} if state.get("builds") else {}),
    }
    model.config = model.config.replace(normalization=norm, provenance=provenance)
    return model.eval()


def export_run(src: str | os.PathLike, out: str | os.PathLike, *, dtype: torch.dtype | None = None,
               which: str = "student") -> Path:
    """Write ``out/config.json`` + ``out/model.safetensors`` from a run folder (latest checkpoint) or a checkpoint."""
    if which not in ("student", "teacher"):
        raise ValueError(f"which must be 'student' or 'teacher', got {which!r}")
    path = _resolve(Path(src))
    state = load_checkpoint(path)
    model = model_from_checkpoint(state, which)
    model.config = model.config.replace(provenance={**model.config.provenance, "checkpoint": path.name})
    pos = state["position"]
    card = (f"# SLICER encoder trained with slicer-embed\n\n{which} encoder of `{path.name}`: "
            f"{pos['step']} steps, {pos['clips_seen']} clips seen.\n\n"
            f"Normalisation: mean {model.config.normalization.mean:.5f}, std {model.config.normalization.std:.5f} "
            f"({model.config.normalization.source}).\n")
    out = Path(out)
    save_pretrained(model, out, model_card=card, dtype=dtype)
    return out
