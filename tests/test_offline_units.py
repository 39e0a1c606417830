"""Unit tests for the offline data builders' pure functions (no external tools, no downloads)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from slicer_embed.training.offline import sources
from slicer_embed.training.offline.augment import coloured_noise, mix_at_snr, random_channel
from slicer_embed.training.offline.common import SR, fit_length, pcm_sha1, rng_for, split_of, write_audio
from slicer_embed.training.offline.corpus import attach_sources
from slicer_embed.training.offline.debs import DebCache
from slicer_embed.training.offline.manifest import Clip, check_task_rows, group_violations, render_all
from slicer_embed.training.offline.midi import Note, midi_bytes
from slicer_embed.training.offline.tasks import expression, instrument, language, pitch
from slicer_embed.training.offline.tools import ToolMissingError
from slicer_embed.training.offline.tts import Voice


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


def test_pitch_probe_is_balanced_and_timbre_varied():
    full = pitch.notes(tiny=False)
    assert [pitch.pitch_class(k) for k in (60, 61, 69, 95, 36)] == ["C", "C#", "A", "B", "C"]
    per_class: dict[str, list] = {}
    for n in full:
        per_class.setdefault(pitch.pitch_class(n.pitch), []).append(n)
    # 12 balanced classes, each over five octaves and many programs: only the pitch class is shared.
    assert sorted(per_class) == sorted(pitch.PITCH_CLASSES) and {len(v) for v in per_class.values()} == {30}
    for notes in per_class.values():
        assert {n.pitch // 12 for n in notes} == {3, 4, 5, 6, 7} and len({n.program for n in notes}) >= 15
    for n in full:  # every note lies inside the range of its program's family
        assert any(n.program in progs and lo <= n.pitch <= hi for progs, lo, hi in instrument.FAMILIES.values())
    assert len(set(full)) == len(full) == 60 * pitch.PROGRAMS_PER_PITCH
    assert set(pitch.notes(tiny=True)) <= set(full) and pitch.notes(tiny=False) == full


# --- failure handling: one bad clip is reported, never fatal (render_all, corpus rows, TTS fallback) ---

def _tone(n: int) -> np.ndarray:
    return (0.1 * np.sin(np.arange(n) * 0.05)).astype(np.float32)


def _fail(message: str) -> np.ndarray:
    raise RuntimeError(message)


def _empty() -> np.ndarray:
    return np.zeros(0, dtype=np.float32)


def _missing_tool() -> np.ndarray:
    raise ToolMissingError("missing program(s): espeak-ng")


def _bug() -> np.ndarray:
    raise KeyError("a programming error, not a bad clip")


def _clips(bad_make) -> list[Clip]:
    return [Clip("a/ok1.wav", partial(_tone, 800), "x", "train", "g1"),
            Clip("a/bad.wav", bad_make, "y", "train", "g2"),
            Clip("b/ok2.wav", partial(_tone, 1600), "y", "test", "g3"),
            Clip("b/empty.wav", _empty, "x", "test", "g4"),
            Clip("b/silent.wav", partial(np.full, 800, 1e-6, dtype=np.float32), "x", "test", "g5")]


@pytest.mark.parametrize("jobs", [1, 2])
def test_render_all_leaves_failed_clips_out_and_reports_them(tmp_path, jobs):
    rows = render_all(tmp_path, _clips(partial(_fail, "espeak choked on '-x'\nsecond line")), jobs, "t", chunksize=1)
    assert [r["file_name"] for r in rows] == ["a/ok1.wav", "b/ok2.wav"]
    assert [r["label"] for r in rows] == ["x", "y"] and [r["split"] for r in rows] == ["train", "test"]
    assert (tmp_path / "a/ok1.wav").is_file() and (tmp_path / "b/ok2.wav").is_file()
    assert not [p for p in ("a/bad.wav", "b/empty.wav", "b/silent.wav") if (tmp_path / p).exists()]
    report = (tmp_path / "failures.txt").read_text().splitlines()
    assert report == ["a/bad.wav: espeak choked on '-x'", "b/empty.wav: generator returned bad audio, shape (0,)",
                      "b/silent.wav: generator returned silence (every sample rounds to 0)"]
    assert rows[1]["sha1"] == pcm_sha1(_tone(1600)) and rows[1]["duration"] == f"{1600 / SR:.3f}"
    assert not list(tmp_path.rglob(".*.tmp"))


def test_render_all_resume_fills_in_fixed_clips_and_clears_the_report(tmp_path):
    render_all(tmp_path, _clips(partial(_fail, "boom")), 1, "t")
    first = (tmp_path / "a/ok1.wav").stat().st_mtime_ns
    fixed = [c for c in _clips(partial(_tone, 400)) if c.file_name not in ("b/empty.wav", "b/silent.wav")]
    rows = render_all(tmp_path, fixed, 1, "t")
    assert [r["file_name"] for r in rows] == ["a/ok1.wav", "a/bad.wav", "b/ok2.wav"]
    assert (tmp_path / "a/ok1.wav").stat().st_mtime_ns == first  # kept, not re-rendered
    assert not (tmp_path / "failures.txt").exists()


@pytest.mark.parametrize("make", [_missing_tool, _bug])
def test_render_all_still_stops_on_missing_tools_and_bugs(tmp_path, make):
    # A missing program would fail every clip and a KeyError is a bug: neither may pass as "bad clip".
    with pytest.raises((ToolMissingError, KeyError)):
        render_all(tmp_path, _clips(make), 1, "t")


def test_render_all_rejects_duplicate_names(tmp_path):
    c = Clip("a.wav", partial(_tone, 10))
    with pytest.raises(ValueError, match="duplicate file names"):
        render_all(tmp_path, [c, c], 1, "t")


def test_corpus_sources_follow_file_names_when_a_clip_fails():
    clips = [Clip(f"speech/{n}.flac", _empty) for n in "abc"]
    rows = [{"file_name": "speech/a.flac"}, {"file_name": "speech/c.flac"}]  # b failed
    srcs, hashes = ["pkg/a.ogg", "pkg/b.ogg", "tts:espeak:en-us+m1"], {"pkg/a.ogg": "h1", "pkg/b.ogg": "h2"}
    out = attach_sources(rows, clips, srcs, hashes)
    assert [(r["source"], r["source_sha1"]) for r in out] == [("pkg/a.ogg", "h1"), ("tts:espeak:en-us+m1", "")]


def test_language_fallback_texts_wrap_around():
    pool = ["s0", "s1", "s2", "s3"]
    assert language.fallbacks(pool, 1) == ("s1", "s2", "s3")
    assert language.fallbacks(pool, 3) == ("s3", "s0", "s1")
    assert language.fallbacks(pool[:2], 1) == ("s1", "s0")


def test_language_tts_falls_back_to_the_next_sentence(monkeypatch):
    said = []

    def fake(voice, text, *, pitch, rate, speed):
        said.append((text, pitch, rate, speed))
        if text.startswith("bad"):
            raise RuntimeError(f"festival cannot say {text}")
        return _tone(len(text) * 1000)

    monkeypatch.setattr(language, "synthesize", fake)
    voice = Voice("festival", "msu_ru_nsh_clunits", "ru")
    x = language.make_tts(voice, ("bad one", "good", "never"), 0, "k")
    assert [t for t, *_ in said] == ["bad one", "good"]
    assert said[0][1:] == said[1][1:]  # the fallback keeps the clip's seeded prosody
    assert len(x) == 4000 and np.max(np.abs(x)) == pytest.approx(10 ** (-3 / 20), rel=1e-4)
    np.testing.assert_array_equal(x, language.make_tts(voice, "good", 0, "k"))
    with pytest.raises(RuntimeError, match="cannot say bad2"):
        language.make_tts(voice, ("bad1", "bad2"), 0, "k")


def test_bird_material_skips_spoken_names_and_silent_placeholders(tmp_path):
    cache = DebCache(tmp_path)
    animals = cache.tree(sources.TUXPAINT) / "usr/share/tuxpaint/stamps/animals"
    files = {"birds/owl.ogg": 0.3, "birds/owl_desc.ogg": 0.3, "birds/owl_desc_fr.ogg": 0.3, "birds/nandou.ogg": 0.0,
             "mammals/cow.ogg": 0.3, "mammals/cow_desc_ru.ogg": 0.3, "mammals/giraffe.ogg": 0.0}
    for rel, amp in files.items():
        write_audio(animals / rel, _tone(SR // 4) * amp / 0.1)
    got = {k: [Path(r.sid).name for r in v] for k, v in sources.bird_material(cache, [sources.TUXPAINT]).items()}
    assert got == {"bird": ["owl.ogg"], "event": ["cow.ogg"], "bed": []}


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_builders_side_by_side_share_the_deb_cache(tmp_path, monkeypatch):
    # `data corpus` and `data minilape` run at the same time and unpack the same packages: without
    # the cache lock the second one's rename hit the first one's finished tree (ENOTEMPTY).
    src = tmp_path / "src"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN" / "control").write_text("Package: fake-sounds\nVersion: 1.0\nArchitecture: all\n"
                                            "Maintainer: t <t@example.org>\nDescription: test\n")
    write_audio(src / "usr/share/fake/a.wav", _tone(SR // 10))
    (src / "usr/share/doc/fake-sounds").mkdir(parents=True)
    (src / "usr/share/doc/fake-sounds/copyright").write_text("public domain\n")
    cache = tmp_path / "cache"
    (cache / "deb").mkdir(parents=True)
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(src), str(cache / "deb" / "fake-sounds_1.0_all.deb")],
                   check=True, capture_output=True)
    import os
    import threading
    from concurrent.futures import ThreadPoolExecutor
    real_replace, barrier = os.replace, threading.Barrier(2, timeout=1.0)

    def slow_replace(a, b):  # widen the window between unpacking and renaming
        if str(a).endswith(".partial"):
            try:
                barrier.wait()  # both fetchers unpacked before either renames (times out once locked)
            except threading.BrokenBarrierError:
                pass
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", slow_replace)
    with ThreadPoolExecutor(2) as pool:  # flock excludes separate open()s, threads as well as processes
        trees = list(pool.map(lambda _: str(DebCache(cache).fetch(["fake-sounds"])["fake-sounds"]), range(2)))
    tree = DebCache(cache).tree("fake-sounds")
    assert set(trees) == {str(tree)}
    assert (tree / "usr/share/fake/a.wav").is_file()
    assert DebCache(cache).copyright("fake-sounds").read_text() == "public domain\n"
    assert not list(tree.parent.glob("*.partial"))
