"""Where the real recordings are inside the Debian packages, and how they are labelled.

Every real file is identified by ``"<package>/<path inside the package>"`` (its *source id*); the
mini-LAPE ``sources.csv`` files and the corpus manifest use these ids. Lists are sorted so that the
plans built from them are deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .debs import DebCache

AUDIO_EXT = (".ogg", ".wav", ".flac")
HEDGEWARS = "hedgewars-data"
HW_VOICES = "usr/share/games/hedgewars/Data/Sounds/voices"
TUXPAINT = "tuxpaint-stamps-default"
WIDELANDS = "widelands-data"
SUPERTUX = "supertux-data"
ASTERISK = {  # package -> (voice folder, language, identity); Allison records both en and es
    "asterisk-core-sounds-en-wav": ("en_US_f_Allison", "en", "asterisk:Allison"),
    "asterisk-core-sounds-es-wav": ("es_MX_f_Allison", "es", "asterisk:Allison"),
    "asterisk-core-sounds-fr-wav": ("fr_CA_f_June", "fr", "asterisk:June"),
    "asterisk-core-sounds-it-wav": ("it_IT_m_Carlo", "it", "asterisk:Carlo"),
    "asterisk-core-sounds-ru-wav": ("ru_RU_f_IvrvoiceRU", "ru", "asterisk:IvrvoiceRU"),
    "asterisk-prompt-it-menardi-wav": ("it_IT_f_Menardi", "it", "asterisk:Menardi"),
}
FILLETS = ("fillets-ng-data-cs", "fillets-ng-data-nl")
SPEECH_PACKAGES = [*FILLETS, TUXPAINT, *ASTERISK, "ktuberling-data", "klettres-data", HEDGEWARS]
MUSIC_PACKAGES = ["wesnoth-1.16-music"]
SFX_PACKAGES = [SUPERTUX, WIDELANDS]


@dataclass(frozen=True)
class Recording:
    """A real audio file: ``sid`` (source id), ``path`` on disk, ``speaker``/``lang``/``kind`` labels."""

    sid: str
    path: Path
    speaker: str = ""
    lang: str = ""
    kind: str = ""  # speech | music | sfx


def files(cache: DebCache, package: str, under: str = "") -> list[Recording]:
    """All audio files of an unpacked package (optionally below ``under``), sorted by id."""
    root = cache.tree(package)
    base = root / under if under else root
    out = [Recording(f"{package}/{p.relative_to(root).as_posix()}", p)
           for p in base.rglob("*") if p.suffix.lower() in AUDIO_EXT and p.is_file()]
    return sorted(out, key=lambda r: r.sid)


def _with(r: Recording, **kw: str) -> Recording:
    return Recording(r.sid, r.path, **{"speaker": r.speaker, "lang": r.lang, "kind": r.kind, **kw})


def hedgewars_voices(cache: DebCache) -> list[Recording]:
    """Hedgewars voice packs: speaker = pack name (15 acted voices)."""
    return [_with(r, speaker=f"hedgewars:{Path(r.sid).parent.name}", lang="en", kind="speech")
            for r in files(cache, HEDGEWARS, HW_VOICES)]


def fillets_lines(cache: DebCache, package: str) -> list[Recording]:
    """Fish Fillets dialogue; the ``-m-``/``-v-`` file-name tag is the small/big fish actor."""
    lang = package.rsplit("-", 1)[-1]
    out = []
    for r in files(cache, package):
        m = re.search(r"-([mv])-", Path(r.sid).name)
        out.append(_with(r, speaker=f"fillets-{lang}:{m.group(1)}" if m else "", lang=lang, kind="speech"))
    return out


def tuxpaint_desc(cache: DebCache) -> list[Recording]:
    """Tux Paint stamp descriptions ``*_desc_<lang>.ogg``; one reader per language (assumed)."""
    out = []
    for r in files(cache, TUXPAINT):
        m = re.search(r"_desc_([a-z]{2})\.ogg$", r.sid)
        if m:
            out.append(_with(r, speaker=f"tuxpaint:{m.group(1)}", lang=m.group(1), kind="speech"))
    return out


def tuxpaint_sfx(cache: DebCache) -> list[Recording]:
    return [_with(r, kind="sfx") for r in files(cache, TUXPAINT) if "_desc_" not in r.sid]


def asterisk(cache: DebCache, package: str) -> list[Recording]:
    folder, lang, who = ASTERISK[package]
    return [_with(r, speaker=who, lang=lang, kind="speech")
            for r in files(cache, package, f"usr/share/asterisk/sounds/{folder}")]


def kde_words(cache: DebCache, package: str) -> list[Recording]:
    """KTuberling / KLettres words and letters; the folder after the app name is the language."""
    app = package.split("-")[0]
    out = []
    for r in files(cache, package):
        parts = Path(r.sid).parts
        i = parts.index(app) if app in parts else -1
        lang = parts[i + 2] if app == "ktuberling" else parts[i + 1]
        lang = lang.split("_")[0]
        out.append(_with(r, speaker=f"{app}:{lang}", lang=lang, kind="speech"))
    return out


def real_speech(cache: DebCache, packages: list[str]) -> list[Recording]:
    """Every real speech recording in ``packages`` (a subset of SPEECH_PACKAGES)."""
    out: list[Recording] = []
    for p in packages:
        if p == HEDGEWARS:
            out += hedgewars_voices(cache)
        elif p in FILLETS:
            out += fillets_lines(cache, p)
        elif p == TUXPAINT:
            out += tuxpaint_desc(cache)
        elif p in ASTERISK:
            out += asterisk(cache, p)
        elif p in ("ktuberling-data", "klettres-data"):
            out += kde_words(cache, p)
    return out


# Bird-task material, hand-picked by file name (keyword matching hits "drake"-the-dragon elsewhere).
BIRD_DIRS = {TUXPAINT: "usr/share/tuxpaint/stamps/animals/birds"}
BIRD_RE = re.compile(r"/animals/bird\d_\d+\.ogg$")  # widelands bird1..6 calls
EVENT_RE = re.compile(r"tuxpaint/stamps/animals/(?!birds/)|widelands/data/sound/(animals/(?!bird)|"
                      r"hammering|smiths|woodcutting|sawmill|stonecutting|mill/)")
BED_RE = re.compile(r"supertux2/sounds/(rain|waterfall|lava|fire|sizzle)\.|animals/crickets")


def is_description(sid: str) -> bool:
    """Tux Paint's spoken stamp names (``owl_desc.ogg``, ``owl_desc_fr.ogg``): speech, not the animal."""
    return "_desc" in Path(sid).name


