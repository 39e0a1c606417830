"""pitch: pitch class (12 classes) of single rendered notes, soundfont-disjoint.

The mini-LAPE pitch probe's note list (``tasks.pitch.notes``: every MIDI pitch 36-95, six GM programs
per pitch drawn from the families whose range holds it, velocity 100), rendered with the benchmark
soundfonts: train GeneralUser GS, valid the csound GM bank, test TimGM6mb. Clips are 2 s.
"""

from __future__ import annotations

from functools import partial

from ..manifest import Clip
from ..midi import rendered_note
from ..tasks import Context
from ..tasks.pitch import notes, pitch_class
from .fonts import fonts, packages, playable  # noqa: F401  (packages: the task's packages)

NAME = "pitch"


def plan(ctx: Context) -> list[Clip]:
    seq = tuple(notes(ctx.tiny, ctx.seed))
    clips = []
    for f in fonts(ctx):
        for i, n in enumerate(seq):
            if playable(f, n):
                clips.append(Clip(f"audio/{f.name}/n{n.pitch:03d}-p{n.program:03d}.wav",
                                  partial(rendered_note, f.path, seq, i), pitch_class(n.pitch), f.split,
                                  f"soundfont:{f.name}", (f.sid,)))
    return clips


def chunk_size(ctx: Context) -> int:
    return len(notes(ctx.tiny, ctx.seed))
