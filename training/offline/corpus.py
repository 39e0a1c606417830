"""The unlabelled pretraining corpus: ``OUT/manifest.csv`` + 16 kHz mono FLAC files, every kind of sound.

Domains (``speech`` incl. synthetic speech, ``music``, ``env`` = sound effects and ambiences), from
the packages that ``allocation.CORPUS_PACKAGES`` lists (never a reserved or benchmark package:
``allocation.refuse_reserved``):

- real speech: game dialogue, IVR prompts, spoken words and letters in ~25 languages;
- synthetic speech: sentences read by espeak-ng voices (the benchmark's engines, flite and festival,
  are never used here);
- music: game soundtracks, packaged MIDI scores rendered with the corpus soundfonts, and generated
  pieces (``renders.py``) rendered with them;
- env: game sound effects and ambiences, desktop sounds, noise textures.

Long files are cut into 10 s pieces. Every real recording that a mini-LAPE test split uses is left
out, by source id and by content hash (mini-LAPE stays the in-domain view).

Manifest columns: ``file_name`` (relative to OUT), ``source`` (``package/path``; ``tts:<voice>``;
``render:<soundfont package>:<MIDI package/path>`` or ``render:<soundfont package>:piece<N>``),
``domain`` (speech | music | env), ``duration`` (s), ``sha1`` (16-bit PCM of the file),
``source_sha1`` (of the whole real source file; empty for synthesised audio).
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

from slicer_embed.audio import resample

from .allocation import (CORPUS_MIDI, CORPUS_PACKAGES, CORPUS_SOUNDFONTS, DOMAINS,
                         refuse_reserved)
from .common import SR, decode, rng_for
from .hashing import source_hashes
from .manifest import Clip, render_all, write_csv
from .minilape import reserved_test_sources
from .renders import BATCH, midi_audio, midi_seconds, piece_audio, piece_length
from .sources import HEDGEWARS, SPEECH_PACKAGES, Recording, files, real_speech
from .tasks import Context
from .tasks import language as lid
from .texts import sentences, text_packages
from .tools import require_tools
from .tts import ENGINE_PACKAGES

COLUMNS = ["file_name", "source", "domain", "duration", "sha1", "source_sha1"]
CHUNK, MIN_CHUNK = 10.0, 2.0   # seconds: long files are cut into 10 s pieces, tails under 2 s dropped
TTS_SENTENCES, TINY_TTS = 4000, 4
PIECES, TINY_PIECES = 2400, 8  # generated pieces (8-30 s each), spread over the corpus soundfonts
MIDI_FONTS = 2                 # soundfonts each packaged MIDI score is rendered with
TINY_LIMITS = {"speech": 12, "music": 2, "env": 6}  # files per domain in a tiny build
TINY_PACKAGES = (HEDGEWARS,)
TINY_FONT = "fluidr3mono-gm-soundfont"
MUSIC_PATH = re.compile(r"/(music|musics|mus|songs?|soundtracks?|tracks|themes)/|music", re.I)
SPEECH_PATH = re.compile(r"qabcs/abcs/[a-z_]+/sounds/(alpha|words)/|/gcin-voice/", re.I)


def corpus_sources(tiny: bool) -> list[str]:
    """Packages of real audio read by this build."""
    return list(TINY_PACKAGES) if tiny else sorted(CORPUS_PACKAGES)


def domain_of(r: Recording, package: str, seconds: float) -> str:
    """Domain of a file that is not one of the labelled real-speech recordings: speech for the word
    recordings of qabcs and gcin, music by folder or file name, else long files of a music package
    are music and the rest is env (game effects, ambiences)."""
    if SPEECH_PATH.search("/" + r.sid):
        return "speech"
    if MUSIC_PATH.search(r.sid.split("/", 1)[1]):
        return "music"
    fallback = CORPUS_PACKAGES.get(package, "env")
    if fallback == "music":
        return "music" if seconds >= 30.0 else "env"
    return "env" if fallback == "speech" else fallback


def duration(path: Path) -> float:
    """Seconds of audio in ``path``; 0 when libsndfile cannot read it (e.g. a Theora video in .ogg)."""
    try:
        return float(sf.info(str(path)).duration)
    except (sf.LibsndfileError, RuntimeError, OSError):
        return 0.0


def classify(cache, packages: list[str]) -> dict[str, list[Recording]]:
    """Split the packages' audio into speech / music / env (labelled speech first, then by path)."""
    refuse_reserved(packages, purpose="corpus")
    labelled = real_speech(cache, [p for p in packages if p in SPEECH_PACKAGES])
    taken = {r.sid for r in labelled}
    out: dict[str, list[Recording]] = {"speech": [r for r in labelled if r.speaker or r.lang], "music": [], "env": []}
    for p in packages:
        for r in files(cache, p):
            if r.sid in taken or "_desc" in Path(r.sid).name or p.startswith("asterisk-core") \
                    or p.startswith("asterisk-prompt"):
                continue  # unlabelled leftovers of the labelled speech packages stay out, as before
            seconds = duration(r.path)
            if seconds < 0.05:
                continue  # unreadable, or too short to crop
            out[domain_of(r, p, seconds)].append(r)
    return out


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


