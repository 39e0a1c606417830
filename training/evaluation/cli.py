"""``slicer-embed eval``: linear evaluation of a frozen model on LAPE tasks and manifest folders.

    slicer-embed eval --model MODEL --tasks TASKS --out RES [--data-root DIR] [--seeds 3] [--protocol lape|evar]
    slicer-embed eval --compare RES1 RES2 ... --out DIR

MODEL: a model folder, a Hub id, ``logmel`` or ``random``. TASKS: comma list of LAPE task names
(with ``--data-root``) and/or folders holding ``manifest.csv``. Exit status: 0 ok, 1 some files
were skipped (undecodable/missing; listed in results.json), 2 usage, model or task errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from slicer_embed.config import POOLINGS

from .registry import LAPE_TASKS


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "slicer-embed" / "eval-embeddings"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="slicer-embed eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="LAPE tasks: " + ", ".join(LAPE_TASKS))
    p.add_argument("--model", help="model folder, Hub id, 'logmel' or 'random'")
    p.add_argument("--tasks", help="comma list of LAPE task names and/or manifest folders")
    p.add_argument("--out", required=True, type=Path, help="output folder (results.json, results.md, results.png)")
    p.add_argument("--compare", nargs="+", metavar="RES", help="combine result folders into one table + chart")
    p.add_argument("--data-root", type=Path, help="folder holding the official datasets (see docs/evaluation.md)")
    p.add_argument("--tasks-dir", type=Path, help="where converted LAPE manifests go (default DATA_ROOT/slicer_tasks)")
    p.add_argument("--rebuild-tasks", action="store_true", help="re-convert LAPE datasets even if manifests exist")
    p.add_argument("--protocol", choices=("lape", "evar"), default="lape",
                   help="lape: raw embeddings, <=100 epochs; evar: standardised, early stopping")
    p.add_argument("--seeds", type=int, default=3, help="probe seeds; results are mean ± std over them")
    p.add_argument("--seed-base", type=int, default=0, help="first probe seed (seeds are BASE..BASE+N-1)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of dataset splits and valid carving")
    p.add_argument("--random-seed", type=int, default=0, help="weights seed of the 'random' baseline")
    p.add_argument("--pooling", choices=POOLINGS, help="frame pooling (default: mean for lape, mean+max for evar)")
    p.add_argument("--crop", type=float, help="clip length in seconds for every task (default: per task)")
    p.add_argument("--valid-only", action="store_true",
                   help="score the valid split only, never a test split (for choosing between models)")
    p.add_argument("--max-epochs", type=int, help="override the protocol's epoch budget")
    p.add_argument("--cache-dir", type=Path, default=None, help=f"embedding cache (default {default_cache_dir()})")
    p.add_argument("--batch-size", type=int, default=32, help="clips per encoder forward pass")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    p.add_argument("--finetune", action="store_true",
                   help="basic end-to-end fine-tuning instead of the frozen probe (SLICER models only; "
                        "default 20 epochs, see docs/evaluation.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.compare:
        return _compare(args)
    if not args.model or not args.tasks:
        parser.print_usage(sys.stderr)
        print("slicer-embed eval: --model and --tasks are required (or use --compare)", file=sys.stderr)
        return 2
    if args.finetune and args.model == "logmel":
        print("slicer-embed eval: --finetune needs a SLICER model (a folder, a Hub id or 'random')", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print(f"slicer-embed eval: --seeds must be >= 1, got {args.seeds}", file=sys.stderr)
        return 2
    return _evaluate(args)


def _compare(args: argparse.Namespace) -> int:
    from .results import compare
    try:
        compare(args.compare, args.out)
    except (OSError, ValueError) as e:
        print(f"slicer-embed eval --compare: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.png'}")
    return 0


def _configure(args: argparse.Namespace) -> tuple[Any, Any]:
    """(protocol config, fine-tuning config or None) from the command line."""
    from .finetune import FinetuneConfig
    from .protocol import PROTOCOLS

    base = PROTOCOLS[args.protocol]
    probe = base.probe if args.max_epochs is None else dataclasses.replace(base.probe, max_epochs=args.max_epochs)
    protocol = dataclasses.replace(base, probe=probe, pooling=args.pooling or base.pooling,
                                   split_seed=args.split_seed, crop=args.crop, score_test=not args.valid_only)
    ft = None
    if args.finetune:
        ft = FinetuneConfig() if args.max_epochs is None else FinetuneConfig(max_epochs=args.max_epochs)
    return protocol, ft


def _header(args: argparse.Namespace, embedder: Any, protocol: Any, ft: Any, seeds: list[int]) -> dict[str, Any]:
    import torch

    import slicer_embed

    from .protocol import protocol_settings

    return {
        "model": {"name": embedder.name, "spec": args.model, "identity": embedder.identity,
                  "provenance": embedder.provenance},
        "protocol": protocol_settings(protocol),
        "finetune": dataclasses.asdict(ft) if ft else None,
        "seeds": seeds,
        "package_version": slicer_embed.__version__,
        "torch_version": torch.__version__,
        "device": args.device,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tasks": {},
        "failed_tasks": {},
    }


def _evaluate(args: argparse.Namespace) -> int:
    import slicer_embed

    from .embedders import load_embedder
    from .finetune import run_finetune_task
    from .manifest import TaskError
    from .protocol import run_task, task_crop
    from .registry import resolve_tasks
    from .results import write_run

    protocol, ft = _configure(args)
    seeds = list(range(args.seed_base, args.seed_base + args.seeds))
    try:
        embedder = load_embedder(args.model, pooling=protocol.pooling, device=args.device, seed=args.random_seed)
    except (slicer_embed.ModelNotFoundError, slicer_embed.WeightsError, ValueError, OSError) as e:
        # ValueError covers ConfigError and an unavailable --device
        print(f"slicer-embed eval: cannot load model {args.model!r}: {e}", file=sys.stderr)
        return 2
    try:
        tasks = resolve_tasks(args.tasks, args.data_root, args.tasks_dir, args.split_seed, args.rebuild_tasks)
    except (TaskError, OSError) as e:
        print(f"slicer-embed eval: {e}", file=sys.stderr)
        return 2
    cache_dir = args.cache_dir or default_cache_dir()
    payload = _header(args, embedder, protocol, ft, seeds)
    progress = not args.no_progress
    for task in tasks:
        try:
            if ft:
                result = run_finetune_task(embedder, task, task_crop(task, protocol), ft, seeds,
                                           protocol.valid_fraction, protocol.split_seed, progress)
            else:
                result = run_task(embedder, task, protocol, seeds, cache_dir, args.batch_size, progress).result
        except TaskError as e:
            print(f"slicer-embed eval: {e}", file=sys.stderr)
            payload["failed_tasks"][task.name] = str(e)
            continue
        payload["tasks"][task.name] = result
        va = result.get("valid_accuracy")
        scored = ({"valid": va} if va else {}) | result["accuracy"]
        accs = ", ".join(f"{s} {100 * a['mean']:.1f} ± {100 * a['std']:.1f}" for s, a in scored.items())
        print(f"{task.name}: {accs} (best epochs {result['best_epochs']})", file=sys.stderr)
    write_run(args.out, payload)
    print(f"wrote {args.out / 'results.json'}")
    if payload["failed_tasks"]:
        return 2
    return 1 if any(r["n_skipped"] for r in payload["tasks"].values()) else 0
