"""Units of the out-of-domain benchmark builder (no audio rendered, nothing downloaded): source
allocation checks, file-name labelling rules, split assignment, MIDI channels and chords, soundfont
preset reading."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from slicer_embed.training.offline import cli
from slicer_embed.training.offline.allocation import (RESERVED, ReservedSourceError, SPEAKER_OF,
                                                      refuse_reserved)
from slicer_embed.training.offline.benchmark import build, drums, kws, sfx
from slicer_embed.training.offline.benchmark.speech import VOICES, speaker_of
from slicer_embed.training.offline.benchmark.splits import assign_groups
from slicer_embed.training.offline.debs import DebCache
from slicer_embed.training.offline.manifest import Clip
from slicer_embed.training.offline.midi import Note, midi_bytes, soundfont_presets
from slicer_embed.training.offline.tasks import Context

SEVEN = ("hydrogen-drumkits", "extremetuxracer-data", "frozen-bubble-data", "lincity-ng-data", "openarena-data",
         "wesnoth-1.16-data", "pingus-data")


@pytest.mark.parametrize("name", SEVEN)
def test_refuse_reserved_names_each_package(name):
    assert name in RESERVED
    with pytest.raises(ReservedSourceError, match=name):
        refuse_reserved(["kajongg", name], purpose="benchmark")
    with pytest.raises(ReservedSourceError, match=name):
        build.check_packages(["kajongg", name], "speaker")


@pytest.mark.parametrize("name", SEVEN)
def test_builder_refuses_reserved_before_fetching(monkeypatch, tmp_path, name, capsys):
    from slicer_embed.training.offline.benchmark import speaker

    fetched = []
    monkeypatch.setattr(DebCache, "fetch", lambda self, pkgs: fetched.append(list(pkgs)) or {})
    monkeypatch.setattr(speaker, "packages", lambda ctx: ["kajongg", name])
    code = cli.main(["benchmark", str(tmp_path / "b"), "--tiny", "--tasks", "speaker", "--cache", str(tmp_path / "c")])
    assert code == 2 and not fetched
    assert name in capsys.readouterr().err


def test_builder_refuses_corpus_packages_and_engines():
    with pytest.raises(ReservedSourceError, match="supertux-data"):
        build.check_packages(["kajongg", "supertux-data"], "sfx")
    with pytest.raises(ReservedSourceError, match="fluid-soundfont-gm"):
        build.check_packages(["fluid-soundfont-gm"], "pitch")
    ok = Clip("a.wav", lambda: None, "x", "train", "g", ("kajongg/usr/share/kajongg/voices/male1/b1.ogg",
                                                          "tts:flite:kal", "tts:festival:kal_diphone"))
    build.check_sources([ok], "t")
    for bad in ("tts:espeak:en-us+m1", "supertux-data/x.ogg", "fluid-soundfont-gm/usr/share/sounds/sf2/FluidR3_GM.sf2",
                "hydrogen-drumkits/x.wav"):
        with pytest.raises(ReservedSourceError, match="not benchmark audio"):
            build.check_sources([Clip("b.wav", lambda: None, "x", "train", "g", (bad,))], "t")


def test_drum_labels_from_file_names():
    cases = {"bd_808": "kick", "kick_hard01": "kick", "bassdrum_acoustic01": "kick", "drum_heavy_kick": "kick",
             "sn_dolf": "snare", "snare_muffled02": "snare", "elec_hi_snare": "snare", "elec_snare": "snare",
             "hihat_foot_pedal01": "hihat", "drum_cymbal_closed": "hihat", "drum_cymbal_open": "hihat",
             "tom_hi01": "tom", "drum_tom_lo_soft": "tom", "elec_fuzz_tom": "tom",
             "crash01": "cymbal", "ride02": "cymbal", "drum_splash_hard": "cymbal", "drum_cymbal_soft": "cymbal",
             "snare_rim01": None, "clap01": None, "sidestick01": None, "drum_roll": None, "bass_hit_c": None,
             "drum_cowbell": None, "loop_amen": None, "tabla_na": None}
    assert {k: drums.label_of(k) for k in cases} == cases


def test_sfx_labels_from_file_names():
    g = "usr/share/games"
    cases = {f"torcs-data/{g}/torcs/data/sound/ferrarif355.wav": "vehicle",
             f"torcs-data/{g}/torcs/data/sound/crash3.wav": "impact",
             f"btanks-data/{g}/btanks/data/sounds/nuke-explosion.ogg": "explosion",
             f"btanks-data/{g}/btanks/data/sounds/boomerang-missile.ogg": "weapon",
             f"btanks-data/{g}/btanks/data/sounds/cow.ogg": "animal",
             f"netpanzer-data/{g}/netpanzer/sound/mu-fire.wav": "weapon",
             f"searchandrescue-data/{g}/searchandrescue/sounds/screenshot.wav": "ui",
             f"searchandrescue-data/{g}/searchandrescue/sounds/splash_human.wav": "water",
             f"minetest-data/{g}/minetest/games/minetest_game/mods/tnt/sounds/tnt_gunpowder_burning.ogg": None,
             f"scorched3d-data/{g}/scorched3d/data/globalmods/none/data/wav/explosions/large.wav": "explosion",
             f"scorched3d-data/{g}/scorched3d/data/globalmods/none/data/wav/shoot/large.wav": "weapon",
             f"scorched3d-data/{g}/scorched3d/data/globalmods/none/data/wav/explosions/thunder.wav": None,
             f"lugaru-data/{g}/lugaru/Sounds/FootStepGrass1.ogg": None}
    assert {k: sfx.label_of(k) for k in cases} == cases
    assert set(sfx.PACKAGE_SPLIT) == set(sfx.PACKAGES) and set(sfx.PACKAGE_SPLIT.values()) == {"train", "valid", "test"}


def test_assign_groups_is_disjoint_deterministic_and_covers_splits():
    groups = [f"g{i}" for i in range(14)]
    a = assign_groups(groups, 0, "k")
    assert a == assign_groups(list(reversed(groups)), 0, "k")
    assert set(a) == set(groups) and sorted(a.values()).count("train") == 8
    assert {s for s in a.values()} == {"train", "valid", "test"}
    assert a != assign_groups(groups, 1, "k")


def test_kws_speakers_never_cross_splits():
    ctx = Context(DebCache(Path("/nonexistent")), seed=0)
    split = kws.voices(ctx)
    by_speaker = {}
    for v, s in split.items():
        by_speaker.setdefault(speaker_of(v), set()).add(s)
    assert all(len(s) == 1 for s in by_speaker.values())
    assert {speaker_of(v) for v in VOICES if v.key in SPEAKER_OF} == {"kal", "slt"}
    assert len(by_speaker) == 14 and sorted(s for (s,) in by_speaker.values()).count("train") == 8
    assert all(v.engine in ("flite", "festival") for v in split)


def test_midi_channel_and_chord_bytes():
    data = midi_bytes([Note(25, 36, 90, channel=9), Note(0, 60, 80, intervals=(4, 7))], slot=2.0, hold=1.5)
    assert bytes([0xC9, 25]) in data and bytes([0x99, 36, 90]) in data and bytes([0x89, 36, 0]) in data
    assert all(bytes([0x90, k, 80]) in data and bytes([0x80, k, 0]) in data for k in (60, 64, 67))
    # a plain note is written exactly as before the channel/chord fields existed
    assert midi_bytes([Note(40, 67, 80)], 2.0, 1.5) == midi_bytes([Note(40, 67, 80, channel=0, intervals=())], 2.0, 1.5)
    with pytest.raises(ValueError, match="channel"):
        midi_bytes([Note(0, 60, 80, channel=16)], 2.0, 1.5)


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def test_soundfont_presets_reads_phdr(tmp_path):
    def rec(name, preset, bank):
        return name.ljust(20, b"\0") + struct.pack("<HHHIII", preset, bank, 0, 0, 0, 0)

    phdr = rec(b"Piano", 0, 0) + rec(b"Standard", 0, 128) + rec(b"808", 25, 128) + rec(b"EOP", 0, 0)
    info = _chunk(b"LIST", b"INFO" + _chunk(b"ifil", struct.pack("<HH", 2, 1)))
    sdta = _chunk(b"LIST", b"sdta" + _chunk(b"smpl", b"\0" * 7))
    pdta = _chunk(b"LIST", b"pdta" + _chunk(b"phdr", phdr))
    body = b"sfbk" + info + sdta + pdta
    path = tmp_path / "t.sf2"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert soundfont_presets(str(path)) == {(0, 0), (128, 0), (128, 25)}
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF\0\0\0\0WAVE")
    with pytest.raises(ValueError, match="not a SoundFont"):
        soundfont_presets(str(bad))
