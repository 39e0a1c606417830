"""SPK: speaker identity from real voices (a VoxCeleb/LibriSpeech stand-in), utterance-disjoint.

Each identity is one real voice (a Hedgewars pack, a Fish Fillets actor, an Asterisk prompt voice,
a Tux Paint or KTuberling reader). Every identity has its own recording chain, which a log-mel mean
alone exploits (0.86 in the offline-data probe); a random channel per clip (band-pass, tilt, noise;
seeded by the file) forces the model to use the voice. Utterances are split by *text* for Hedgewars
(the same line is in one split for every pack) and by file elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

from ..augment import random_channel
from ..common import SR, decode, peak_normalise, rng_for, split_of, stable_int
from ..manifest import Clip
from ..sources import ASTERISK, FILLETS, HEDGEWARS, TUXPAINT, Recording, real_speech
from . import Context

NAME = "speaker"
FULL_PACKAGES = [HEDGEWARS, *FILLETS, *ASTERISK, TUXPAINT, "ktuberling-data"]
PER_SPLIT = {"train": 20, "valid": 5, "test": 10}
TINY_PER_SPLIT = {"train": 4, "valid": 2, "test": 2}
FRACTIONS = (0.15, 0.3)  # (valid, test) share of utterances
MIN_CLIPS = 36           # identities with fewer recordings are dropped
MAX_SECONDS = 4.0


def packages(ctx: Context) -> list[str]:
    return [HEDGEWARS] if ctx.tiny else FULL_PACKAGES


def utterance_key(r: Recording) -> str:
    return Path(r.sid).stem if r.sid.startswith(HEDGEWARS) else r.sid


def load_clip(path: Path, seed: int, sid: str) -> np.ndarray:
    x = decode(path)[: int(MAX_SECONDS * SR)]
    return peak_normalise(random_channel(peak_normalise(x), rng_for(seed, "channel", sid)))


def plan(ctx: Context) -> list[Clip]:
    by_speaker: dict[str, list[Recording]] = defaultdict(list)
    for r in real_speech(ctx.cache, packages(ctx)):
        if r.speaker:
            by_speaker[r.speaker].append(r)
    caps = TINY_PER_SPLIT if ctx.tiny else PER_SPLIT
    clips = []
    for spk in sorted(by_speaker):
        recs = by_speaker[spk]
        if len(recs) < MIN_CLIPS or (ctx.tiny and len(clips) >= 4 * sum(caps.values())):
            continue
        order = rng_for(ctx.seed, NAME, spk).permutation(len(recs))
        taken: dict[str, int] = defaultdict(int)
        for i in order:
            r = recs[i]
            split = split_of(utterance_key(r), ctx.seed, FRACTIONS)
            if taken[split] >= caps[split]:
                continue
            taken[split] += 1
            name = spk.replace(":", "_")
            # Stems repeat inside one identity (asterisk digits/1 and letters/1; Allison's en and es).
            clips.append(Clip(f"audio/{name}/{Path(r.sid).stem}-{stable_int(r.sid):08x}.wav", partial(load_clip, r.path, ctx.seed, r.sid),
                              spk, split, f"utt:{r.sid}", (r.sid,)))
    return clips
