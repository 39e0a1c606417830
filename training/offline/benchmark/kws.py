"""kws: the 10 Speech Commands keywords + ``_unknown_``, spoken by flite and festival voices only.

11 classes: yes no up down left right on off stop go, and ``_unknown_`` (one of the 25 other Speech
Commands V2 words per take). Every voice says every class ``TAKES`` times, each take with its own
duration stretch (0.8-1.25), speed (0.9-1.1: tempo and pitch) and offset inside the 1 s clip; half
the clips are mixed at 5-25 dB SNR into a background bed of their split (coloured noise, or a
game ambience of a benchmark package). Split by *speaker*: the voices of one recorded person
(flite kal/kal16 + festival kal_diphone; flite slt + festival slt HTS) stay together; native
English and accented (Italian, Czech, Finnish, Russian, Catalan festival voices reading English)
speakers are each split ~60/20/20.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..augment import coloured_noise, loop_to, mix_at_snr
from ..common import SR, decode_cached, fit_length, peak_normalise, rng_for
from ..manifest import Clip
from .readable import readable_files as files
from ..tasks import Context
from ..tts import Voice, trim_silence
from .speech import SYSTEM_LICENCES, VOICES, native_english, require_voices, speaker_of, spoken
from .splits import assign_groups

NAME = "kws"
WORDS = "yes no up down left right on off stop go".split()
UNKNOWN = ("bed bird cat dog happy house marvin sheila tree wow zero one two three four five six seven eight "
           "nine backward forward follow learn visual").split()
TAKES, TINY_TAKES = 8, 1
S3D = "scorched3d-data/usr/share/games/scorched3d/data/globalmods"
BEDS = {  # split -> bed ids: "noise:<colour>" or the start of a benchmark package's source id
    "train": ["noise:white", "btanks-data/usr/share/games/btanks/data/sounds/ambient/"],
    "valid": ["noise:brown", f"{S3D}/none/data/wav/misc/rain.", f"{S3D}/none/data/wav/misc/oceanwaves."],
    "test": ["noise:pink", "lugaru-data/usr/share/games/lugaru/Sounds/Wind.",
             "lugaru-data/usr/share/games/lugaru/Sounds/DesertAmbient.", f"{S3D}/apoc/data/wav/misc/citysounds."],
}
BED_PACKAGES = ["btanks-data", "scorched3d-data", "lugaru-data"]
system_licences = SYSTEM_LICENCES


def packages(ctx: Context) -> list[str]:
    return [] if ctx.tiny else BED_PACKAGES


def speaker_splits(seed: int) -> dict[str, str]:
    """speaker -> split; native English and accented speakers are shuffled and split separately."""
    out: dict[str, str] = {}
    for native in (True, False):
        out.update(assign_groups([speaker_of(v) for v in VOICES if native_english(v) == native], seed,
                                 f"{NAME}:{native}"))
    return out


def voices(ctx: Context) -> dict[Voice, str]:
    """voice -> split; the tiny build keeps the first flite voice (else the first voice) of each split."""
    spl = speaker_splits(ctx.seed)
    full = {v: spl[speaker_of(v)] for v in VOICES}
    if not ctx.tiny:
        return full
    pick: dict[str, Voice] = {}
    for v, s in sorted(full.items(), key=lambda vs: (vs[0].engine != "flite", VOICES.index(vs[0]))):
        pick.setdefault(s, v)
    return {v: s for s, v in pick.items()}


def bed_paths(ctx: Context) -> dict[str, list[tuple[str, str]]]:
    """split -> [(path or noise id, source id)]: coloured noise always, game ambiences when fetched."""
    real = [r for p in packages(ctx) for r in files(ctx.cache, p)]
    out = {}
    for split, keys in BEDS.items():
        out[split] = [(k, k) for k in keys if k.startswith("noise:")]
        out[split] += [(str(r.path), r.sid) for r in real for k in keys if r.sid.startswith(k)]
    return out


def background(bed: str, n: int, rng: np.random.Generator) -> np.ndarray:
    return coloured_noise(n, bed[6:], rng) if bed.startswith("noise:") else loop_to(decode_cached(bed), n, rng)


def make_word(voice: Voice, items: tuple[tuple[str, float], ...], index: int, bed: str | None, seed: int,
              key: str) -> np.ndarray:
    """1 s clip: item ``index`` of the voice's batch at a random offset, optionally over ``bed``."""
    rng = rng_for(seed, NAME, key)
    x = peak_normalise(trim_silence(spoken(voice, items, index, float(rng.uniform(0.9, 1.1)))))
    x = fit_length(x, SR, int(rng.integers(0, max(1, SR - len(x)))))
    if bed is not None:
        x = mix_at_snr(x, background(bed, SR, rng), float(rng.uniform(5, 25)))
    return peak_normalise(x)


def plan(ctx: Context) -> list[Clip]:
    require_voices(tuple(voices(ctx)))
    beds = bed_paths(ctx)
    takes = TINY_TAKES if ctx.tiny else TAKES
    clips = []
    for voice, split in voices(ctx).items():
        specs = []  # (label, word, stretch, key) in the voice's batch order
        for t in range(takes):
            rng = rng_for(ctx.seed, NAME, voice.key, t)
            unknown = UNKNOWN[int(rng.integers(len(UNKNOWN)))]
            for word, label in [(w, w) for w in WORDS] + [(unknown, "_unknown_")]:
                specs.append((label, word, round(float(rng.uniform(0.8, 1.25)), 3), t))
        items = tuple((w, s) for _, w, s, _ in specs)
        vname = voice.key.replace(":", "_")
        for i, (label, word, _, t) in enumerate(specs):
            key = f"{vname}-{word}-{t}"
            rng = rng_for(ctx.seed, NAME, "bed", key)
            bed, bed_sid = beds[split][int(rng.integers(len(beds[split])))] if rng.random() < 0.5 else (None, "")
            srcs = (f"tts:{voice.key}",) + ((bed_sid,) if bed and not bed.startswith("noise:") else ())
            clips.append(Clip(f"audio/{label}/{key}.wav", partial(make_word, voice, items, i, bed, ctx.seed, key),
                              label, split, f"speaker:{speaker_of(voice)}", srcs))
    return clips


def chunk_size(ctx: Context) -> int:
    """Clips per voice: each worker synthesises a voice's batch once."""
    return (TINY_TAKES if ctx.tiny else TAKES) * (len(WORDS) + 1)
