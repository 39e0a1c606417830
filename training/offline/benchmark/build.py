"""Build the out-of-domain benchmark: ``OUT/<task>/{manifest.csv, sources.csv, audio/..., licences/}``.

The same layout as mini-LAPE (``..minilape``), so ``slicer-embed eval --tasks OUT/<task>,...`` reads
it unchanged. Before anything is fetched, each task's packages go through
``allocation.refuse_reserved`` and must be benchmark packages (or text for speech synthesis); after
planning, every source a clip uses is checked again (:func:`check_sources`): real recordings and
soundfonts from benchmark packages only, synthetic speech from flite and festival only.

``OUT/dev/<task>/manifest.csv`` is the development view: the same rows without the test split
(``file_name`` points into ``OUT/<task>``), for choosing between models without a single test file
being opened (``slicer-embed eval --valid-only`` still embeds test rows it does not score).

``sources.csv`` lists every source of each split: real recordings with their 16 kHz PCM SHA-1,
soundfonts (``<package>/<path>``) with the SHA-1 of the file, and TTS voices as ``tts:<engine>:<voice>``
(no hash).
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from ..allocation import (BENCHMARK_PACKAGES, BENCHMARK_TTS_ENGINES, ReservedSourceError,
                          corpus_packages, refuse_reserved)
from ..hashing import source_hashes
from ..manifest import SOURCE_COLUMNS, TASK_COLUMNS, Clip, check_task_rows, render_all, write_csv
from ..tasks import Context
from ..texts import FORTUNES, WORDLISTS
from ..tools import require_tools
from . import task_module

DEV = "dev"  # OUT/dev/<task>: the development view (no test rows)
TEXT_PACKAGES = frozenset({*FORTUNES.values(), *(p for p, _ in WORDLISTS.values())})
TOOLS = {"kws": ("flite", "festival"), "broad": ("flite", "festival"), "instrument": ("fluidsynth",),
         "pitch": ("fluidsynth",), "chord": ("fluidsynth",), "drums": ("fluidsynth",)}
CORPUS_ONLY = frozenset(corpus_packages())


def check_packages(packages: list[str], task: str) -> None:
    """Raise ReservedSourceError unless every package may feed the benchmark."""
    refuse_reserved(packages, purpose="benchmark")
    bad = sorted(set(packages) - BENCHMARK_PACKAGES - TEXT_PACKAGES)
    if bad:
        raise ReservedSourceError(f"benchmark task {task}: {', '.join(bad)} not in allocation.BENCHMARK_PACKAGES "
                                  f"(add it there first if it is neither reserved nor corpus audio)")


def check_sources(clips: list[Clip], task: str) -> None:
    """Raise ReservedSourceError if a clip uses a source outside the benchmark's allocation."""
    for c in clips:
        for s in c.sources:
            if s.startswith("tts:"):
                engine = s.split(":")[1]
                ok = engine in BENCHMARK_TTS_ENGINES
            else:
                pkg = s.split("/", 1)[0]
                ok = pkg in BENCHMARK_PACKAGES and pkg not in CORPUS_ONLY
            if not ok:
                raise ReservedSourceError(f"benchmark task {task}: {c.file_name} uses {s}, which is not benchmark audio")


def _file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def source_table(clips: list[Clip], ctx: Context) -> list[dict[str, str]]:
    """One row per (split, source): recordings with their PCM hash, soundfonts with their file hash."""
    pairs = sorted({(c.split, s) for c in clips for s in c.sources})
    sids = sorted({s for _, s in pairs})
    fonts = [s for s in sids if s.endswith((".sf2", ".sf3"))]
    audio = [s for s in sids if not s.startswith("tts:") and s not in fonts]
    hashes = source_hashes(ctx.cache, audio, ctx.jobs)
    hashes.update({s: _file_sha1(ctx.cache.root / "root" / s) for s in fonts})
    return [{"split": sp, "source": s, "sha1": hashes.get(s, "")} for sp, s in pairs]


def class_counts(rows: list[dict[str, str]]) -> str:
    """Per-split class counts as text lines (printed by the build, kept in the build log)."""
    per: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        per[r["split"]][r["label"]] += 1
    labels = sorted({r["label"] for r in rows})
    return "\n".join(f"  {sp:5s} {sum(per[sp].values()):5d}: " + " ".join(f"{lab}={per[sp][lab]}" for lab in labels)
                     for sp in ("train", "valid", "test") if sp in per)


def build_task(name: str, out: Path, ctx: Context) -> list[dict[str, str]]:
    """Build one task into ``out/name``; return its manifest rows."""
    mod = task_module(name)
    packages = mod.packages(ctx)
    check_packages(packages, name)
    require_tools(*TOOLS.get(name, ()))
    ctx.cache.fetch(packages)
    clips = mod.plan(ctx)
    check_sources(clips, name)
    folder = out / name
    chunk = mod.chunk_size(ctx) if hasattr(mod, "chunk_size") else 8
    rows = render_all(folder, clips, ctx.jobs, f"benchmark {name}", chunksize=chunk)
    check_task_rows(rows, str(folder / "manifest.csv"))
    write_csv(folder / "manifest.csv", rows, TASK_COLUMNS)
    made = {r["file_name"] for r in rows}
    write_csv(folder / "sources.csv", source_table([c for c in clips if c.file_name in made], ctx), SOURCE_COLUMNS)
    ctx.cache.copy_licences(packages, folder)
    ctx.cache.copy_system_licences(list(getattr(mod, "system_licences", ())), folder)
    write_dev_view(out, name, rows)
    return rows


def write_dev_view(out: Path, name: str, rows: list[dict[str, str]]) -> None:
    """``out/dev/<name>/manifest.csv``: the train and valid rows, paths relative to that folder."""
    dev = [{**r, "file_name": f"../../{name}/{r['file_name']}"} for r in rows if r["split"] in ("train", "valid")]
    write_csv(out / DEV / name / "manifest.csv", dev, TASK_COLUMNS)


def build(out: Path, names: tuple[str, ...], ctx: Context) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        t0 = time.time()
        rows = build_task(name, out, ctx)
        print(f"benchmark {name}: {len(rows)} clips in {time.time() - t0:.0f} s\n{class_counts(rows)}", file=sys.stderr)
