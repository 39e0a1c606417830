"""Build the mini-LAPE tasks: ``OUT/<task>/{manifest.csv, sources.csv, audio/..., licences/}``.

``manifest.csv``: ``file_name`` (relative to the task folder), ``label``, ``split`` (train, valid,
test or test_*), ``group`` (the voice / speaker utterance / soundfont / pack / source file that never
crosses splits), ``duration`` (s) and ``sha1`` (of the 16-bit PCM). ``sources.csv``: every real
recording a split uses, with its content hash (the corpus builder excludes the test ones).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .hashing import source_hashes
from .manifest import SOURCE_COLUMNS, TASK_COLUMNS, Clip, check_task_rows, render_all, source_rows, write_csv
from .tasks import ALL_NAMES, Context, task_module
from .tts import ENGINE_PACKAGES
from .tools import require_tools
from .tasks.language import LANGS
from .texts import text_packages

TOOLS = {"kws": ("espeak-ng", "flite", "text2wave"), "language": ("espeak-ng", "flite", "text2wave"),
         "instrument": ("fluidsynth",), "pitch": ("fluidsynth",)}


def plan_task(name: str, ctx: Context) -> list[Clip]:
    mod = task_module(name)
    ctx.cache.fetch(mod.packages(ctx))
    return mod.plan(ctx)


def reserved_test_sources(ctx: Context, available: set[str] | None = None) -> set[str]:
    """Source ids of real recordings in any test split of the *full* build (for corpus exclusion).

    With ``available``, only those packages (plus text sources) are fetched: task plans pick each
    speaker's / source's / file's split independently of other packages, so the result is exactly
    the full build's test sources that lie in ``available``."""
    full = Context(ctx.cache, ctx.seed, tiny=False, jobs=ctx.jobs)
    out: set[str] = set()
    for name in ALL_NAMES:
        mod = task_module(name)
        need = mod.packages(full)
        if available is not None:
            need = [p for p in need if p in available or p in text_packages(list(LANGS))]
        ctx.cache.fetch(need)
        out |= {s for c in mod.plan(full) if c.split.startswith("test") for s in c.sources}
        out |= getattr(mod, "reserved_test_sources", lambda _ctx: set())(full)
    return out


def build_task(name: str, out: Path, ctx: Context) -> dict[str, int]:
    """Build one task into ``out/name``; return clip counts per split."""
    require_tools(*TOOLS.get(name, ()))
    mod = task_module(name)
    clips = plan_task(name, ctx)
    folder = out / name
    chunk = mod.chunk_size(ctx) if hasattr(mod, "chunk_size") else 8
    rows = render_all(folder, clips, ctx.jobs, f"{name}", chunksize=chunk)
    check_task_rows(rows, str(folder / "manifest.csv"))
    write_csv(folder / "manifest.csv", rows, TASK_COLUMNS)
    sids = sorted({s for c in clips for s in c.sources})
    write_csv(folder / "sources.csv", source_rows(clips, source_hashes(ctx.cache, sids, ctx.jobs)), SOURCE_COLUMNS)
    ctx.cache.copy_licences(mod.packages(ctx), folder)
    ctx.cache.copy_system_licences([p for e in ("espeak", "flite", "festival") for p in ENGINE_PACKAGES[e]]
                                   if name in ("kws", "language") else [], folder)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["split"]] = counts.get(r["split"], 0) + 1
    return counts


def build(out: Path, names: tuple[str, ...], ctx: Context) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        t0 = time.time()
        counts = build_task(name, out, ctx)
        print(f"{name}: {sum(counts.values())} clips {counts} in {time.time() - t0:.0f} s", file=sys.stderr)
