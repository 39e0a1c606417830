"""broad: speech / music / environment (3 classes) in 4-5 s clips, from benchmark-only sources.

- speech: kajongg's 8 real voices (3-6 tile and call names of one voice in a row, 0.1-0.4 s apart)
  and English sentences (``fortunes-min``) read by the flite and festival voices, one after another;
- music: excerpts of the benchmark soundtracks (hyperrogue, Drascula) and of the games' music;
- environment: a scene of 2-3 effects of one game (its music left out) at random offsets and gains.

Every clip then goes through a random recording chain and the telephone band (:func:`telephone`).

Split by group, never crossing: a game or soundtrack package (its music and its effects together),
a kajongg voice, or a TTS speaker (the split the ``kws`` task gives that speaker). Per split, each
class gets ``PER_CLASS[split]`` clips, spread evenly over the groups of that split.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

from slicer_embed.audio import resample

from ..augment import random_channel
from ..common import SR, decode, peak_normalise, rng_for
from ..manifest import Clip
from ..sources import Recording
from .readable import readable_files as files
from ..tasks import Context
from ..texts import sentences
from ..tts import Voice, trim_silence
from . import kws
from .speech import SYSTEM_LICENCES, VOICES, require_voices, speaker_of, spoken

NAME = "broad"
PER_CLASS = {"train": 360, "valid": 120, "test": 120}
TINY_PER_CLASS = {"train": 4, "valid": 2, "test": 2}
MIN_S, MAX_S = 4.0, 5.0
TELEPHONE = butter(4, [300, 3400], btype="band", fs=SR, output="sos")
TTS_BATCH = 4  # sentences per festival run (clips of one batch are rendered by one worker when aligned)
KAJONGG, VOICES_DIR = "kajongg", "usr/share/kajongg/voices"
KAJONGG_SPLIT = {"male1": "train", "female1": "train", "de/male1": "train", "de/female2": "train",
                 "male2": "valid", "de/female1": "valid", "female2": "test", "de/male2": "test"}
# package -> (split, music folders inside it; None: a soundtrack package, all of it music)
PACKAGES = {
    "scorched3d-data": ("train", ["usr/share/games/scorched3d/data/globalmods/none/data/music"]),
    "btanks-data": ("train", ["usr/share/games/btanks/data/tunes"]),
    "torcs-data": ("train", ["usr/share/games/torcs/data/music"]),
    "starfighter-data": ("train", ["usr/share/starfighter/music"]),
    "bzflag-data": ("train", []), "netpanzer-data": ("train", []), "minetest-data": ("train", []),
    "micropolis-data": ("train", []),
    "hyperrogue-music": ("valid", ["usr/share/hyperrogue/music"]),
    "enigma-data": ("valid", ["usr/share/games/enigma/music"]),
    "searchandrescue-data": ("valid", ["usr/share/games/searchandrescue/music"]),
    "drascula-music": ("test", ["usr/share/scummvm/drascula/audio"]),
    "trackballs-data": ("test", ["usr/share/games/trackballs/music"]),
    "lugaru-data": ("test", ["usr/share/games/lugaru/Sounds/Music"]),
}
TINY_PACKAGES = ("btanks-data", "enigma-data", "trackballs-data")  # one of each split, music and effects
MUSIC_FILE = re.compile(r"/(music|tunes)/|/music\d", re.I)
system_licences = SYSTEM_LICENCES


def packages(ctx: Context) -> list[str]:
    games = TINY_PACKAGES if ctx.tiny else tuple(PACKAGES)
    return [KAJONGG, *games, "fortunes-min"]


def is_music(pkg: str, r: Recording) -> bool:
    rel = r.sid.split("/", 1)[1]
    return any(rel.startswith(m) for m in PACKAGES[pkg][1])


def length(rng: np.random.Generator) -> int:
    return int(rng.uniform(MIN_S, MAX_S) * SR)


def telephone(x: np.ndarray, seed: int, key: str) -> np.ndarray:
    """Every clip through its own recording chain (``augment.random_channel``: band-pass, tilt, noise
    at 5-25 dB SNR), then the telephone band (300-3400 Hz) and a random level (-12..-1 dB peak).
    Without it the task is saturated (the shipped model scored 99.7 on valid): the full-band
    spectrum of game audio, music masters and clean TTS tells the classes apart by recording alone."""
    rng = rng_for(seed, NAME, "channel", key)
    y = sosfilt(TELEPHONE, random_channel(peak_normalise(x), rng)).astype(np.float32)
    return peak_normalise(y, float(rng.uniform(-12, -1)))


def music_clip(path: str, seed: int, key: str) -> np.ndarray:
    """A 4-5 s excerpt at a random offset (only the excerpt is decoded)."""
    rng = rng_for(seed, NAME, key)
    info = sf.info(path)
    n = int(length(rng) / SR * info.samplerate)
    start = int(rng.integers(0, max(1, info.frames - n)))
    x, sr = sf.read(path, start=start, frames=n, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    x = resample(x, sr, SR) if sr != SR else x
    return telephone(np.ascontiguousarray(x, dtype=np.float32), seed, key)


def scene_clip(paths: tuple[str, ...], seed: int, key: str) -> np.ndarray:
    """Effects of one game at random offsets and gains (-12..0 dB) in a 4-5 s buffer."""
    rng = rng_for(seed, NAME, key)
    out = np.zeros(length(rng), dtype=np.float32)
    for p in paths:
        x = peak_normalise(trim_silence(decode(p), threshold_db=-45.0))[: len(out)]
        at = int(rng.integers(0, max(1, len(out) - len(x) // 2)))
        seg = x[: len(out) - at] * 10 ** (rng.uniform(-12, 0) / 20)
        out[at:at + len(seg)] += seg
    return telephone(out, seed, key)


def _fill(parts: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """``parts`` in turn (repeated as needed), 0.1-0.4 s apart, until ``n`` samples; shape (n,).
    Every clip of every class is 4-5 s long, so length cannot tell speech from the rest."""
    out, i = [], 0
    while sum(len(p) for p in out) < n:
        out += [parts[i % len(parts)], np.zeros(int(rng.uniform(0.1, 0.4) * SR), np.float32)]
        i += 1
    return np.concatenate(out)[:n]


def kajongg_clip(paths: tuple[str, ...], seed: int, key: str) -> np.ndarray:
    """Names said by one kajongg voice in a row, 4-5 s."""
    rng = rng_for(seed, NAME, key)
    n = length(rng)
    x = _fill([trim_silence(decode(p)) for p in paths], n, rng)
    return telephone(x, seed, key)


def tts_clip(voice: Voice, items: tuple[tuple[str, float], ...], index: int, seed: int, key: str) -> np.ndarray:
    """Sentence ``index`` of the batch, then the batch's next sentences, by one voice, 4-5 s."""
    rng = rng_for(seed, NAME, key)
    n, speed = length(rng), float(rng.uniform(0.93, 1.07))
    order = [(index + k) % len(items) for k in range(len(items))]
    x = _fill([trim_silence(spoken(voice, items, j, speed)) for j in order], n, rng)
    return telephone(x, seed, key)


