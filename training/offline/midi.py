"""Render single notes with fluidsynth: a tiny type-0 MIDI writer, one render per soundfont, slicing.

One note per ``slot`` seconds (held ``hold`` s, then release). Rendering a whole sequence in one
fluidsynth call is ~100x faster than one process per note. Reverb and chorus are off so each clip
holds only its own note, and rendering to float avoids fluidsynth's random dither (determinism).
"""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from .common import SR, peak_normalise
from .tools import run

TICKS = 480          # ticks per quarter note; tempo 1 s per quarter -> 480 ticks per second
US_PER_QUARTER = 1_000_000


@dataclass(frozen=True)
class Note:
    """One note, or a chord: ``pitch`` plus ``intervals`` (semitones above it) sounded together.

    ``channel`` 9 is General MIDI percussion: ``program`` then picks the drum kit (bank 128) and
    ``pitch`` the drum (36 kick, 38 snare, 42 closed hi-hat, ...)."""

    program: int   # General MIDI program 0-127 (on channel 9: the drum kit)
    pitch: int     # MIDI note number
    velocity: int  # 1-127
    channel: int = 0                 # 0-15
    intervals: tuple[int, ...] = ()  # further notes of a chord, in semitones above ``pitch``

    @property
    def pitches(self) -> tuple[int, ...]:
        return (self.pitch, *(self.pitch + i for i in self.intervals))


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: list[Note], slot: float, hold: float) -> bytes:
    """Type-0 MIDI: for each note a program change, note-on(s), note-off(s) after ``hold`` s, rest to
    ``slot``, on the note's channel."""
    ev = bytearray(b"\x00\xff\x51\x03" + US_PER_QUARTER.to_bytes(3, "big"))
    gap = 0
    for n in notes:
        if not 0 <= n.channel < 16:
            raise ValueError(f"MIDI channel {n.channel} outside 0-15")
        ev += _varlen(gap) + bytes([0xC0 | n.channel, n.program])
        for k in n.pitches:
            ev += _varlen(0) + bytes([0x90 | n.channel, k, n.velocity])
        for j, k in enumerate(n.pitches):
            ev += _varlen(int(hold * TICKS) if j == 0 else 0) + bytes([0x80 | n.channel, k, 0])
        gap = int((slot - hold) * TICKS)
    ev += _varlen(gap) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
    return header + b"MTrk" + struct.pack(">I", len(ev)) + bytes(ev)


def render_notes(soundfont: Path, notes: list[Note], slot: float = 2.0, hold: float = 1.5) -> list[np.ndarray]:
    """Render ``notes`` with ``soundfont``; return one float32 16 kHz mono clip of ``slot`` s per note."""
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "notes.mid", Path(tmp) / "out.wav"
        mid.write_bytes(midi_bytes(notes, slot, hold))
        run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SR),
             "-T", "wav", "-O", "float", "-F", str(wav), str(soundfont), str(mid)], timeout=600)
        x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if sr != SR:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, expected {SR} ({soundfont})")
    x = x.mean(axis=1)
    n = int(slot * SR)
    x = np.pad(x, (0, max(0, n * len(notes) - len(x))))
    return [np.ascontiguousarray(x[i * n:(i + 1) * n]) for i in range(len(notes))]


@lru_cache(maxsize=1)
def _render_cached(soundfont: str, seq: tuple[Note, ...]) -> list[np.ndarray]:
    return render_notes(Path(soundfont), list(seq))


def rendered_note(soundfont: str, seq: tuple[Note, ...], index: int) -> np.ndarray:
    """Note ``index`` of ``seq`` rendered with ``soundfont``, peak-normalised. The whole sequence is
    rendered by one fluidsynth run per soundfont and worker (builders keep a font in one chunk)."""
    return peak_normalise(_render_cached(soundfont, seq)[index])


@lru_cache(maxsize=16)
def soundfont_presets(soundfont: str) -> frozenset[tuple[int, int]]:
    """The (bank, program) pairs a SoundFont 2/3 file defines, read from its ``pdta/phdr`` chunk
    (drum kits are bank 128). Lets a builder skip notes a font cannot play instead of rendering
    fluidsynth's fallback preset under a wrong label."""
    with open(soundfont, "rb") as f:
        riff, _size, form = struct.unpack("<4sI4s", f.read(12))
        if riff != b"RIFF" or form != b"sfbk":
            raise ValueError(f"{soundfont}: not a SoundFont (RIFF sfbk) file")
        while True:
            head = f.read(12)
            if len(head) < 8:
                raise ValueError(f"{soundfont}: no pdta chunk")
            cid, size = struct.unpack("<4sI", head[:8])
            if cid == b"LIST" and head[8:12] == b"pdta":
                pdta = f.read(size - 4)
                break
            f.seek(size + (size & 1) - 4, 1)
    i = 0
    while i + 8 <= len(pdta):
        cid, size = struct.unpack("<4sI", pdta[i:i + 8])
        if cid == b"phdr":
            recs = pdta[i + 8:i + 8 + size]
            # 38-byte records: name (20), preset, bank, bag index (H each), 3 x I; the last is the terminator.
            return frozenset(struct.unpack("<HH", recs[j + 20:j + 24])[::-1] for j in range(0, len(recs) - 38, 38))
        i += 8 + size + (size & 1)
    raise ValueError(f"{soundfont}: no phdr chunk")