def tts_voices() -> list:
    """The corpus's synthetic voices: the espeak-ng training voices of the mini-LAPE language task
    (never its valid/test voices, never flite or festival, which the benchmark uses)."""
    return sorted((v for v, s in lid.voices(False).items() if s == "train" and v.engine == "espeak"),
                  key=lambda v: v.key)


def tts_clips(ctx: Context) -> list[tuple[Clip, str, str]]:
    """(clip, source, domain) for sentences read by ``tts_voices``."""
    voices = tts_voices()
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
                    f"tts:{v.key}", "speech"))
    return out


def font_path(cache, package: str) -> str:
    return str(cache.tree(package) / CORPUS_SOUNDFONTS[package])


def midi_clips(ctx: Context) -> list[tuple[Clip, str, str]]:
    """Packaged MIDI scores, each rendered with ``MIDI_FONTS`` corpus soundfonts and cut into 10 s pieces."""
    if ctx.tiny:
        return []
    fonts = sorted(CORPUS_SOUNDFONTS)
    out = []
    for pkg in CORPUS_MIDI:
        root = ctx.cache.tree(pkg)
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file()):
            sid = f"{pkg}/{path.relative_to(root).as_posix()}"
            try:
                seconds = midi_seconds(path)
            except (ValueError, IndexError, OSError):
                continue  # not a standard MIDI file (some packages ship RIFF or truncated ones)
            if not 1.0 <= seconds <= 1800:
                continue
            pick = rng_for(ctx.seed, "midi-fonts", sid).choice(len(fonts), size=MIDI_FONTS, replace=False)
            for f in sorted(fonts[int(k)] for k in pick):
                n = max(1, int((seconds - MIN_CHUNK) // CHUNK) + 1)
                for i in range(n):
                    name = f"music/render/{f}/{sid.rsplit('.', 1)[0]}-c{i:03d}.flac"
                    out.append((Clip(name, partial(midi_audio, font_path(ctx.cache, f), str(path), i * CHUNK, CHUNK)),
                                f"render:{f}:{sid}", "music"))
    return out


def piece_clips(ctx: Context) -> list[tuple[Clip, str, str]]:
    """Generated pieces (renders.py), one soundfont per batch of pieces, cut into 10 s pieces."""
    fonts = [TINY_FONT] if ctx.tiny else sorted(CORPUS_SOUNDFONTS)
    out = []
    for i in range(TINY_PIECES if ctx.tiny else PIECES):
        f = fonts[(i // BATCH) % len(fonts)]
        seconds = piece_length(ctx.seed, i)
        for k in range(max(1, int((seconds - MIN_CHUNK) // CHUNK) + 1)):
            name = f"music/pieces/{f}/piece{i:05d}-c{k:03d}.flac"
            out.append((Clip(name, partial(_piece_chunk, font_path(ctx.cache, f), ctx.seed, i, k)),
                        f"render:{f}:piece{i:05d}", "music"))
    return out


def _piece_chunk(soundfont: str, seed: int, index: int, k: int) -> np.ndarray:
    x = piece_audio(soundfont, seed, index)
    return x[int(k * CHUNK * SR): int((k + 1) * CHUNK * SR)]


def plan(ctx: Context) -> tuple[list[Clip], list[str], list[str], dict[str, str]]:
    """(clips, source per clip, domain per clip, {real source id: sha1}) with every mini-LAPE
    test-split recording removed."""
    pkgs = corpus_sources(ctx.tiny)
    fonts = [TINY_FONT] if ctx.tiny else sorted(CORPUS_SOUNDFONTS)
    midi = [] if ctx.tiny else list(CORPUS_MIDI)
    refuse_reserved(pkgs + fonts + midi, purpose="corpus")
    ctx.cache.fetch(pkgs + fonts + midi + text_packages(list(lid.LANGS)))
    reserved = reserved_test_sources(ctx, available=set(pkgs))
    slices = classify(ctx.cache, pkgs)
    cand = {k: [r for r in v if r.sid not in reserved] for k, v in slices.items()}
    if ctx.tiny:
        cand = {k: v[: TINY_LIMITS[k]] for k, v in cand.items()}
    hashes = source_hashes(ctx.cache, sorted({r.sid for v in cand.values() for r in v} | reserved), ctx.jobs)
    banned = {hashes[s] for s in reserved}  # the same audio under another name is left out too
    clips, srcs, doms = [], [], []
    seen_sid: set[str] = set()
    seen_audio: set[str] = set()
    for kind, recs in cand.items():
        for r in recs:
            h = hashes[r.sid]
            if h in banned or r.sid in seen_sid or h in seen_audio:
                continue  # games ship the same file under several names: keep one copy
            seen_sid.add(r.sid)
            seen_audio.add(h)
            for name, make in chunks(r, kind):
                clips.append(Clip(name, make))
                srcs.append(r.sid)
                doms.append(kind)
    for clip, src, dom in tts_clips(ctx) + midi_clips(ctx) + piece_clips(ctx):
        clips.append(clip)
        srcs.append(src)
        doms.append(dom)
    return clips, srcs, doms, hashes


def attach_sources(rows: list[dict[str, str]], clips: list[Clip], srcs: list[str],
                   hashes: dict[str, str], doms: list[str] | None = None) -> list[dict[str, str]]:
    """Add ``source``, ``domain`` and ``source_sha1`` to the rows ``render_all`` returned for ``clips``.

    Matched by file name, not position: ``render_all`` leaves failed clips out of its rows, and a
    positional match would shift every later row onto the wrong source (and its hash)."""
    src_of = {c.file_name: s for c, s in zip(clips, srcs, strict=True)}
    dom_of = {c.file_name: d for c, d in zip(clips, doms or [""] * len(clips), strict=True)}
    for r in rows:
        s = src_of[r["file_name"]]
        r["source"], r["source_sha1"], r["domain"] = s, hashes.get(s, ""), dom_of[r["file_name"]]
    return rows


def domain_mix(rows: list[dict[str, str]]) -> dict[str, tuple[int, float]]:
    """{domain: (files, hours)} of manifest rows."""
    files_, secs = Counter(), Counter()
    for r in rows:
        files_[r["domain"]] += 1
        secs[r["domain"]] += float(r["duration"])
    return {d: (files_[d], secs[d] / 3600) for d in DOMAINS if files_[d]}


def source_packages(rows: list[dict[str, str]]) -> set[str]:
    """Debian packages whose audio (or soundfont or MIDI score) a manifest's rows use."""
    out = set()
    for r in rows:
        s = r["source"]
        if s.startswith("render:"):
            _, font, rest = s.split(":", 2)
            out.add(font)
            if not rest.startswith("piece"):
                out.add(rest.split("/", 1)[0])
        elif not s.startswith("tts:"):
            out.add(s.split("/", 1)[0])
    return out


def build(out: Path, ctx: Context) -> None:
    require_tools("espeak-ng", "fluidsynth")
    t0 = time.time()
    clips, srcs, doms, hashes = plan(ctx)
    rows = attach_sources(render_all(out, clips, ctx.jobs, "corpus", chunksize=16), clips, srcs, hashes, doms)
    write_csv(out / "manifest.csv", rows, COLUMNS)
    pkgs = sorted(source_packages(rows)) + text_packages(list(lid.LANGS))
    ctx.cache.copy_licences(pkgs, out)
    ctx.cache.copy_system_licences(ENGINE_PACKAGES["espeak"], out)
    hours = sum(float(r["duration"]) for r in rows) / 3600
    print(f"corpus: {len(rows)} files, {hours:.2f} h from {len(source_packages(rows))} packages "
          f"in {time.time() - t0:.0f} s -> {out}", file=sys.stderr)
    for d, (n, h) in domain_mix(rows).items():
        print(f"  {d:6s} {n:6d} files ({100 * n / len(rows):4.1f} % of the crops of an unweighted pass), "
              f"{h:6.2f} h ({100 * h / hours:4.1f} %)", file=sys.stderr)
