"""chord: triad quality of a rendered chord (5 classes: major, minor, diminished, augmented, sus4).

Root-position triads on a random root (MIDI 48-71) with a random keyboard, organ, guitar, string
or brass program and velocity (70-115), the same chord list for every soundfont; split by soundfont:
train GeneralUser GS, valid the csound GM bank, test TimGM6mb. Clips are 2 s (1.5 s held). The label
is the interval pattern alone: roots, registers and timbres are spread evenly over the classes.
"""

from __future__ import annotations


from ..common import rng_for
from ..manifest import Clip
from ..midi import Note
from ..tasks import Context
from .fonts import font_clips, packages  # noqa: F401  (packages: the task's packages)

NAME = "chord"
QUALITIES = {"major": (4, 7), "minor": (3, 7), "diminished": (3, 6), "augmented": (4, 8), "sus4": (5, 7)}
PROGRAMS = (0, 1, 2, 4, 5, 16, 17, 18, 19, 24, 25, 26, 27, 48, 49, 50, 61, 62)
PER_QUALITY, TINY_PER_QUALITY = 60, 2
LOWEST, HIGHEST = 48, 71


def notes(tiny: bool, seed: int = 0) -> list[tuple[str, Note]]:
    """(quality, chord), identical for every soundfont; chord ``i`` of a quality is drawn from a
    generator seeded by (seed, quality, i), so the tiny list is a subset of the full one."""
    out = []
    for q, intervals in QUALITIES.items():
        for i in range(TINY_PER_QUALITY if tiny else PER_QUALITY):
            rng = rng_for(seed, NAME, q, i)
            root = int(rng.integers(LOWEST, HIGHEST + 1))
            out.append((q, Note(int(rng.choice(PROGRAMS)), root, int(rng.integers(70, 116)), intervals=intervals)))
    return out


def plan(ctx: Context) -> list[Clip]:
    return font_clips(ctx, notes(ctx.tiny, ctx.seed), lambda q, i, n: f"{q}-{i:03d}-r{n.pitch:03d}-p{n.program:03d}")

def chunk_size(ctx: Context) -> int:
    return len(notes(ctx.tiny, ctx.seed))
