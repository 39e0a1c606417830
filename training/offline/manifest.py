"""Clip specs, the resumable parallel writer, and manifest files (CSV, written atomically).

A builder describes every output as a :class:`Clip` whose ``make`` is a picklable zero-argument
callable returning 16 kHz float32 audio. :func:`render_all` writes the clips that do not exist yet
(in a process pool, with a tqdm bar on stderr) and returns one manifest row per clip, with the
content hash and duration read back from the file, so a resumed build yields the same manifest.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import soundfile as sf
from tqdm import tqdm

from .common import SR, pcm_sha1, to_int16, write_audio, write_text
from .tools import ToolMissingError

TASK_COLUMNS = ["file_name", "label", "split", "group", "duration", "sha1"]
SOURCE_COLUMNS = ["split", "source", "sha1"]


@dataclass(frozen=True)
class Clip:
    """One output file. ``sources`` are ``package/relative/path`` ids of the real recordings used."""

    file_name: str            # relative to the task (or corpus) folder
    make: Callable[[], np.ndarray]
    label: str = ""
    split: str = ""
    group: str = ""
    sources: tuple[str, ...] = field(default=())


def _render_one(args: tuple[Path, Clip]) -> dict[str, str] | str:
    """Write one clip (unless it exists); return its manifest row, or the failure reason as a string."""
    out, clip = args
    path = out / clip.file_name
    if path.exists():  # resume: files are written atomically, so an existing one is complete
        x, _ = sf.read(str(path), dtype="int16")
        x = x.astype(np.float32) / 32768
    else:
        try:
            x = np.asarray(clip.make(), dtype=np.float32)
        except ToolMissingError:
            raise  # not one bad clip but every clip: stop with the install hint (exit 2)
        except (RuntimeError, ValueError, OSError, sf.LibsndfileError) as e:
            # A synthesiser that chokes on one sentence, or one unreadable packaged file, must not
            # stop a 20-minute build: the clip is left out and reported.
            return f"{clip.file_name}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
            return f"{clip.file_name}: generator returned bad audio, shape {x.shape}"
        if not np.any(to_int16(x)):
            # e.g. a soundfont preset with no sample at that key: a labelled file of pure zeros.
            return f"{clip.file_name}: generator returned silence (every sample rounds to 0)"
        write_audio(path, x)
    return {"file_name": clip.file_name, "label": clip.label, "split": clip.split, "group": clip.group,
            "duration": f"{len(x) / SR:.3f}", "sha1": pcm_sha1(x)}


def render_all(out: Path, clips: list[Clip], jobs: int, desc: str, chunksize: int = 8) -> list[dict[str, str]]:
    """Write missing clips under ``out``; return manifest rows in ``clips`` order.

    A clip whose generator fails is left out of the rows; the reasons are printed and written to
    ``out/failures.txt`` (removed again when a later build has none). ``chunksize`` consecutive
    clips go to one worker (builders that render in batches rely on it)."""
    names = [c.file_name for c in clips]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{desc}: duplicate file names in the build plan, e.g. {dup!r}")
    work = [(out, c) for c in clips]
    bar = dict(total=len(work), desc=desc, unit="clip", mininterval=1.0, dynamic_ncols=True)
    if jobs <= 1:
        results = [_render_one(w) for w in tqdm(work, **bar)]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(tqdm(pool.map(_render_one, work, chunksize=chunksize), **bar))
    failures = [r for r in results if isinstance(r, str)]
    report = out / "failures.txt"
    if failures:
        out.mkdir(parents=True, exist_ok=True)
        write_text(report, "\n".join(failures) + "\n")
        print(f"{desc}: {len(failures)} of {len(results)} clips could not be made and are left out "
              f"(see {report}); first: {failures[0]}", file=sys.stderr)
    elif report.exists():
        report.unlink()
    return [r for r in results if not isinstance(r, str)]


def write_csv(path: Path, rows: Iterable[dict[str, str]], columns: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def group_violations(rows: list[dict[str, str]]) -> dict[str, set[str]]:
    """Groups that occur in more than one split (must be empty for a valid task manifest)."""
    splits: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        splits[r["group"]].add(r["split"])
    return {g: s for g, s in splits.items() if len(s) > 1}


def check_task_rows(rows: list[dict[str, str]], where: str) -> None:
    """Raise ValueError if a group crosses splits or a split name is outside train/valid/test*."""
    bad = group_violations(rows)
    if bad:
        g, s = next(iter(bad.items()))
        raise ValueError(f"{where}: {len(bad)} group(s) cross splits, e.g. {g!r} in {sorted(s)}")
    odd = {r["split"] for r in rows} - {"train", "valid"}
    if any(not s.startswith("test") for s in odd):
        raise ValueError(f"{where}: unexpected split names {sorted(odd)}")


def source_rows(clips: list[Clip], hashes: dict[str, str]) -> list[dict[str, str]]:
    """One row per (split, real source file), with the source's 16 kHz PCM hash."""
    seen = sorted({(c.split, s) for c in clips for s in c.sources})
    return [{"split": sp, "source": s, "sha1": hashes[s]} for sp, s in seen]
