"""The benchmark's soundfonts (``allocation.BENCHMARK_SOUNDFONTS``): GeneralUser GS trains, the csound
GM bank validates, TimGM6mb tests. None of them (nor a derivative) renders corpus audio."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..allocation import BENCHMARK_SOUNDFONTS
from ..midi import Note, soundfont_presets
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
