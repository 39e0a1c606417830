"""``slicer-embed data``: build the offline pretraining corpus, the mini-LAPE tasks and the benchmark.

  slicer-embed data corpus OUT [--tiny] [--seed N] [--jobs N] [--cache DIR]
  slicer-embed data minilape OUT [--tiny] [--tasks kws speaker ...] [--seed N] [--jobs N] [--cache DIR]
  slicer-embed data mix MANIFEST [--domain-weights speech=1,music=1,env=1]   (hours and crops per domain)
  slicer-embed data benchmark OUT [--tiny] [--tasks kws pitch ...] [--seed N] [--jobs N] [--cache DIR]
  slicer-embed data install-tools          (apt-get install the synthesis tools; needs root)

Builds are deterministic for a given --seed and resumable (existing files are kept; manifests are
rewritten). Debian packages are cached in --cache (default: $SLICER_EMBED_DATA_CACHE or
~/.cache/slicer-embed/debs). Exit status: 0 ok, 1 build failed, 2 usage or missing tools.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from .allocation import ReservedSourceError
from .benchmark import NAMES as BENCHMARK_NAMES
from .debs import DebCache, DebFetchError
from .tasks import ALL_NAMES, Context
from .tools import ToolMissingError

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-audio-tools.sh"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path, help="output folder (created; existing files are reused)")
    p.add_argument("--tiny", action="store_true", help="a few clips per split, for tests and CI (< 1 min)")
    p.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    p.add_argument("--cache", type=Path, default=None, help="Debian package cache folder")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="slicer-embed data", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    _common(sub.add_parser("corpus", help="unlabelled pretraining corpus of speech, music and effects (~60 h, FLAC; docs/corpus.md)"))
    ml = sub.add_parser("minilape", help="the six mini-LAPE tasks and the pitch probe (WAV + manifest.csv per task)")
    _common(ml)
    ml.add_argument("--tasks", nargs="+", choices=ALL_NAMES, default=list(ALL_NAMES),
                    help="tasks to build (default: all; pitch is a probe reported apart from the six-task mean)")
    mix = sub.add_parser("mix", help="a corpus manifest's domain mix: hours, files, and the crops a training pass "
                                     "draws under --domain-weights")
    mix.add_argument("manifest", type=Path, help="a corpus manifest.csv (with a domain column)")
    mix.add_argument("--domain-weights", default="", help="as slicer-embed train's flag; default: one crop per file")
    bm = sub.add_parser("benchmark", help="the out-of-domain benchmark: 8 tasks from sources the corpus never "
                                          "reads (docs/benchmark.md)")
    _common(bm)
    bm.add_argument("--tasks", nargs="+", choices=BENCHMARK_NAMES, default=list(BENCHMARK_NAMES),
                    help="tasks to build (default: all)")
    sub.add_parser("install-tools", help="apt-get install sox, espeak-ng, flite, festival, fluidsynth")
    return ap


def print_mix(manifest: Path, weights_text: str) -> int:
    """Print hours, files and crops per pass by domain; 2 on a bad manifest or bad weights."""
    from ..infra.domains import domain_plan, parse_domain_weights
    from .manifest import read_csv

    try:
        rows = read_csv(manifest)
        if not rows or "domain" not in rows[0]:
            raise ValueError(f"{manifest}: no domain column (slicer-embed data corpus writes one)")
        weights = parse_domain_weights(weights_text) or {d: 0.0 for d in {r["domain"] for r in rows}}
        plan = domain_plan([r["domain"] for r in rows], weights) if any(weights.values()) else None
    except (OSError, ValueError, KeyError) as e:
        print(f"slicer-embed data mix: {e}", file=sys.stderr)
        return 2
    hours: dict[str, float] = {}
    files: dict[str, int] = {}
    for r in rows:
        hours[r["domain"]] = hours.get(r["domain"], 0.0) + float(r["duration"]) / 3600
        files[r["domain"]] = files.get(r["domain"], 0) + 1
    crops = plan.mix() if plan else {d: (n, n / len(rows)) for d, n in files.items()}
    total_h = sum(hours.values())
    print(f"{'domain':8s} {'hours':>8s} {'share':>6s} {'files':>7s} {'crops/pass':>10s} {'share':>6s}")
    for d in sorted(hours):
        c, share = crops.get(d, (0, 0.0))
        print(f"{d:8s} {hours[d]:8.2f} {100 * hours[d] / total_h:5.1f}% {files[d]:7d} {c:10d} {100 * share:5.1f}%")
    print(f"{'total':8s} {total_h:8.2f} {'':6s} {len(rows):7d} {sum(c for c, _ in crops.values()):10d}")
    return 0


def install_tools() -> int:
    if not SCRIPT.is_file():
        print(f"slicer-embed data: {SCRIPT} not found (it ships with the source checkout only)", file=sys.stderr)
        return 2
    return subprocess.run(["bash", str(SCRIPT)]).returncode


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "install-tools":
        return install_tools()
    if args.cmd == "mix":
        return print_mix(args.manifest, args.domain_weights)
    ctx = Context(DebCache(args.cache), seed=args.seed, tiny=args.tiny, jobs=max(1, args.jobs))
    try:
        if args.cmd == "corpus":
            from .corpus import build as build_corpus

            build_corpus(args.out, ctx)
        elif args.cmd == "benchmark":
            from .benchmark.build import build as build_benchmark

            build_benchmark(args.out, tuple(args.tasks), ctx)
        else:
            from .minilape import build as build_minilape

            build_minilape(args.out, tuple(args.tasks), ctx)
    except (ToolMissingError, ReservedSourceError) as e:
        print(f"slicer-embed data: {e}", file=sys.stderr)
        return 2
    except DebFetchError as e:
        print(f"slicer-embed data: cannot fetch Debian packages: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
