"""Unit tests for the offline data builders' pure functions (no external tools, no downloads)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from slicer_embed.training.offline.augment import coloured_noise, mix_at_snr, random_channel
from slicer_embed.training.offline.common import SR, fit_length, pcm_sha1, rng_for, split_of, write_audio
from slicer_embed.training.offline.manifest import check_task_rows, group_violations
from slicer_embed.training.offline.midi import Note, midi_bytes
from slicer_embed.training.offline.tasks import expression, instrument


def test_split_of_is_stable_and_close_to_fractions():
    keys = [f"group-{i}" for i in range(4000)]
    a = [split_of(k, 0, (0.15, 0.3)) for k in keys]
    assert a == [split_of(k, 0, (0.15, 0.3)) for k in keys]
    frac = {s: a.count(s) / len(a) for s in ("train", "valid", "test")}
    assert abs(frac["test"] - 0.3) < 0.03 and abs(frac["valid"] - 0.15) < 0.03
    assert a != [split_of(k, 1, (0.15, 0.3)) for k in keys]  # the seed matters


def test_rng_for_depends_only_on_keys():
    assert rng_for(3, "a", 1).integers(1 << 30) == rng_for(3, "a", 1).integers(1 << 30)
    assert rng_for(3, "a", 1).integers(1 << 30) != rng_for(3, "a", 2).integers(1 << 30)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 12.0])
def test_mix_at_snr_hits_requested_snr(snr):
    rng = np.random.default_rng(0)
    s = np.sin(np.arange(SR) * 0.05).astype(np.float32)
    n = coloured_noise(SR, "pink", rng)
    mixed = mix_at_snr(s, n, snr)
    got = 20 * np.log10(np.linalg.norm(s) / np.linalg.norm(mixed - s))
    assert got == pytest.approx(snr, abs=1e-3)


def test_coloured_noise_spectral_slope():
    rng = np.random.default_rng(0)
    spec = {c: np.abs(np.fft.rfft(coloured_noise(SR * 2, c, rng))) ** 2 for c in ("white", "pink", "brown")}
    f = np.fft.rfftfreq(SR * 2, 1 / SR)
    lo, hi = (f > 100) & (f < 200), (f > 3200) & (f < 6400)
    ratio = {c: 10 * np.log10(s[lo].mean() / s[hi].mean()) for c, s in spec.items()}
    assert abs(ratio["white"]) < 1.5 and 10 < ratio["pink"] < 18 and 25 < ratio["brown"] < 40


def test_random_channel_is_seeded_and_changes_the_spectrum():
    x = coloured_noise(SR, "white", np.random.default_rng(1)) * 0.3
    a = random_channel(x, rng_for(0, "c", "f1"))
    assert a.shape == x.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, random_channel(x, rng_for(0, "c", "f1")))
    b = random_channel(x, rng_for(0, "c", "f2"))
    assert not np.allclose(a, b)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    top = f > 7900  # above every possible upper band edge: only the added noise floor remains

    def top_fraction(y):
        spec = np.abs(np.fft.rfft(y)) ** 2
        return spec[top].sum() / spec.sum()

    outs = [top_fraction(random_channel(x, rng_for(0, "c", i))) for i in range(20)]
    assert np.mean(outs) < 0.7 * top_fraction(x)


def test_fit_length_places_and_crops():
    x = np.ones(10, dtype=np.float32)
    y = fit_length(x, 20, 5)
    assert y.shape == (20,) and y[:5].sum() == 0 and y[5:15].sum() == 10 and y[15:].sum() == 0
    assert fit_length(x, 8, 4).sum() == 4
    assert fit_length(x, 8, -3).sum() == 7


def test_pcm_hash_is_the_same_for_wav_and_flac(tmp_path):
    import soundfile as sf

    x = (coloured_noise(SR // 2, "white", np.random.default_rng(0)) * 0.1).astype(np.float32)
    write_audio(tmp_path / "a.wav", x)
    write_audio(tmp_path / "a.flac", x)
    wav, _ = sf.read(tmp_path / "a.wav", dtype="int16")
    flac, _ = sf.read(tmp_path / "a.flac", dtype="int16")
    np.testing.assert_array_equal(wav, flac)
    assert pcm_sha1(wav / 32768) == pcm_sha1(flac / 32768) == pcm_sha1(x)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_midi_bytes_structure():
    data = midi_bytes([Note(0, 60, 100), Note(40, 67, 80)], slot=2.0, hold=1.5)
    assert data[:4] == b"MThd" and struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, 480)
    assert data[14:18] == b"MTrk"
    assert struct.unpack(">I", data[18:22])[0] == len(data) - 22
    assert data.endswith(b"\xff\x2f\x00")
    assert bytes([0xC0, 40]) in data and bytes([0x90, 67, 80]) in data and bytes([0x80, 67, 0]) in data


def test_group_checks():
    rows = [{"group": "a", "split": "train"}, {"group": "a", "split": "test"}, {"group": "b", "split": "valid"}]
    assert set(group_violations(rows)) == {"a"}
    with pytest.raises(ValueError, match="cross splits"):
        check_task_rows(rows, "x.csv")
    with pytest.raises(ValueError, match="unexpected split"):
        check_task_rows([{"group": "a", "split": "dev"}], "x.csv")
    check_task_rows([{"group": "a", "split": "test_real"}, {"group": "b", "split": "train"}], "x.csv")


def test_task_tables_are_consistent():
    assert len(instrument.FAMILIES) == 11
    programs = [p for progs, _, _ in instrument.FAMILIES.values() for p in progs]
    assert len(programs) == len(set(programs)) and all(0 <= p < 128 for p in programs)
    assert sorted(set(expression.LABEL_OF.values())) == ["alarm", "pain", "threat", "triumph"]
    assert {s for s in instrument.SOUNDFONTS.values() for s in [s[1]]} == {"train", "valid", "test"}
