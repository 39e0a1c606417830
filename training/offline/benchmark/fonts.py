"""The benchmark's soundfonts (``allocation.BENCHMARK_SOUNDFONTS``): GeneralUser GS trains, the csound
GM bank validates, TimGM6mb tests. None of them (nor a derivative) renders corpus audio."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..allocation import BENCHMARK_SOUNDFONTS
from ..manifest import Clip
from ..midi import Note, rendered_note, soundfont_presets
from ..tasks import Context


@dataclass(frozen=True)
class Font:
    package: str
    path: str   # on disk, inside the unpacked package
    split: str
    name: str   # file stem, e.g. "GeneralUser-v1.47"

    @property
    def sid(self) -> str:
        """Source id, ``<package>/<path inside the package>`` (as for real recordings)."""
        return f"{self.package}/{BENCHMARK_SOUNDFONTS[self.package][0]}"


def packages(ctx: Context) -> list[str]:
    return list(BENCHMARK_SOUNDFONTS)


def fonts(ctx: Context) -> list[Font]:
    return [Font(pkg, str(ctx.cache.tree(pkg) / rel), split, Path(rel).stem)
            for pkg, (rel, split) in BENCHMARK_SOUNDFONTS.items()]


def playable(font: Font, note: Note) -> bool:
    """Whether ``font`` defines the note's preset (bank 128 on channel 9, else bank 0)."""
    return ((128 if note.channel == 9 else 0), note.program) in soundfont_presets(font.path)


def font_clips(ctx: Context, seq: list[tuple[str, Note]], file_name, make=None) -> list[Clip]:
    """One clip per (soundfont, note of ``seq``) the font can play: label = the note's class, split and
    group = the font's. ``file_name(label, index, note)`` names the file inside ``audio/<font>/``;
    ``make(font path, notes, index)`` renders it (default: the note as ``midi.rendered_note`` gives it).
    Every font renders the same ``seq`` in one fluidsynth run per worker (``chunk_size`` = len(seq))."""
    make = make or rendered_note
    notes = tuple(n for _, n in seq)
    return [Clip(f"audio/{f.name}/{file_name(label, i, n)}.wav", partial(make, f.path, notes, i), label, f.split,
                 f"soundfont:{f.name}", (f.sid,))
            for f in fonts(ctx) for i, (label, n) in enumerate(seq) if playable(f, n)]
