"""The unlabelled pretraining corpus: ``OUT/manifest.csv`` + 16 kHz mono FLAC files.

Slices: real speech (game dialogue, IVR prompts, spoken words in ~25 languages), music (game
soundtracks, cut into 10 s chunks), sound effects and ambiences (chunked likewise) and synthetic
multilingual speech read by the *training* voices of the language task. Every real recording that a
mini-LAPE test split uses (full build) is left out, by source id and by content hash; recordings of
train/valid splits stay in (in-domain unlabelled data, as in SSL practice).

Manifest columns: ``file_name`` (relative to OUT), ``source`` (package/path, or ``tts:<voice>``),
``duration`` (s), ``sha1`` (16-bit PCM of the file), ``source_sha1`` (of the whole source file).
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

from slicer_embed.audio import resample

from .common import SR, decode, rng_for
from .hashing import source_hashes
from .manifest import Clip, render_all, write_csv
from .minilape import reserved_test_sources
from .sources import (HEDGEWARS, MUSIC_PACKAGES, SFX_PACKAGES, SPEECH_PACKAGES, TUXPAINT, Recording, files,
                      real_speech)
from .tasks import Context
from .tasks import language as lid
from .texts import sentences, text_packages
from .tools import require_tools
from .tts import ENGINE_PACKAGES

COLUMNS = ["file_name", "source", "duration", "sha1", "source_sha1"]
CHUNK, MIN_CHUNK = 10.0, 2.0   # seconds: long files are cut into 10 s pieces, tails under 2 s dropped
TTS_SENTENCES, TINY_TTS = 2000, 4
TINY_LIMITS = {"speech": 12, "music": 2, "sfx": 6}  # files per slice in a tiny build


def corpus_packages(tiny: bool) -> list[str]:
    return [HEDGEWARS] if tiny else list(dict.fromkeys(SPEECH_PACKAGES + MUSIC_PACKAGES + SFX_PACKAGES))


def classify(cache, packages: list[str]) -> dict[str, list[Recording]]:
    """Split the packages' audio into speech / music / sfx (by package layout and folder names)."""
    speech = real_speech(cache, [p for p in packages if p in SPEECH_PACKAGES])
    taken = {r.sid for r in speech}
    music, sfx = [], []
    for p in packages:
        for r in files(cache, p):
            if r.sid in taken or (p == TUXPAINT and "_desc_" in r.sid) or p.startswith("asterisk"):
                continue
            is_music = p in MUSIC_PACKAGES or "/music/" in r.sid.lower()
            (music if is_music else sfx).append(r)
    return {"speech": [r for r in speech if r.speaker or r.lang], "music": music, "sfx": sfx}


def load_segment(path: str, start: float, seconds: float) -> np.ndarray:
    """``seconds`` of ``path`` from ``start`` (s), mono float32 16 kHz."""
    info = sf.info(path)
    a = int(start * info.samplerate)
    x, rate = sf.read(path, start=a, stop=a + int(seconds * info.samplerate), dtype="float32", always_2d=True)
    return np.ascontiguousarray(resample(x.mean(axis=1), rate, SR), dtype=np.float32)


def load_whole(path: str) -> np.ndarray:
    return decode(path)


