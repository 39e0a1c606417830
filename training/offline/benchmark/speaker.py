"""speaker: which of kajongg's 8 real voices says a mahjong tile or call name (closed-set ID).

kajongg ships 8 recorded voices (English male1/male2/female1/female2, German de/male1 ... de/female2),
each reading the same ~42 names (``b1`` ... ``s9``, ``pung``, ``kong``, ``mahjongg`` ...). Label =
voice. Split by *name*: a name is in one split for every voice (so the words alone never carry
over), ~60/20/20. Each recording gives ``TAKES`` clips, each through its own random recording chain
(band-pass, tilt, noise; ``augment.random_channel``) so that the chain does not decide the voice.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ..augment import random_channel
from ..common import decode, peak_normalise, rng_for
from ..manifest import Clip
from .readable import readable_files as files
from ..tasks import Context
from .splits import assign_groups

NAME = "speaker"
PACKAGE = "kajongg"
VOICES_DIR = "usr/share/kajongg/voices"
TAKES, TINY_NAMES = 2, 2  # the tiny build keeps 2 names per split, one take each


def packages(ctx: Context) -> list[str]:
    return [PACKAGE]


def voice_and_name(sid: str) -> tuple[str, str]:
    """``kajongg/usr/share/kajongg/voices/de/male1/b1.ogg`` -> (``de/male1``, ``b1``)."""
    rel = Path(sid.split(f"/{VOICES_DIR}/", 1)[1])
    return rel.parent.as_posix(), rel.stem


def load_clip(path: Path, seed: int, key: str) -> np.ndarray:
    return peak_normalise(random_channel(peak_normalise(decode(path)), rng_for(seed, NAME, "channel", key)))


def plan(ctx: Context) -> list[Clip]:
    recs = files(ctx.cache, PACKAGE, VOICES_DIR)
    names = sorted({voice_and_name(r.sid)[1] for r in recs})
    split_of = assign_groups(names, ctx.seed, NAME)
    if ctx.tiny:
        keep = {s: [n for n in names if split_of[n] == s][:TINY_NAMES] for s in ("train", "valid", "test")}
        names = sorted(n for ns in keep.values() for n in ns)
    takes = 1 if ctx.tiny else TAKES
    clips = []
    for r in recs:
        voice, name = voice_and_name(r.sid)
        if name not in names:
            continue
        for t in range(takes):
            key = f"{voice.replace('/', '_')}-{name}-{t}"
            clips.append(Clip(f"audio/{voice.replace('/', '_')}/{name}-{t}.wav",
                              partial(load_clip, r.path, ctx.seed, key), voice, split_of[name], f"name:{name}",
                              (r.sid,)))
    return clips
