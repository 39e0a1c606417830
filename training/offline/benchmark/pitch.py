"""pitch: pitch class (12 classes) of single rendered notes, soundfont-disjoint.

The mini-LAPE pitch probe's note list (``tasks.pitch.notes``: every MIDI pitch 36-95, six GM programs
per pitch drawn from the families whose range holds it, velocity 100), rendered with the benchmark
soundfonts: train GeneralUser GS, valid the csound GM bank, test TimGM6mb. Clips are 2 s.
"""

from __future__ import annotations


from ..manifest import Clip
from ..tasks import Context
from ..tasks.pitch import notes, pitch_class
from .fonts import font_clips, packages  # noqa: F401  (packages: the task's packages)

NAME = "pitch"


def plan(ctx: Context) -> list[Clip]:
    seq = [(pitch_class(n.pitch), n) for n in notes(ctx.tiny, ctx.seed)]
    return font_clips(ctx, seq, lambda _, i, n: f"n{n.pitch:03d}-p{n.program:03d}")

def chunk_size(ctx: Context) -> int:
    return len(notes(ctx.tiny, ctx.seed))
