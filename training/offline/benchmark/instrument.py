"""instrument: General MIDI instrument family of a single rendered note (11 classes, NSynth-like).

The mini-LAPE families (``tasks.instrument.FAMILIES``): every GM program of a family x 3 pitches
across its range x 2 velocities, rendered by fluidsynth with each benchmark soundfont. Split by
soundfont: train GeneralUser GS, valid the csound GM bank, test TimGM6mb. Clips are 2 s.
"""

from __future__ import annotations


import numpy as np

from ..manifest import Clip
from ..midi import Note
from ..tasks import Context
from ..tasks.instrument import FAMILIES
from .fonts import font_clips, packages  # noqa: F401  (packages: the task's packages)

NAME = "instrument"
PITCHES, VELOCITIES = 3, (70, 110)


def notes(tiny: bool) -> list[tuple[str, Note]]:
    """(family, note), identical for every soundfont; the tiny list is a subset of the full one."""
    out = []
    for fam, (programs, lo, hi) in FAMILIES.items():
        progs = list(programs)[:1] if tiny else list(programs)
        pitches = np.linspace(lo, hi, PITCHES).round().astype(int)
        pitches = pitches[1:2] if tiny else pitches
        vels = VELOCITIES[-1:] if tiny else VELOCITIES
        out += [(fam, Note(p, int(k), v)) for p in progs for k in pitches for v in vels]
    return out


def plan(ctx: Context) -> list[Clip]:
    return font_clips(ctx, notes(ctx.tiny), lambda fam, i, n: f"{fam}-p{n.program:03d}-n{n.pitch:03d}-v{n.velocity:03d}")

def chunk_size(ctx: Context) -> int:
    """Clips per soundfont: each worker renders a font's note list once."""
    return len(notes(ctx.tiny))
