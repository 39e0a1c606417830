"""``slicer-embed train``: SLICER self-supervised pretraining from a folder of audio or a CSV list.

    slicer-embed train --data DIR_OR_CSV --out RUN --preset {reference,default,smoke,cpu,cpu-byol} [--max-steps N]
                       [--resume] [--device auto|cpu|cuda] [--lr 1e-3 --batch-size 256 ...]

Every field of ``training.method.config.PretrainConfig`` is a ``--field-name VALUE`` override. Writes
``RUN/metrics.jsonl``, ``RUN/train.log``, ``RUN/checkpoints/step_*.pt`` and, at the end, ``RUN/model/``
(load it with ``slicer_embed.load("RUN/model")``). Under torchrun each process runs this same command.
Exit status: 0 done, 1 training diverged (NaN/Inf loss, checkpoint kept), 2 usage/data errors (including
an --out that holds another run without --resume/--overwrite, or one another ``train`` is writing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .method.config import PRESETS, PretrainConfig, add_config_arguments, config_from_args, overrides_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slicer-embed train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder of audio files (recursive) or a CSV list "
                        "(column 'files' as LAPE, or 'path'; relative paths are relative to the CSV)")
    parser.add_argument("--out", required=True, help="run folder (created; holds checkpoints, logs, model/)")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS),
                        help="reference = LAPE's values; default = recommended; smoke = seconds on a CPU")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its latest checkpoint, exactly")
    parser.add_argument("--overwrite", action="store_true",
                        help="--out holds an earlier run: delete its checkpoints, logs and model, then start over "
                             "(without --resume or --overwrite such a folder is refused)")
    parser.add_argument("--cache", default=None,
                        help="preprocessed-audio folder (16 kHz, memory-mapped): built from --data if missing, "
                             "then used instead of decoding files; worth it for compressed or long files")
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, ...")
    add_config_arguments(parser)
    return parser


def _config(args: argparse.Namespace) -> PretrainConfig:
    if not args.resume:
        return config_from_args(args.preset, args)
    saved = Path(args.out) / "train_config.json"
    if not saved.is_file():
        raise FileNotFoundError(f"--resume: {saved} not found; is {args.out} a training run?")
    base = PretrainConfig.from_dict(json.loads(saved.read_text(encoding="utf-8"))["config"])
    return base.replace(**overrides_from_args(args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .method.pretrain import TrainingDiverged, train  # torch-heavy imports after argument checking
    from .speed.allocator import keep_freed_memory

    keep_freed_memory()  # this process is the run: its heap is reused step after step (speed/allocator.py)
    try:
        cfg = _config(args)
        model_dir = train(cfg, args.data, args.out, preset=args.preset, resume=args.resume, device=args.device,
                          cache=args.cache, overwrite=args.overwrite)
    except TrainingDiverged as e:
        print(f"slicer-embed train: {e}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as e:
        print(f"slicer-embed train: {e}", file=sys.stderr)
        return 2
    print(f"done: model in {model_dir} (load with slicer_embed.load({str(model_dir)!r}))")
    return 0


if __name__ == "__main__":  # pragma: no cover  (torchrun -m slicer_embed.training.cli_train ...)
    sys.exit(main())