def audible(path: Path) -> bool:
    """False when every sample is zero (Tux Paint ships silent placeholders, e.g. ``giraffe.ogg``)."""
    x, _ = sf.read(str(path), dtype="int16", always_2d=True)
    return bool(np.any(x))


def bird_material(cache: DebCache, packages: list[str]) -> dict[str, list[Recording]]:
    """{"bird": calls, "event": non-bird sound events, "bed": background beds} from ``packages``.

    Spoken descriptions share the birds' folder but are speech, and silent placeholders would
    make all-zero mixtures: both are left out (a silent file is read once per plan, ~1 s in all)."""
    pool = [r for p in packages for r in files(cache, p) if not is_description(r.sid)]
    birds = [r for r in pool if r.sid.startswith(f"{TUXPAINT}/{BIRD_DIRS[TUXPAINT]}/") or BIRD_RE.search(r.sid)]
    events = [r for r in pool if EVENT_RE.search(r.sid) and r not in birds]
    beds = [r for r in pool if BED_RE.search(r.sid)]
    return {k: [r for r in v if audible(r.path)] for k, v in (("bird", birds), ("event", events), ("bed", beds))}


def bird_group(sid: str) -> str:
    """Widelands ships several takes per species (bird2_00..04): keep a species on one side."""
    return re.sub(r"_\d+\.ogg$", "", sid)
