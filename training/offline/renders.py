"""Music for the corpus rendered by fluidsynth: packaged MIDI scores and generated pieces.

Generated pieces give the corpus what game soundtracks lack: exact pitches over five octaves, every
General MIDI family, drums, tempo and key variety. A piece is 8 bars of a chord progression in a
random key and mode: a comp instrument holding or arpeggiating the chords, a bass line, a melody
walking the scale and, in most pieces, a drum groove (GM channel 10); a quarter of the pieces are a
solo melody over a wider range. Pieces are rendered in batches (one fluidsynth run per batch and
soundfont, ``BATCH`` pieces separated by ``GAP`` s of silence) and sliced back by their known times.
"""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from .common import SR, peak_normalise, rng_for
from .midi import _varlen
from .tools import run

TICKS = 480                 # ticks per quarter note at 60 bpm -> 480 ticks per second
BATCH, GAP = 8, 2.0         # pieces per fluidsynth run, seconds of silence between them
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = ((0, 4, 5, 3), (0, 3, 4, 0), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 5, 4))
COMP = (*range(0, 8), *range(16, 24), *range(24, 32), *range(48, 52), *range(88, 96), 40, 42, 61)
LEAD = tuple(p for p in range(0, 112) if not 32 <= p <= 39 and p not in (47, 55))  # no bass, no hits
BASS = tuple(range(32, 40))


@dataclass(frozen=True)
class Event:
    time: float   # seconds from the start of the piece
    data: bytes   # one MIDI channel message


def _note(events: list[Event], t: float, dur: float, ch: int, pitch: int, vel: int) -> None:
    if 0 <= pitch <= 127:
        events += [Event(t, bytes([0x90 | ch, pitch, vel])), Event(t + dur, bytes([0x80 | ch, pitch, 0]))]


