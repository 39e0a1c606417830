"""LID-6: spoken language identity (a VoxForge stand-in): train on synthetic voices, test twice.

Classes en, es, fr, de, ru, it. ``train``/``valid``/``test`` hold sentences read by disjoint sets of
synthetic voices (espeak-ng variants, flite, festival). ``test_real`` holds real recordings (words,
letters, stamp names and IVR prompts from KTuberling, KLettres, Tux Paint, Asterisk), all band-limited
to 4 kHz so the 8 kHz telephone sources do not stand out. Real-speech training would be confounded
(each real source is one speaker in one language), hence sim-to-real.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

from slicer_embed.audio import resample

from ..common import SR, decode, peak_normalise, rng_for
from ..manifest import Clip
from ..sources import ASTERISK, TUXPAINT, real_speech
from ..texts import sentences, text_packages
from ..tts import Voice, espeak_voices, synthesize
from . import Context

NAME = "language"
LANGS = ("en", "es", "fr", "de", "ru", "it")
ESPEAK = {"en": "en-us", "es": "es", "fr": "fr", "de": "de", "ru": "ru", "it": "it"}
VARIANT_SPLIT = {"m1": "train", "m2": "train", "m3": "train", "f1": "train", "f2": "train", "klatt": "train",
                 "Andy": "train", "m4": "valid", "f3": "valid", "m7": "test", "f5": "test", "klatt3": "test"}
OTHER = {Voice("flite", "awb", "en"): "train", Voice("flite", "rms", "en"): "train",
         Voice("festival", "kal_diphone", "en"): "train", Voice("flite", "kal16", "en"): "valid",
         Voice("flite", "slt", "en"): "test", Voice("festival", "cmu_us_slt_arctic_hts", "en"): "test",
         Voice("festival", "lp_diphone", "it"): "train", Voice("festival", "pc_diphone", "it"): "test",
         Voice("festival", "msu_ru_nsh_clunits", "ru"): "test"}
REAL_PACKAGES = ["ktuberling-data", "klettres-data", TUXPAINT, *ASTERISK]
SENTENCES, TINY_SENTENCES = 30, 2
REAL_CAP, TINY_REAL_CAP = 30, 2  # clips per (language, real source)
MAX_SECONDS = 4.0


def packages(ctx: Context) -> list[str]:
    return text_packages(list(LANGS)) + ([TUXPAINT] if ctx.tiny else REAL_PACKAGES)


def voices(tiny: bool) -> dict[Voice, str]:
    if tiny:
        return {v: s for lang in LANGS for v, s in zip(espeak_voices(ESPEAK[lang], lang, ["m1", "f3", "m7"]),
                                                       ("train", "valid", "test"))}
    out = {v: VARIANT_SPLIT[v.name.split("+")[1]] for lang in LANGS
           for v in espeak_voices(ESPEAK[lang], lang, list(VARIANT_SPLIT))}
    return {**out, **OTHER}


def make_tts(voice: Voice, text: str | tuple[str, ...], seed: int, key: str) -> np.ndarray:
    """Speak ``text``; given several texts, the first one the voice can say (some voices fail on
    some sentences, e.g. festival's Russian voice), so a clip never depends on one sentence."""
    rng = rng_for(seed, NAME, key)
    pitch, rate, speed = int(rng.integers(25, 76)), int(rng.integers(130, 190)), float(rng.uniform(0.92, 1.08))
    texts = (text,) if isinstance(text, str) else text
    for i, t in enumerate(texts):
        try:
            x = synthesize(voice, t, pitch=pitch, rate=rate, speed=speed)
            return peak_normalise(x[: int(MAX_SECONDS * SR)])
        except RuntimeError:
            if i == len(texts) - 1:
                raise
    raise ValueError("make_tts: no text given")


def fallbacks(pool: list[str], j: int, n: int = 3) -> tuple[str, ...]:
    """Sentence ``j`` of ``pool`` then the next ``n - 1`` (wrapping): the texts a clip may fall back on."""
    return tuple(pool[(j + k) % len(pool)] for k in range(min(n, len(pool))))


def make_real(path: Path) -> np.ndarray:
    x = decode(path)[: int(MAX_SECONDS * SR)]
    return peak_normalise(resample(resample(x, SR, 8000), 8000, SR))  # 4 kHz band limit


def plan(ctx: Context) -> list[Clip]:
    clips = []
    n_sent = TINY_SENTENCES if ctx.tiny else SENTENCES
    root = str(ctx.cache.root)
    for voice, split in voices(ctx.tiny).items():
        pool = sentences(root, voice.lang)
        rng = rng_for(ctx.seed, NAME, voice.key)
        vname = voice.key.replace(":", "_").replace("+", "_")
        for i, j in enumerate(rng.choice(len(pool), size=n_sent, replace=False)):
            key = f"{vname}-{i:03d}"
            clips.append(Clip(f"audio/tts/{voice.lang}/{key}.wav", partial(make_tts, voice, fallbacks(pool, j), ctx.seed, key),
                              voice.lang, split, f"voice:{voice.key}"))
    by_source = defaultdict(list)
    for r in real_speech(ctx.cache, packages(ctx)):
        if r.lang in LANGS:
            by_source[(r.lang, r.sid.split("/")[0])].append(r)
    cap = TINY_REAL_CAP if ctx.tiny else REAL_CAP
    for (lang, pkg), recs in sorted(by_source.items()):
        # The full build's pick, then the first `cap` of it: tiny test files are a subset of full ones.
        order = rng_for(ctx.seed, NAME, "real", lang, pkg).permutation(len(recs))[:REAL_CAP][:cap]
        for i in order:
            r = recs[i]
            clips.append(Clip(f"audio/real/{lang}/{pkg}-{i:05d}.wav", partial(make_real, r.path), lang,
                              "test_real", f"source:{pkg}:{lang}", (r.sid,)))
    return clips
