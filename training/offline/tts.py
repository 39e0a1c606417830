"""Speech synthesis engines behind one call: ``synthesize(voice, text, ...) -> 16 kHz float32``.

Engines (all Debian ``main``): espeak-ng (formant; many languages and variants), flite (CMU
clustergen/diphone voices) and festival (diphone/HTS voices). Prosody variation: espeak takes pitch
(0-99) and rate (words/min) directly; for every engine a speed factor is applied afterwards by
resampling (changes tempo and pitch together, like speed perturbation in ASR).
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from slicer_embed.audio import resample

from .common import SR
from .tools import run

ENGINE_TOOLS = {"espeak": "espeak-ng", "flite": "flite", "festival": "text2wave"}
# The Debian package of each festival voice the builders use (its copyright covers that voice).
FESTIVAL_VOICE_PACKAGES = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k",
                           "cmu_us_slt_arctic_hts": "festvox-us-slt-hts", "lp_diphone": "festvox-italp16k",
                           "pc_diphone": "festvox-itapc16k", "msu_ru_nsh_clunits": "festvox-ru"}
# Debian packages whose copyright files cover the audio each engine produces (flite's voices are
# compiled into libflite1; festival's voices are separate packages).
ENGINE_PACKAGES = {"espeak": ["espeak-ng-data"], "flite": ["flite", "libflite1"],
                   "festival": ["festival", *FESTIVAL_VOICE_PACKAGES.values()]}


@dataclass(frozen=True)
class Voice:
    """One synthetic voice. ``name`` is the engine's voice id; ``key`` is unique across engines."""

    engine: str  # "espeak" | "flite" | "festival"
    name: str    # espeak: "en-us+m3"; flite: "slt"; festival: "kal_diphone"
    lang: str    # ISO 639-1

    @property
    def key(self) -> str:
        return f"{self.engine}:{self.name}"


def espeak_voices(lang_voice: str, lang: str, variants: list[str]) -> list[Voice]:
    return [Voice("espeak", f"{lang_voice}+{v}", lang) for v in variants]


def _read_wav_bytes(data: bytes, what: str) -> tuple[np.ndarray, int]:
    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise RuntimeError(f"{what}: synthesiser returned unreadable audio ({len(data)} bytes): {e}") from e
    return x.mean(axis=1), sr


def _via_file(cmd_before: list[str], cmd_after: list[str], stdin: bytes | None) -> bytes:
    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        run([*cmd_before, tmp, *cmd_after], input=stdin)
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def _raw(voice: Voice, text: str, pitch: int, rate: int) -> bytes:
    if voice.engine == "espeak":
        # Text goes through stdin: as an argument a sentence starting with "-" is read as an option.
        return run(["espeak-ng", "-v", voice.name, "-p", str(pitch), "-s", str(rate), "--stdout", "--stdin"],
                   input=text.encode("utf-8"))
    if voice.engine == "flite":
        return _via_file(["flite", "-voice", voice.name, "-t", text, "-o"], [], None)
    if voice.engine == "festival":
        return _via_file(["text2wave", "-eval", f"(voice_{voice.name})", "-o"], [], text.encode("utf-8"))
    raise ValueError(f"unknown TTS engine {voice.engine!r} (voice {voice.key})")


def synthesize(voice: Voice, text: str, *, pitch: int = 50, rate: int = 160, speed: float = 1.0) -> np.ndarray:
    """Speak ``text``; return mono float32 at 16 kHz, shape (samples,). ``speed`` > 1 is faster/higher."""
    x, sr = _read_wav_bytes(_raw(voice, text, pitch, rate), f"{voice.key} saying {text[:40]!r}")
    # Resampling from sr*speed to SR plays the clip `speed` times faster.
    x = resample(x, int(round(sr * speed)), SR)
    if x.size == 0 or not np.isfinite(x).all():
        raise RuntimeError(f"{voice.key} produced empty or non-finite audio for {text[:40]!r}")
    return x.astype(np.float32)


def trim_silence(x: np.ndarray, threshold_db: float = -40.0, pad: int = SR // 50) -> np.ndarray:
    """Cut leading/trailing samples quieter than ``threshold_db`` below peak (keep ``pad`` samples)."""
    if x.size == 0:
        return x
    loud = np.flatnonzero(np.abs(x) > np.max(np.abs(x)) * 10 ** (threshold_db / 20))
    if loud.size == 0:
        return x
    return x[max(0, loud[0] - pad): loud[-1] + pad]
