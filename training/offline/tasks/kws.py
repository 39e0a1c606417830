"""KWS-12: keyword spotting (a Speech Commands stand-in), voice-disjoint, with noise mixed in.

12 classes: 10 command words, ``_unknown_`` (20 other Speech Commands words) and ``_silence_``
(1 s of background only). Voices: espeak-ng English accents x variants, flite and festival. Test
holds out whole accents and whole engines (festival, three flite voices), valid one accent. Each
clip is 1 s: the word at a random 0-300 ms offset with random pitch/rate/speed, over a background
bed of the same split at 0-20 dB SNR.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..augment import coloured_noise, loop_to, mix_at_snr
from ..common import SR, decode_cached, fit_length, peak_normalise, rng_for
from ..manifest import Clip
from ..sources import SUPERTUX, WIDELANDS, files
from ..tts import Voice, espeak_voices, synthesize, trim_silence
from . import Context

NAME = "kws"
WORDS = "yes no up down left right on off stop go".split()
UNKNOWN = ("bed bird cat dog happy house marvin sheila tree wow "
           "zero one two three four five six seven eight nine").split()
VARIANTS = "m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4 f5 klatt klatt2 Andy croak".split()
ACCENT_SPLIT = {"en-us": "train", "en-gb": "train", "en-gb-x-gbclan": "train", "en-gb-x-rp": "train",
                "en-gb-x-gbcwmd": "train", "en-us-nyc": "valid", "en-gb-scotland": "test", "en-029": "test"}
OTHER_VOICES = {Voice("flite", "kal", "en"): "train", Voice("flite", "kal16", "en"): "valid",
                Voice("flite", "awb", "en"): "test", Voice("flite", "rms", "en"): "test",
                Voice("flite", "slt", "en"): "test", Voice("festival", "kal_diphone", "en"): "test",
                Voice("festival", "ked_diphone", "en"): "test",
                Voice("festival", "cmu_us_slt_arctic_hts", "en"): "test"}
BEDS = {"train": ["noise:white", "supertux2/sounds/rain.", "animals/crickets1"],
        "valid": ["noise:brown", "supertux2/sounds/lava."],
        "test": ["noise:pink", "supertux2/sounds/waterfall.", "animals/crickets2"]}
TAKES, TINY_TAKES = 4, 1


def packages(ctx: Context) -> list[str]:
    return [] if ctx.tiny else [SUPERTUX, WIDELANDS]


def voices(tiny: bool) -> dict[Voice, str]:
    if tiny:
        return {Voice("espeak", "en-us+m1", "en"): "train", Voice("espeak", "en-us+f2", "en"): "train",
                Voice("espeak", "en-us-nyc+m3", "en"): "valid", Voice("flite", "slt", "en"): "test"}
    out = {v: split for acc, split in ACCENT_SPLIT.items() for v in espeak_voices(acc, "en", VARIANTS)}
    return {**out, **OTHER_VOICES}


def bed_paths(ctx: Context) -> dict[str, list[tuple[str, str]]]:
    """(path, source id) of the beds per split: synthetic noise always, real beds when fetched."""
    real = [r for p in packages(ctx) for r in files(ctx.cache, p)]
    return {s: [(b, b) for b in keys if b.startswith("noise:")] + [(str(r.path), r.sid) for r in real
                                                                    for b in keys if b in r.sid]
            for s, keys in BEDS.items()}


def background(bed: str, n: int, rng: np.random.Generator) -> np.ndarray:
    return coloured_noise(n, bed[6:], rng) if bed.startswith("noise:") else loop_to(decode_cached(bed), n, rng)


def make_word(voice: Voice, word: str, bed: str, seed: int, key: str) -> np.ndarray:
    rng = rng_for(seed, NAME, key)
    pitch, rate, speed = int(rng.integers(25, 76)), int(rng.integers(120, 200)), float(rng.uniform(0.9, 1.1))
    x = trim_silence(synthesize(voice, word, pitch=pitch, rate=rate, speed=speed))
    x = fit_length(peak_normalise(x), SR, int(rng.integers(0, int(0.3 * SR))))
    return peak_normalise(mix_at_snr(x, background(bed, SR, rng), float(rng.uniform(0, 20))))


def make_silence(bed: str, seed: int, key: str) -> np.ndarray:
    rng = rng_for(seed, NAME, key)
    return (background(bed, SR, rng) * 10 ** (rng.uniform(-40, -10) / 20) / 3).astype(np.float32)


def plan(ctx: Context) -> list[Clip]:
    beds = bed_paths(ctx)
    takes = TINY_TAKES if ctx.tiny else TAKES
    clips, n_voices = [], {s: 0 for s in beds}
    for voice, split in voices(ctx.tiny).items():
        n_voices[split] += 1
        vname = voice.key.replace(":", "_").replace("+", "_")
        for t in range(takes):
            rng = rng_for(ctx.seed, NAME, voice.key, t)
            unknown = UNKNOWN[int(rng.integers(len(UNKNOWN)))]
            for word, label in [(w, w) for w in WORDS] + [(unknown, "_unknown_")]:
                key = f"{vname}-{word}-{t}"
                bed, bed_sid = beds[split][int(rng.integers(len(beds[split])))]
                srcs = () if bed.startswith("noise:") else (bed_sid,)
                clips.append(Clip(f"audio/{label}/{key}.wav", partial(make_word, voice, word, bed, ctx.seed, key),
                                  label, split, f"voice:{voice.key}", srcs))
    for split, n in n_voices.items():  # silence: as many clips as one word class has in the split
        for i in range(n * takes):
            bed, bed_sid = beds[split][i % len(beds[split])]
            key = f"silence-{split}-{i:04d}"
            srcs = () if bed.startswith("noise:") else (bed_sid,)
            clips.append(Clip(f"audio/_silence_/{key}.wav", partial(make_silence, bed, ctx.seed, key),
                              "_silence_", split, f"bed:{bed_sid}", srcs))
    return clips
