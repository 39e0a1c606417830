"""Which audio source feeds what: the pretraining corpus, the out-of-domain benchmark, or nothing.

One table is the single source of truth for source disjointness (docs/benchmark.md):

- ``RESERVED``: packages kept for independent evaluation by people outside the team. No builder of
  ours reads them, for training, for a benchmark or for a check (``refuse_reserved`` raises).
- ``BENCHMARK_PACKAGES``: real audio that only the out-of-domain benchmark (``slicer-embed data
  benchmark``) uses. ``RESERVED_FOR_PRETRAINING`` may serve the benchmark but never the corpus.
- ``CORPUS_PACKAGES``: real audio the pretraining corpus uses, with the domain of the files that the
  corpus builder cannot classify by folder (speech | music | env).

Synthesised audio is split the same way, by the thing that carries identity:

- speech synthesis by engine: the corpus reads text with espeak-ng voices only; the benchmark's
  voices are flite and festival (one speaker may hide behind several voices: flite's kal/kal16 and
  festival's kal_diphone are one man, flite's slt and festival's slt HTS one woman, so the benchmark
  groups voices by ``SPEAKER_OF``);
- rendered music by sample family: the corpus renders with the FluidR3 family (FluidR3 GM and GS,
  FluidR3Mono and MuseScore General, which derives from FluidR3Mono) and the OPL-3 FM bank; the
  benchmark with GeneralUser GS, the csound GM bank and TimGM6mb.

A package appears in at most one table; ``tests/test_offline_allocation.py`` checks it, and that the
built corpus and benchmark manifests only hold sources their table allows.
"""

from __future__ import annotations

RESERVED = frozenset({
    "hydrogen-drumkits", "extremetuxracer-data", "frozen-bubble-data", "lincity-ng-data", "openarena-data",
    "wesnoth-1.16-data", "pingus-data",
})
# Benchmark material that must never be pretraining audio.
RESERVED_FOR_PRETRAINING = frozenset({"timgm6mb-soundfont"})

DOMAINS = ("speech", "music", "env")

# -- the out-of-domain benchmark's packages (task -> packages) ------------------------------------
BENCHMARK_SOUNDFONTS = {  # package -> (file inside the package, split) for instrument, pitch, chord, drums
    "minuet-data": ("usr/share/minuet/soundfonts/GeneralUser-v1.47.sf2", "train"),
    "csound-soundfont": ("usr/share/sounds/sf2/sf_GMbank.sf2", "valid"),
    "timgm6mb-soundfont": ("usr/share/sounds/sf2/TimGM6mb.sf2", "test"),
}
BENCHMARK_SPEAKERS = ("kajongg",)                        # 8 real voices reading mahjong tile names
BENCHMARK_SAMPLES = ("sonic-pi-samples", "lmms-common")  # real drum one-shots
BENCHMARK_GAMES = (  # game effects (and their music) for the event and broad-domain tasks
    "btanks-data", "lugaru-data", "netpanzer-data", "torcs-data", "bzflag-data", "scorched3d-data",
    "starfighter-data", "enigma-data", "micropolis-data", "searchandrescue-data", "trackballs-data",
    "minetest-data",
)
BENCHMARK_MUSIC = ("hyperrogue-music", "drascula-music")  # soundtracks for the broad-domain task
BENCHMARK_PACKAGES = frozenset(
    {*BENCHMARK_SOUNDFONTS, *BENCHMARK_SPEAKERS, *BENCHMARK_SAMPLES, *BENCHMARK_GAMES, *BENCHMARK_MUSIC})
BENCHMARK_TTS_ENGINES = ("flite", "festival")
# Voices that are one recorded speaker (benchmark splits keep a speaker on one side).
SPEAKER_OF = {"flite:kal": "kal", "flite:kal16": "kal", "festival:kal_diphone": "kal",
              "flite:slt": "slt", "festival:cmu_us_slt_arctic_hts": "slt"}

# -- the pretraining corpus's packages (package -> fallback domain) -------------------------------
CORPUS_SPEECH = {p: "speech" for p in (
    "fillets-ng-data-cs", "fillets-ng-data-nl", "tuxpaint-stamps-default", "asterisk-core-sounds-en-wav",
    "asterisk-core-sounds-es-wav", "asterisk-core-sounds-fr-wav", "asterisk-core-sounds-it-wav",
    "asterisk-core-sounds-ru-wav", "asterisk-prompt-it-menardi-wav", "ktuberling-data", "klettres-data",
    "hedgewars-data", "qabcs-data", "gcin-voice", "planetblupi-common",
)}
CORPUS_MUSIC = {p: "music" for p in (
    "wesnoth-1.16-music", "boswars-data", "nexuiz-music", "singularity-music", "asc-music", "endless-sky-data",
    "planetblupi-music-ogg", "asterisk-moh-opsound-wav", "fillets-ng-data", "naev-data", "marsshooter-data",
    "unknown-horizons", "freecol", "berusky2-data",
)}
CORPUS_ENV = {p: "env" for p in (
    "supertux-data", "widelands-data", "megaglest-data", "warmux-data", "cube2-data", "flare-game",
    "neverball-common", "plee-the-bear-data", "caveexpress-data", "freetennis-common", "krank", "freedroidrpg-data",
    "colobot-common-sounds", "supertuxkart-data", "bucklespring-data", "oxygen-sounds", "emacspeak", "calf-plugins",
    "freedink-data",
)}
CORPUS_PACKAGES: dict[str, str] = {**CORPUS_SPEECH, **CORPUS_MUSIC, **CORPUS_ENV}
CORPUS_SOUNDFONTS = {  # package -> file inside it (MIDI renders of the corpus)
    "fluid-soundfont-gm": "usr/share/sounds/sf2/FluidR3_GM.sf2",
    "fluid-soundfont-gs": "usr/share/sounds/sf2/FluidR3_GS.sf2",
    "fluidr3mono-gm-soundfont": "usr/share/sounds/sf3/FluidR3Mono_GM.sf3",
    "musescore-general-soundfont-small": "usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "opl3-soundfont": "usr/share/sounds/sf2/OPL-3_FM_128M.sf2",
}
CORPUS_MIDI = ("mma", "simutrans-data", "openttd-openmsx", "planetblupi-music-midi")  # MIDI scores only
CORPUS_TTS_ENGINES = ("espeak",)


class ReservedSourceError(ValueError):
    """A builder was asked to read a package that it must not read."""


def refuse_reserved(packages, *, purpose: str) -> None:
    """Raise if any of ``packages`` is reserved for independent evaluation (any ``purpose``), or, for
    ``purpose="corpus"``, belongs to the benchmark or may never be pretraining audio."""
    packages = list(packages)
    bad = sorted(set(packages) & RESERVED)
    if bad:
        raise ReservedSourceError(f"{', '.join(bad)}: reserved for independent evaluation; no builder reads "
                                  f"{'it' if len(bad) == 1 else 'them'} ({purpose})")
    if purpose == "corpus":
        bad = sorted(set(packages) & (BENCHMARK_PACKAGES | RESERVED_FOR_PRETRAINING))
        if bad:
            raise ReservedSourceError(f"{', '.join(bad)}: benchmark or evaluation audio, never pretraining audio")


def corpus_packages() -> list[str]:
    """Every package the full corpus downloads (audio, soundfonts, MIDI), sorted."""
    return sorted({*CORPUS_PACKAGES, *CORPUS_SOUNDFONTS, *CORPUS_MIDI})