def _spread(total: int, groups: list[str]) -> dict[str, int]:
    """``total`` clips over ``groups`` as evenly as possible (earlier groups get the remainder)."""
    return {g: total // len(groups) + (i < total % len(groups)) for i, g in enumerate(groups)} if groups else {}


def plan(ctx: Context) -> list[Clip]:
    per = TINY_PER_CLASS if ctx.tiny else PER_CLASS
    games = [p for p in PACKAGES if p in packages(ctx)]
    clips: list[Clip] = []
    for split in ("train", "valid", "test"):
        in_split = [p for p in games if PACKAGES[p][0] == split]
        music = {p: [r for r in files(ctx.cache, p) if is_music(p, r)] for p in in_split}
        music = {p: rs for p, rs in music.items() if rs}
        for pkg, n in _spread(per[split], sorted(music)).items():
            for i in range(n):
                r = music[pkg][i * len(music[pkg]) // n]  # tracks in turn, evenly
                key = f"music-{pkg}-{i:04d}"
                clips.append(Clip(f"audio/music/{pkg}/{i:04d}.wav", partial(music_clip, str(r.path), ctx.seed, key),
                                  "music", split, f"package:{pkg}", (r.sid,)))
        fx = {p: [r for r in files(ctx.cache, p) if not is_music(p, r) and not MUSIC_FILE.search(r.sid.split("/", 1)[1])]
              for p in in_split}
        fx = {p: rs for p, rs in fx.items() if rs}
        for pkg, n in _spread(per[split], sorted(fx)).items():
            for i in range(n):
                rng = rng_for(ctx.seed, NAME, "env", pkg, i)
                pick = [fx[pkg][int(j)] for j in rng.choice(len(fx[pkg]), size=min(len(fx[pkg]), int(rng.integers(2, 4))),
                                                             replace=False)]
                key = f"env-{pkg}-{i:04d}"
                clips.append(Clip(f"audio/env/{pkg}/{i:04d}.wav",
                                  partial(scene_clip, tuple(str(r.path) for r in pick), ctx.seed, key),
                                  "env", split, f"package:{pkg}", tuple(r.sid for r in pick)))
    clips += _speech(ctx, per)
    return clips


def _speech(ctx: Context, per: dict[str, int]) -> list[Clip]:
    """Half of each split's speech from kajongg voices, half from TTS speakers of that split."""
    by_voice: dict[str, list[Recording]] = {}
    for r in files(ctx.cache, KAJONGG, VOICES_DIR):
        by_voice.setdefault(Path(r.sid.split(f"/{VOICES_DIR}/", 1)[1]).parent.as_posix(), []).append(r)
    tts_split = {v: s for v, s in kws.voices(Context(ctx.cache, ctx.seed, tiny=False)).items()}
    tts_voices = [v for v in VOICES if v in tts_split]
    if ctx.tiny:  # the kws tiny voices: one per split, flite where possible
        tiny = kws.voices(ctx)
        tts_voices = [v for v in tts_voices if v in tiny]
    require_voices(tuple(tts_voices))
    texts = sentences(str(ctx.cache.root), "en")
    clips: list[Clip] = []
    for split in ("train", "valid", "test"):
        n_kaj, n_tts = per[split] - per[split] // 2, per[split] // 2
        kvoices = sorted(v for v, s in KAJONGG_SPLIT.items() if s == split and v in by_voice)
        if ctx.tiny:
            kvoices = kvoices[:1]
        for voice, n in _spread(n_kaj, kvoices).items():
            recs = by_voice[voice]
            for i in range(n):
                rng = rng_for(ctx.seed, NAME, "kajongg", voice, i)
                pick = [recs[int(j)] for j in rng.choice(len(recs), size=int(rng.integers(3, 7)), replace=False)]
                key = f"kajongg-{voice.replace('/', '_')}-{i:04d}"
                clips.append(Clip(f"audio/speech/{key}.wav",
                                  partial(kajongg_clip, tuple(str(r.path) for r in pick), ctx.seed, key),
                                  "speech", split, f"voice:kajongg:{voice}", tuple(r.sid for r in pick)))
        vs = [v for v in tts_voices if tts_split[v] == split]
        for voice, n in _spread(n_tts, vs).items():
            rng = rng_for(ctx.seed, NAME, "tts", voice.key)
            items = tuple((texts[int(j)], round(float(rng.uniform(0.85, 1.2)), 3))
                          for j in rng.choice(len(texts), size=n, replace=False))
            for i in range(n):
                key = f"tts-{voice.key.replace(':', '_')}-{i:04d}"
                batch = items[i - i % TTS_BATCH: i - i % TTS_BATCH + TTS_BATCH]  # one festival run per batch
                clips.append(Clip(f"audio/speech/{key}.wav",
                                  partial(tts_clip, voice, batch, i % TTS_BATCH, ctx.seed, key),
                                  "speech", split, f"speaker:{speaker_of(voice)}", (f"tts:{voice.key}",)))
    return clips


def chunk_size(ctx: Context) -> int:
    return TTS_BATCH