def chunks(r: Recording, slice_name: str) -> list[tuple[str, object]]:
    """(file name, make) pairs for one recording: one file, or 10 s chunks when longer than 15 s."""
    base, _, ext = r.sid.rpartition(".")
    # Keep the source extension in the name: a package may ship "x.wav" beside "x.ogg".
    stem = f"{slice_name}/{base}_{ext}" if base else f"{slice_name}/{r.sid}"
    dur = sf.info(str(r.path)).duration
    if dur <= 1.5 * CHUNK:
        return [(f"{stem}.flac", partial(load_whole, str(r.path)))]
    n = int((dur - MIN_CHUNK) // CHUNK) + 1
    return [(f"{stem}-c{i:03d}.flac", partial(load_segment, str(r.path), i * CHUNK, CHUNK)) for i in range(n)]


def make_tts(voice, text: str | tuple[str, ...], seed: int, key: str) -> np.ndarray:
    return lid.make_tts(voice, text, seed, key)


def tts_clips(ctx: Context) -> list[tuple[Clip, str]]:
    """Sentences read by the language task's training voices only (never its valid/test voices)."""
    voices = sorted((v for v, s in lid.voices(False).items() if s == "train"), key=lambda v: v.key)
    n = TINY_TTS if ctx.tiny else TTS_SENTENCES
    root = str(ctx.cache.root)
    out = []
    for i in range(n):
        rng = rng_for(ctx.seed, "corpus-tts", i)
        v = voices[int(rng.integers(len(voices)))]
        pool = sentences(root, v.lang)
        key = f"{i:05d}"
        name = f"tts/{v.lang}/{key}-{v.key.replace(':', '_').replace('+', '_')}.flac"
        out.append((Clip(name, partial(make_tts, v, lid.fallbacks(pool, int(rng.integers(len(pool)))), ctx.seed, key)),
                    f"tts:{v.key}"))
    return out


def plan(ctx: Context) -> tuple[list[Clip], list[str], dict[str, str]]:
    """(clips, source id per clip, {source id: sha1}) with every test-split recording removed."""
    pkgs = corpus_packages(ctx.tiny)
    ctx.cache.fetch(pkgs + text_packages(list(lid.LANGS)))
    reserved = reserved_test_sources(ctx, available=set(pkgs))
    slices = classify(ctx.cache, pkgs)
    cand = {k: [r for r in v if r.sid not in reserved] for k, v in slices.items()}
    if ctx.tiny:
        cand = {k: v[: TINY_LIMITS[k]] for k, v in cand.items()}
    hashes = source_hashes(ctx.cache, sorted({r.sid for v in cand.values() for r in v} | reserved), ctx.jobs)
    banned = {hashes[s] for s in reserved}  # the same audio under another name is left out too
    clips, srcs = [], []
    seen: set[str] = set()
    for kind, recs in cand.items():
        for r in recs:
            if hashes[r.sid] in banned or r.sid in seen:
                continue
            seen.add(r.sid)
            for name, make in chunks(r, kind):
                clips.append(Clip(name, make))
                srcs.append(r.sid)
    for clip, src in tts_clips(ctx):
        clips.append(clip)
        srcs.append(src)
    return clips, srcs, hashes


def attach_sources(rows: list[dict[str, str]], clips: list[Clip], srcs: list[str],
                   hashes: dict[str, str]) -> list[dict[str, str]]:
    """Add ``source`` and ``source_sha1`` to the rows ``render_all`` returned for ``clips``.

    Matched by file name, not position: ``render_all`` leaves failed clips out of its rows, and a
    positional match would shift every later row onto the wrong source (and its hash)."""
    src_of = {c.file_name: s for c, s in zip(clips, srcs, strict=True)}
    for r in rows:
        s = src_of[r["file_name"]]
        r["source"], r["source_sha1"] = s, hashes.get(s, "")
    return rows


def build(out: Path, ctx: Context) -> None:
    require_tools("espeak-ng", "flite", "text2wave")
    t0 = time.time()
    clips, srcs, hashes = plan(ctx)
    rows = attach_sources(render_all(out, clips, ctx.jobs, "corpus", chunksize=16), clips, srcs, hashes)
    write_csv(out / "manifest.csv", rows, COLUMNS)
    pkgs = corpus_packages(ctx.tiny) + text_packages(list(lid.LANGS))
    ctx.cache.copy_licences(pkgs, out)
    ctx.cache.copy_system_licences([p for ps in ENGINE_PACKAGES.values() for p in ps], out)
    hours = sum(float(r["duration"]) for r in rows) / 3600
    print(f"corpus: {len(rows)} files, {hours:.2f} h in {time.time() - t0:.0f} s -> {out}", file=sys.stderr)
