"""Source disjointness by construction: the allocation table, the refusal of reserved packages, and
the corpus builder's use of it (no Debian download needed)."""

from __future__ import annotations

import pytest

from slicer_embed.training.offline import allocation as al
from slicer_embed.training.offline import corpus
from slicer_embed.training.offline.tasks import Context

RESERVED_NAMES = ("hydrogen-drumkits", "extremetuxracer-data", "frozen-bubble-data", "lincity-ng-data",
                  "openarena-data", "wesnoth-1.16-data", "pingus-data")


def test_the_reserved_list_is_the_issues_list():
    assert al.RESERVED == frozenset(RESERVED_NAMES)
    assert al.RESERVED_FOR_PRETRAINING == {"timgm6mb-soundfont"}


@pytest.mark.parametrize("name", RESERVED_NAMES)
@pytest.mark.parametrize("purpose", ["corpus", "benchmark"])
def test_reserved_packages_are_refused_by_name(name, purpose):
    with pytest.raises(al.ReservedSourceError, match=name):
        al.refuse_reserved(["hedgewars-data", name], purpose=purpose)


@pytest.mark.parametrize("name", sorted(al.BENCHMARK_PACKAGES | al.RESERVED_FOR_PRETRAINING))
def test_benchmark_audio_is_refused_as_pretraining_audio(name):
    with pytest.raises(al.ReservedSourceError, match=name):
        al.refuse_reserved([name], purpose="corpus")
    if name not in al.RESERVED:
        al.refuse_reserved([name], purpose="benchmark")  # the benchmark may read it


def test_tables_are_disjoint_and_cover_every_domain():
    corpus_side = set(al.corpus_packages())
    assert not corpus_side & al.BENCHMARK_PACKAGES
    assert not corpus_side & (al.RESERVED | al.RESERVED_FOR_PRETRAINING)
    assert not al.BENCHMARK_PACKAGES & al.RESERVED
    assert set(al.CORPUS_PACKAGES.values()) == set(al.DOMAINS)
    assert not set(al.CORPUS_TTS_ENGINES) & set(al.BENCHMARK_TTS_ENGINES)
    # One sample family per side: MuseScore General derives from FluidR3Mono, so both are corpus fonts.
    assert {"fluid-soundfont-gm", "musescore-general-soundfont-small"} <= set(al.CORPUS_SOUNDFONTS)
    assert not set(al.CORPUS_SOUNDFONTS) & set(al.BENCHMARK_SOUNDFONTS)


def test_the_real_sources_at_least_double():
    before = 16  # the 2026-12 corpus: 10 speech, 1 music and 2 effect packages + 3 asterisk voices
    real = [p for p in al.CORPUS_PACKAGES]
    assert len(real) >= 2 * before


def test_corpus_builder_refuses_reserved_before_reading(monkeypatch, tmp_path):
    from slicer_embed.training.offline.debs import DebCache

    fetched = []
    monkeypatch.setattr(DebCache, "fetch", lambda self, pkgs: fetched.append(list(pkgs)))
    monkeypatch.setattr(corpus, "corpus_sources", lambda tiny: ["hedgewars-data", "pingus-data"])
    with pytest.raises(al.ReservedSourceError, match="pingus-data"):
        corpus.plan(Context(DebCache(tmp_path), tiny=True))
    assert fetched == []  # refused before anything was downloaded
    with pytest.raises(al.ReservedSourceError, match="wesnoth-1.16-data"):
        corpus.classify(DebCache(tmp_path), ["wesnoth-1.16-data"])


def test_corpus_tts_uses_espeak_voices_only():
    voices = corpus.tts_voices()
    assert voices and {v.engine for v in voices} == {"espeak"}


def test_source_packages_of_manifest_rows():
    rows = [{"source": "hedgewars-data/usr/x.ogg"}, {"source": "tts:espeak:en-us+m1"},
            {"source": "render:fluid-soundfont-gm:mma/usr/share/mma/a.mid"},
            {"source": "render:opl3-soundfont:piece00012"}]
    assert corpus.source_packages(rows) == {"hedgewars-data", "fluid-soundfont-gm", "mma", "opl3-soundfont"}


def test_data_mix_prints_hours_and_weighted_crops(tmp_path, capsys):
    from slicer_embed.training.offline import cli

    m = tmp_path / "manifest.csv"
    m.write_text("file_name,source,domain,duration\n" + "".join(
        f"f{i}.flac,x,{d},{s}\n" for i, (d, s) in enumerate([("speech", 3600)] * 8 + [("music", 1800)] + [("env", 60)])))
    assert cli.main(["mix", str(m)]) == 0
    out = capsys.readouterr().out
    assert "speech       8.00" in out and "      8          8  80.0%" in out
    assert cli.main(["mix", str(m), "--domain-weights", "speech=1,music=1,env=2"]) == 0
    env = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("env"))
    assert env.split()[-2:] == ["5", "50.0%"]
    assert cli.main(["mix", str(m), "--domain-weights", "speech=1"]) == 2
    assert "no weight for the domain(s) ['env', 'music']" in capsys.readouterr().err
    (tmp_path / "plain.csv").write_text("file_name\nf0.flac\n")
    assert cli.main(["mix", str(tmp_path / "plain.csv")]) == 2
