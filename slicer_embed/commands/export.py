"""``slicer-embed export SRC OUT``: write a Hub-ready model folder (config.json, model.safetensors, README.md).

SRC is a training run folder or checkpoint (``slicer-embed train`` output; needs the training
subpackage) or any loadable model: a model folder, a Hub repo id, or ``default`` for the bundled model.
With ``--format onnx`` (the default when OUT ends in .onnx) OUT is one ONNX file instead: waveform
windows (batch, samples) at 16 kHz -> frame embeddings (batch, frames, 2048), log-mel frontend
included (needs ``pip install 'slicer-embed[onnx]'``; see slicer_embed/onnx_export.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slicer-embed export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="training run folder or checkpoint, model folder, Hub repo id, or 'default'")
    p.add_argument("out", type=Path, help="output folder (created), or OUT.onnx with --format onnx")
    p.add_argument("--format", dest="fmt", choices=["folder", "onnx"], default=None,
                   help="model folder (default) or one ONNX file (default when OUT ends in .onnx)")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                   help="storage precision of the weights (float16 halves the file; loaded back as float32)")
    p.add_argument("--model-card", type=Path, default=None, help="Markdown file to ship as README.md")
    p.add_argument("--revision", default=None, help="Hub revision when SRC is a repo id")
    return p


def model_card_for(model) -> str:
    """A minimal card from the config when none is given: architecture, input contract, provenance."""
    from ..hub import BUNDLED_DIR
    card = BUNDLED_DIR.parent / "MODEL_CARD.md"
    if model.source == "bundled" and card.is_file():
        return card.read_text(encoding="utf-8")
    cfg = model.config
    lines = ["---", "library_name: slicer-embed", "tags: [audio, embeddings, slicer]", "---", "",
             "# SLICER audio encoder", "",
             f"AudioNTT2020 encoder, {model.num_parameters():,} parameters, {cfg.architecture.embedding_dim}-d "
             f"embeddings every {model.frame_hop_seconds * 1000:.0f} ms; clip pooling `{cfg.inference.pooling}`.",
             f"Input: mono {cfg.frontend.sample_rate} Hz; log-mel {cfg.frontend.n_mels} bins "
             f"{cfg.frontend.f_min:g}-{cfg.frontend.f_max:g} Hz; normalisation mean {cfg.normalization.mean:.4f}, "
             f"std {cfg.normalization.std:.4f} ({cfg.normalization.source}).", "",
             "```python", "from slicer_embed import load", "model = load(\"THIS_REPO\")",
             "embedding = model.embed(wav, sample_rate)", "```", "", "## Provenance", ""]
    lines += [f"- {k}: {v}" for k, v in cfg.provenance.items()] or ["- (none recorded)"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from .. import load
    from ..hub import ModelNotFoundError, save_pretrained
    dtype = torch.float16 if args.dtype == "float16" else None
    card = args.model_card.read_text(encoding="utf-8") if args.model_card else None
    src = Path(args.src)
    fmt = args.fmt or ("onnx" if args.out.suffix.lower() == ".onnx" else "folder")
    if fmt == "onnx":
        return _main_onnx(args, src)
    try:
        if src.exists() and _is_training_run(src):
            from slicer_embed.training.infra.export import export_run  # lazy: training code only for runs
            out = export_run(src, args.out, dtype=dtype)
            if card is not None:
                (Path(out) / "README.md").write_text(card, encoding="utf-8")
        else:
            model = load(None if args.src == "default" else args.src, revision=args.revision, device="cpu")
            save_pretrained(model, args.out, model_card=card or model_card_for(model), dtype=dtype)
            out = args.out
    except (ModelNotFoundError, ValueError, OSError) as e:
        print(f"slicer-embed export: {e}", file=sys.stderr)
        return 2
    print(f"exported {args.src} -> {out}", file=sys.stderr)
    return 0


def _main_onnx(args: argparse.Namespace, src: Path) -> int:
    from .. import load
    from ..hub import ModelNotFoundError
    if args.dtype != "float32" or args.model_card is not None:
        print("slicer-embed export: --dtype and --model-card apply to folder exports, not --format onnx",
              file=sys.stderr)
        return 2
    try:
        from ..onnx_export import export_onnx, require_onnx
        require_onnx()  # fail before loading anything
        if src.exists() and _is_training_run(src):
            from slicer_embed.training.infra.export import export_run
            with tempfile.TemporaryDirectory() as tmp:
                model = load(export_run(src, Path(tmp) / "model", dtype=None), device="cpu")
        else:
            model = load(None if args.src == "default" else args.src, revision=args.revision, device="cpu")
        out = export_onnx(model, args.out)
    except (ModelNotFoundError, ValueError, OSError, ImportError, RuntimeError) as e:
        print(f"slicer-embed export: {e}", file=sys.stderr)
        return 2
    print(f"exported {args.src} -> {out} (ONNX: wave (batch, samples) -> frames (batch, frames, "
          f"{model.embedding_dim}))", file=sys.stderr)
    return 0


def _is_training_run(path: Path) -> bool:
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return False  # already a model folder
    try:
        from slicer_embed.training.infra.export import is_training_run
    except ImportError:
        return False
    return bool(is_training_run(path))