def piece_events(seed: int, index: int) -> tuple[list[Event], float]:
    """(events, length in s) of generated piece ``index``; deterministic in (seed, index)."""
    rng = rng_for(seed, "piece", index)
    beat = 60.0 / float(rng.uniform(70, 160))
    root = int(rng.integers(0, 12))
    scale = MAJOR if rng.random() < 0.6 else MINOR
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    solo = rng.random() < 0.25
    ev: list[Event] = []
    lead = int(rng.choice(LEAD))
    ev.append(Event(0.0, bytes([0xC1, lead])))
    bars, span = 8, (24 if solo else 12)
    low = int(rng.integers(48, 72 - (span // 2)))
    degree = int(rng.integers(0, 7))
    t = 0.0
    end = bars * 4 * beat
    while t < end - 1e-6:  # melody: a random walk on the scale, 1/2, 1 or 2 beats per note
        dur = beat * float(rng.choice((0.5, 1.0, 1.0, 2.0)))
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 6 + 7 * (span // 12)))
        pitch = low + root % 12 + 12 * (degree // 7) + scale[degree % 7]
        _note(ev, t, min(dur, end - t) * 0.95, 1, pitch, int(rng.integers(70, 115)))
        t += dur
    if not solo:
        comp, bass = int(rng.choice(COMP)), int(rng.choice(BASS))
        ev += [Event(0.0, bytes([0xC0, comp])), Event(0.0, bytes([0xC2, bass]))]
        arpeggio = rng.random() < 0.5
        for bar in range(bars):
            d = prog[bar % len(prog)]
            chord = [48 + root + 12 * ((d + k) // 7) + scale[(d + k) % 7] for k in (0, 2, 4)]
            t0 = bar * 4 * beat
            if arpeggio:
                for k in range(8):
                    _note(ev, t0 + k * beat / 2, beat / 2 * 0.9, 0, chord[k % 3] + 12 * (k // 6), 70)
            else:
                for p in chord:
                    _note(ev, t0, 4 * beat * 0.95, 0, p, 65)
            for k in (0, 2):
                _note(ev, t0 + k * beat, beat * 1.8, 2, chord[0] - 12, 90)
        if rng.random() < 0.75:
            for bar in range(bars):
                t0 = bar * 4 * beat
                for k in range(8):
                    tk = t0 + k * beat / 2
                    _note(ev, tk, 0.1, 9, 42 if rng.random() < 0.85 else 46, 60)
                    if k in (0, 4) or (k == 5 and rng.random() < 0.3):
                        _note(ev, tk, 0.1, 9, 36, 100)
                    if k in (2, 6):
                        _note(ev, tk, 0.1, 9, 38 if rng.random() < 0.8 else 39, 95)
                if bar % 4 == 0:
                    _note(ev, t0, 0.1, 9, 49, 90)
    return ev, end + 1.0  # one second of release


def midi_file(events: list[Event]) -> bytes:
    """Type-0 MIDI at 60 bpm (480 ticks per second) of timed channel messages (note-offs first at a tie)."""
    order = sorted(events, key=lambda e: (round(e.time * TICKS), e.data[0] & 0xF0 != 0x80))
    body = bytearray(b"\x00\xff\x51\x03" + (1_000_000).to_bytes(3, "big"))
    last = 0
    for e in order:
        tick = round(e.time * TICKS)
        body += _varlen(tick - last) + e.data
        last = tick
    body += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS) + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def render(soundfont: str, midi: bytes | str, gain: float = 0.5) -> np.ndarray:
    """fluidsynth render of MIDI bytes (or a .mid path) with ``soundfont``: mono float32 at 16 kHz.

    Reverb and chorus stay off and the output is float, so a render is deterministic."""
    with tempfile.TemporaryDirectory() as tmp:
        mid = Path(midi) if isinstance(midi, str) else Path(tmp) / "in.mid"
        if not isinstance(midi, str):
            mid.write_bytes(midi)
        wav = Path(tmp) / "out.wav"
        run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", str(gain), "-r", str(SR), "-T", "wav",
             "-O", "float", "-F", str(wav), soundfont, str(mid)], timeout=900)
        x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if sr != SR:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz, expected {SR} ({soundfont})")
    return np.ascontiguousarray(x.mean(axis=1))


@lru_cache(maxsize=2)
def _render_batch(soundfont: str, seed: int, batch: int) -> tuple[np.ndarray, tuple[tuple[int, int], ...]]:
    """One fluidsynth run for pieces ``batch * BATCH ...``: (audio, (start, stop) samples per piece)."""
    events, spans, t = [], [], 0.0
    for i in range(batch * BATCH, (batch + 1) * BATCH):
        ev, length = piece_events(seed, i)
        events += [Event(e.time + t, e.data) for e in ev]
        spans.append((int(t * SR), int((t + length) * SR)))
        t += length + GAP
    x = render(soundfont, midi_file(events))
    x = np.pad(x, (0, max(0, spans[-1][1] - len(x))))
    return x, tuple(spans)


def piece_audio(soundfont: str, seed: int, index: int) -> np.ndarray:
    """Generated piece ``index`` rendered with ``soundfont``, peak-normalised (16 kHz mono)."""
    x, spans = _render_batch(soundfont, seed, index // BATCH)
    a, b = spans[index % BATCH]
    return peak_normalise(x[a:b])


def piece_length(seed: int, index: int) -> float:
    return piece_events(seed, index)[1]


def midi_audio(soundfont: str, midi_path: str, start: float, seconds: float) -> np.ndarray:
    """``seconds`` of a packaged MIDI file rendered with ``soundfont``, from ``start`` s (peak-normalised)."""
    x = _render_file(soundfont, midi_path)
    return peak_normalise(x[int(start * SR): int((start + seconds) * SR)])


@lru_cache(maxsize=1)
def _render_file(soundfont: str, midi_path: str) -> np.ndarray:
    return render(soundfont, midi_path)


def midi_seconds(path: str | Path) -> float:
    """Length in seconds of a standard MIDI file (formats 0 and 1; tempo changes honoured)."""
    data = Path(path).read_bytes()
    if data[:4] != b"MThd":
        raise ValueError(f"{path}: not a standard MIDI file")
    _, _, ntrk, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise ValueError(f"{path}: SMPTE time division is not supported")
    pos, tempos, last_tick = 8 + struct.unpack(">I", data[4:8])[0], [], 0
    for _ in range(ntrk):
        if data[pos:pos + 4] != b"MTrk":
            break
        end = pos + 8 + struct.unpack(">I", data[pos + 4:pos + 8])[0]
        pos, tick, status = pos + 8, 0, 0
        while pos < min(end, len(data)):
            delta, pos = _read_var(data, pos)
            tick += delta
            if data[pos] & 0x80:
                status = data[pos]
                pos += 1
            if status == 0xFF:
                kind = data[pos]
                n, pos = _read_var(data, pos + 1)
                if kind == 0x51:
                    tempos.append((tick, int.from_bytes(data[pos:pos + 3], "big")))
                pos += n
            elif status in (0xF0, 0xF7):
                n, pos = _read_var(data, pos)
                pos += n
            else:
                pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2
        last_tick = max(last_tick, tick)
        pos = end
    seconds, prev_tick, us = 0.0, 0, 500_000
    for t, tempo in sorted(tempos):
        if t >= last_tick:
            break
        seconds += (t - prev_tick) * us / division / 1e6
        prev_tick, us = t, tempo
    return seconds + (last_tick - prev_tick) * us / division / 1e6


def _read_var(data: bytes, pos: int) -> tuple[int, int]:
    n = 0
    while True:
        b = data[pos]
        pos += 1
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            return n, pos
