"""Generated music for the corpus: MIDI writing, MIDI length parsing and the piece generator."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from slicer_embed.training.offline import renders as r


def test_pieces_are_deterministic_and_varied():
    a, la = r.piece_events(0, 5)
    b, lb = r.piece_events(0, 5)
    assert a == b and la == lb
    lengths = [r.piece_events(0, i)[1] for i in range(40)]
    assert 8 < min(lengths) and max(lengths) < 30 and len(set(lengths)) > 20
    drums = sum(any(e.data[0] == 0x99 for e in r.piece_events(0, i)[0]) for i in range(40))
    assert 10 < drums < 40  # most pieces have a groove on the GM drum channel, solos do not
    pitches = {e.data[1] % 12 for i in range(40) for e in r.piece_events(0, i)[0] if e.data[0] == 0x91}
    assert pitches == set(range(12))  # the melodies cover every pitch class


def test_midi_length_matches_the_generated_events(tmp_path):
    for i in range(5):
        events, length = r.piece_events(3, i)
        path = tmp_path / f"p{i}.mid"
        path.write_bytes(r.midi_file(events))
        last = max(e.time for e in events)
        assert r.midi_seconds(path) == pytest.approx(last, abs=1e-2)
        assert length == pytest.approx(last + 1.0, abs=0.1)


def test_midi_length_honours_tempo_changes_and_running_status(tmp_path):
    # format 1, two tracks at 96 ticks per quarter: tempo 0.5 s per quarter for 96 ticks, then 1 s
    tempo = b"\x00\xff\x51\x03" + (500_000).to_bytes(3, "big") + b"\x60\xff\x51\x03" + (1_000_000).to_bytes(3, "big")
    track1 = tempo + b"\x00\xff\x2f\x00"
    # note-on, then running status (no status byte) for the note-off 192 ticks later
    track2 = b"\x00\x90\x3c\x40" + b"\x81\x40\x3c\x00" + b"\x00\xff\x2f\x00"
    data = b"MThd" + struct.pack(">IHHH", 6, 1, 2, 96)
    for t in (track1, track2):
        data += b"MTrk" + struct.pack(">I", len(t)) + t
    (tmp_path / "t.mid").write_bytes(data)
    assert r.midi_seconds(tmp_path / "t.mid") == pytest.approx(0.5 + 1.0)
    (tmp_path / "bad.mid").write_bytes(b"RIFF....")
    with pytest.raises(ValueError, match="not a standard MIDI file"):
        r.midi_seconds(tmp_path / "bad.mid")
