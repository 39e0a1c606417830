"""Pitch class of single rendered notes (12 classes), soundfont-disjoint: a probe, not a LAPE task.

Pretraining can train pitch away (a frequency stretch in the augmentations moves every partial), and
HEAR's NSynth-pitch task is why users care, so the evaluation carries a pitch probe next to the six
mini-LAPE tasks (it is reported apart and does not enter their mean). fluidsynth renders the same
note list with each soundfont: train FluidR3 + FluidR3Mono (one family: FluidR3Mono is derived from
FluidR3), valid MuseScore General Lite, test TimGM6mb + the csound GM bank; none of them is in the
pretraining corpus. Unlike the instrument task, valid is a soundfont of its own: with FluidR3Mono as
valid (the instrument task's choice) every model scored ~99%, so valid could not choose.

Every MIDI pitch from C2 (36) to B6 (95) is played by ``PROGRAMS_PER_PITCH`` General MIDI programs,
drawn (fixed seed) from the instrument families whose range holds that pitch, so the 12 classes are
balanced and each class spans five octaves and many timbres: the label is the pitch class alone.
Clips are 2 s (1.5 s held, then release), 16 kHz.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ..manifest import Clip
from ..midi import Note, rendered_note
from . import Context
from .instrument import FAMILIES, SOUNDFONTS, TINY_SOUNDFONTS, TINY_SPLIT

SPLIT = {"fluid-soundfont-gm": "train", "fluidr3mono-gm-soundfont": "train",
         "musescore-general-soundfont-small": "valid", "timgm6mb-soundfont": "test", "csound-soundfont": "test"}

NAME = "pitch"
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
LOWEST, HIGHEST = 36, 95          # five whole octaves, so every class has the same number of pitches
PROGRAMS_PER_PITCH, VELOCITY = 6, 100
TINY_PITCHES = (48, 50, 52, 53, 55, 57, 59, 60, 62, 64, 65, 67, 69, 71, 72, 74)  # two of most classes


def packages(ctx: Context) -> list[str]:
    return list(TINY_SOUNDFONTS if ctx.tiny else SOUNDFONTS)


def pitch_class(pitch: int) -> str:
    """MIDI note number -> its pitch-class name (60 -> "C")."""
    return PITCH_CLASSES[pitch % 12]


def eligible_programs(pitch: int) -> list[int]:
    """GM programs of every instrument family whose playing range holds ``pitch``, ascending."""
    return sorted(p for programs, lo, hi in FAMILIES.values() if lo <= pitch <= hi for p in programs)


def notes(tiny: bool, seed: int = 0) -> list[Note]:
    """The note list, identical for every soundfont. The programs of one pitch are drawn from a
    generator seeded by (seed, pitch), so the tiny list is a subset of the full one."""
    out = []
    for k in (TINY_PITCHES if tiny else range(LOWEST, HIGHEST + 1)):
        pool = eligible_programs(k)
        rng = np.random.default_rng([seed, k])
        chosen = sorted(int(p) for p in rng.choice(pool, size=min(PROGRAMS_PER_PITCH, len(pool)), replace=False))
        out += [Note(p, k, VELOCITY) for p in (chosen[:1] if tiny else chosen)]
    return out


def plan(ctx: Context) -> list[Clip]:
    seq = tuple(notes(ctx.tiny, ctx.seed))
    clips = []
    for pkg in packages(ctx):
        rel = SOUNDFONTS[pkg][0]
        split = TINY_SPLIT[pkg] if ctx.tiny else SPLIT[pkg]
        sf = str(ctx.cache.tree(pkg) / rel)
        font = Path(rel).stem
        for i, n in enumerate(seq):
            clips.append(Clip(f"audio/{font}/n{n.pitch:03d}-p{n.program:03d}.wav",
                              partial(rendered_note, sf, seq, i), pitch_class(n.pitch), split, f"soundfont:{font}"))
    return clips


def chunk_size(ctx: Context) -> int:
    """Clips per soundfont: pass to render_all so each worker renders a font once."""
    return len(notes(ctx.tiny, ctx.seed))
