"""drums: percussive one-shots, 5 classes (kick, snare, hihat, tom, cymbal).

Two kinds of material:

- General MIDI percussion (channel 10) rendered with the benchmark soundfonts: each class's GM drum
  keys (``GM_KEYS``) on 7 kits (standard, room, power, electronic, TR-808, jazz, brush), velocities
  spread over 40-127, ``PER_CLASS_KIT`` clips per (class, kit);
- real one-shot samples of ``sonic-pi-samples`` and ``lmms-common``, labelled by file name
  (``LABEL_PATTERNS``, checked by hand against every file name of both packages), ``TAKES`` clips per
  sample with a small speed change (0.93-1.07) and gain.

Split by soundfont / package, so that every split has every class: train GeneralUser GS + lmms,
valid the csound GM bank, test TimGM6mb + Sonic Pi. Clips are at most 1.5 s from the onset.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np

from slicer_embed.audio import resample

from ..common import SR, decode, peak_normalise, rng_for
from ..manifest import Clip
from ..midi import Note, rendered_note
from .readable import readable_files as files
from ..tasks import Context
from ..tts import trim_silence
from .fonts import font_clips
from .fonts import packages as font_packages

NAME = "drums"
SECONDS = 1.5
GM_KEYS = {"kick": (35, 36), "snare": (38, 40), "hihat": (42, 44, 46), "tom": (41, 43, 45, 47, 48, 50),
           "cymbal": (49, 51, 52, 55, 57, 59)}
KITS = (0, 8, 16, 24, 25, 32, 40)
PER_CLASS_KIT, TINY_PER_CLASS_KIT = 9, 1
# File-name stem patterns (lower case, matched at the start). Sonic Pi's drum_cymbal_closed / _open /
# _pedal are hi-hats; rims, claps, side sticks, rolls, shakers and cowbells are left out.
LABEL_PATTERNS = {
    "kick": r"^(bd_|bassdrum|kick|drum_bass_|drum_heavy_kick|elec_hollow_kick|elec_soft_kick)",
    "snare": r"^(sn_|snare(?!_rim)|drum_snare_|elec_(hi|mid|lo|filt)?_?snare|nasty_snare)",
    "hihat": r"^(hihat|drum_cymbal_(closed|open|pedal))",
    "tom": r"^(tom|drum_tom_|elec_fuzz_tom)",
    "cymbal": r"^(crash|ride|drum_splash_|drum_cymbal_(hard|soft)|elec_cymbal)",
}
SAMPLES = {  # package -> (folder inside it, split)
    "lmms-common": ("usr/share/lmms/samples/drums", "train"),
    "sonic-pi-samples": ("usr/share/sonic-pi/samples", "test"),
}
TAKES, TINY_SAMPLES = 3, 2  # the tiny build keeps 2 samples per class and package, one take each


def packages(ctx: Context) -> list[str]:
    return [*font_packages(ctx), *SAMPLES]


def label_of(stem: str) -> str | None:
    """Class of a sample from its file-name stem, or None (not one of the 5 classes)."""
    hits = [c for c, pat in LABEL_PATTERNS.items() if re.match(pat, stem.lower())]
    if len(hits) > 1:
        raise ValueError(f"drum sample {stem!r} matches several classes: {hits}")
    return hits[0] if hits else None


def gm_notes(tiny: bool) -> list[tuple[str, Note]]:
    """(class, note on channel 9), identical for every soundfont: for each (class, kit) the class's
    keys in turn, with velocities evenly spread over 40-127."""
    out = []
    n = TINY_PER_CLASS_KIT if tiny else PER_CLASS_KIT
    for cls, keys in GM_KEYS.items():
        for kit in KITS[:1] if tiny else KITS:
            vels = np.linspace(40, 127, n).round().astype(int) if n > 1 else [100]
            out += [(cls, Note(kit, keys[j % len(keys)], int(vels[j]), channel=9)) for j in range(n)]
    return out


def rendered(font: str, seq: tuple[Note, ...], index: int) -> np.ndarray:
    return rendered_note(font, seq, index)[: int(SECONDS * SR)]


def sample_clip(path: Path, seed: int, key: str) -> np.ndarray:
    rng = rng_for(seed, NAME, key)
    x = trim_silence(decode(path), threshold_db=-50.0)
    speed = float(rng.uniform(0.93, 1.07))
    x = resample(x, int(round(SR * speed)), SR)[: int(SECONDS * SR)]
    return peak_normalise(x.astype(np.float32), float(rng.uniform(-12, -1)))


def plan(ctx: Context) -> list[Clip]:
    clips = font_clips(ctx, gm_notes(ctx.tiny), lambda c, i, n: f"{c}-k{n.program:03d}-n{n.pitch:03d}-v{n.velocity:03d}",
                       rendered)
    for pkg, (folder, split) in SAMPLES.items():
        taken: dict[str, int] = {}
        for r in files(ctx.cache, pkg, folder):
            cls = label_of(Path(r.sid).stem)
            if cls is None or (ctx.tiny and taken.get(cls, 0) >= TINY_SAMPLES):
                continue
            taken[cls] = taken.get(cls, 0) + 1
            for t in range(1 if ctx.tiny else TAKES):
                key = f"{pkg}-{Path(r.sid).stem}-{t}"
                clips.append(Clip(f"audio/{pkg}/{cls}/{Path(r.sid).stem}-{t}.wav",
                                  partial(sample_clip, r.path, ctx.seed, key), cls, split, f"package:{pkg}", (r.sid,)))
    return clips


def chunk_size(ctx: Context) -> int:
    return len(gm_notes(ctx.tiny))
