"""NSynth-11: instrument family of single rendered notes, soundfont-disjoint.

fluidsynth renders every (General MIDI program, pitch, velocity) note with each soundfont; the label
is the GM family (11 families, each with its own pitch range). Train on FluidR3 + MuseScore,
select on FluidR3Mono (derived from FluidR3: an optimistic valid split), test on TimGM6mb + the
csound GM bank. Clips are 2 s (1.5 s held, then release).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ..manifest import Clip
from ..midi import Note, rendered_note
from . import Context

NAME = "instrument"
FAMILIES = {  # family: (GM programs, lowest pitch, highest pitch)
    "keyboard": (range(0, 8), 36, 96), "mallet": (range(8, 16), 48, 96), "organ": (range(16, 24), 36, 84),
    "guitar": (range(24, 32), 40, 84), "bass": (range(32, 40), 28, 60),
    "string": ((40, 41, 42, 43, 44, 45, 48, 49), 36, 96), "vocal": ((52, 53, 54), 48, 79),
    "brass": (range(56, 64), 40, 84), "reed": (range(64, 72), 48, 88), "flute": (range(72, 80), 60, 96),
    "synth_lead": (range(80, 88), 36, 96),
}
SOUNDFONTS = {  # package: (path inside the package, split)
    "fluid-soundfont-gm": ("usr/share/sounds/sf2/FluidR3_GM.sf2", "train"),
    "musescore-general-soundfont-small": ("usr/share/sounds/sf3/MuseScore_General_Lite.sf3", "train"),
    "fluidr3mono-gm-soundfont": ("usr/share/fluidr3mono-gm-soundfont/FluidR3Mono_GM.sf3", "valid"),
    "timgm6mb-soundfont": ("usr/share/sounds/sf2/TimGM6mb.sf2", "test"),
    "csound-soundfont": ("usr/share/sounds/sf2/sf_GMbank.sf2", "test"),
}
TINY_SOUNDFONTS = ("fluidr3mono-gm-soundfont", "csound-soundfont", "timgm6mb-soundfont")
TINY_SPLIT = {"fluidr3mono-gm-soundfont": "train", "csound-soundfont": "valid", "timgm6mb-soundfont": "test"}
PITCHES, VELOCITIES = 4, (70, 110)


def packages(ctx: Context) -> list[str]:
    return list(TINY_SOUNDFONTS if ctx.tiny else SOUNDFONTS)


def notes(tiny: bool) -> list[tuple[str, Note]]:
    """(family, note) list, identical for every soundfont."""
    out = []
    for fam, (programs, lo, hi) in FAMILIES.items():
        progs = list(programs)[:1] if tiny else list(programs)
        pitches = np.linspace(lo, hi, 2 if tiny else PITCHES).round().astype(int)
        vels = VELOCITIES[-1:] if tiny else VELOCITIES
        out += [(fam, Note(p, int(k), v)) for p in progs for k in pitches for v in vels]
    return out


def plan(ctx: Context) -> list[Clip]:
    seq = notes(ctx.tiny)
    just_notes = tuple(n for _, n in seq)
    clips = []
    for pkg in packages(ctx):
        rel, split = SOUNDFONTS[pkg]
        split = TINY_SPLIT[pkg] if ctx.tiny else split
        sf = str(ctx.cache.tree(pkg) / rel)
        font = Path(rel).stem
        for i, (fam, n) in enumerate(seq):
            clips.append(Clip(f"audio/{font}/{fam}-p{n.program:03d}-n{n.pitch:03d}-v{n.velocity:03d}.wav",
                              partial(rendered_note, sf, just_notes, i), fam, split, f"soundfont:{font}"))
    return clips


def chunk_size(ctx: Context) -> int:
    """Clips per soundfont: pass to render_all so each worker renders a font once."""
    return len(notes(ctx.tiny))
