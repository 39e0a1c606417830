"""The benchmark's synthetic voices (flite and festival only: the corpus speaks with espeak-ng) and
batch synthesis: one festival process per voice and word list instead of one per word (festival's
start-up is ~1 s, a word ~0.1 s).

Voices are grouped by the person recorded (``allocation.SPEAKER_OF``): flite kal/kal16 and festival
kal_diphone are one man, flite slt and festival's slt HTS one woman; every other voice is its own
speaker. flite's ``awb_time`` (a limited-domain clock voice, 0.1 s of audio for a word) is left out.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from slicer_embed.audio import resample

from ..allocation import SPEAKER_OF
from ..common import SR, decode
from ..tools import ToolMissingError, INSTALL_HINT, run
from ..tts import ENGINE_PACKAGES, Voice

FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = {  # voice -> (language of the voice, Debian package)
    "kal_diphone": ("en", "festvox-kallpc16k"), "ked_diphone": ("en", "festvox-kdlpc16k"),
    "cmu_us_slt_arctic_hts": ("en", "festvox-us-slt-hts"), "lp_diphone": ("it", "festvox-italp16k"),
    "pc_diphone": ("it", "festvox-itapc16k"), "msu_ru_nsh_clunits": ("ru", "festvox-ru"),
    "czech_dita": ("cs", "festvox-czech-dita"), "czech_machac": ("cs", "festvox-czech-machac"),
    "czech_krb": ("cs", "festvox-czech-krb"), "suo_fi_lj_diphone": ("fi", "festvox-suopuhe-lj"),
    "hy_fi_mv_diphone": ("fi", "festvox-suopuhe-mv"), "upc_ca_ona_hts": ("ca", "festvox-ca-ona-hts"),
}
VOICES = tuple([Voice("flite", v, "en") for v in FLITE_VOICES]
               + [Voice("festival", v, lang) for v, (lang, _) in FESTIVAL_VOICES.items()])
# Installed packages whose copyright files cover the synthesised audio.
SYSTEM_LICENCES = tuple(dict.fromkeys([*ENGINE_PACKAGES["flite"], "festival",
                                       *(pkg for _, pkg in FESTIVAL_VOICES.values())]))


def speaker_of(voice: Voice) -> str:
    """The recorded person behind ``voice`` (the unit that never crosses splits)."""
    return SPEAKER_OF.get(voice.key, voice.name)


def native_english(voice: Voice) -> bool:
    return voice.lang == "en"


def require_voices(voices: tuple[Voice, ...] = VOICES) -> None:
    """Raise ToolMissingError naming every flite/festival voice that is not installed."""
    missing = []
    if shutil.which("flite") is None or shutil.which("festival") is None:
        raise ToolMissingError(f"flite and festival are needed; {INSTALL_HINT}")
    have_flite = run(["flite", "-lv"]).decode().split(":", 1)[-1].split()
    missing += [v.key for v in voices if v.engine == "flite" and v.name not in have_flite]
    roots = [Path("/usr/share/festival/voices"), Path("/usr/share/festival/lib/voices")]
    have_fest = {p.name for r in roots if r.is_dir() for p in r.glob("*/*")}
    missing += [v.key for v in voices if v.engine == "festival" and v.name not in have_fest]
    if missing:
        raise ToolMissingError(f"speech voice(s) not installed: {', '.join(missing)}; {INSTALL_HINT}")


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival_batch(voice: str, items: tuple[tuple[str, float], ...], tmp: Path) -> list[Path]:
    lines = [f"(voice_{voice})"]
    outs = []
    for i, (text, stretch) in enumerate(items):
        out = tmp / f"{i:05d}.wav"
        lines += [f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
                  f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) \"{out}\" 'riff)"]
        outs.append(out)
    script = tmp / "batch.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = subprocess.run(["festival", "--batch", str(script)], capture_output=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"festival --batch (voice {voice}) failed: {p.stderr.decode(errors='replace')[-300:]}")
    return outs


@lru_cache(maxsize=1)
def speak_all(voice: Voice, items: tuple[tuple[str, float], ...]) -> tuple[np.ndarray | None, ...]:
    """Synthesise every ``(text, duration stretch)`` of ``items`` with ``voice``: 16 kHz float32 mono
    arrays (None where the engine produced nothing). Memoised per worker: builders keep one voice's
    clips in one chunk, so each worker runs festival once per voice."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if voice.engine == "festival":
            paths = _festival_batch(voice.name, items, tmp)
        elif voice.engine == "flite":
            paths = []
            for i, (text, stretch) in enumerate(items):
                out = tmp / f"{i:05d}.wav"
                subprocess.run(["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch:.3f}",
                                "-t", text, "-o", str(out)], capture_output=True, timeout=120)
                paths.append(out)
        else:
            raise ValueError(f"{voice.key}: the benchmark speaks with flite and festival only")
        out: list[np.ndarray | None] = []
        for p in paths:
            x = decode(p) if p.is_file() and p.stat().st_size > 44 else None
            out.append(x if x is not None and x.size and np.isfinite(x).all() else None)
    return tuple(out)


def spoken(voice: Voice, items: tuple[tuple[str, float], ...], index: int, speed: float = 1.0) -> np.ndarray:
    """Item ``index`` of ``speak_all(voice, items)``, played ``speed`` times faster (tempo and pitch)."""
    x = speak_all(voice, items)[index]
    if x is None:
        raise RuntimeError(f"{voice.key} produced no audio for {items[index][0][:40]!r}")
    return resample(x, int(round(SR * speed)), SR).astype(np.float32) if speed != 1.0 else x
