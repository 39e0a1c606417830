"""BIRD-2: bird presence in 5 s mixtures (a DCASE bird-detection stand-in), file-disjoint.

Positives: a bird call over a background bed at -5..15 dB SNR. Negatives: the same kind of bed with
a non-bird event (mammals, insects, work sounds) at the same SNR range, so "an event is present" is
not a shortcut. Bird species and event files are assigned to one split by hashing; the seven real
beds by hand (hashing so few can leave a split with none), matching the KWS task's bed splits.
Synthetic white/brown/pink noise beds add one noise colour per split.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ..augment import coloured_noise, loop_to, mix_at_snr
from ..common import SR, decode, decode_cached, fit_length, peak_normalise, rng_for, split_of
from ..manifest import Clip
from ..sources import SUPERTUX, TUXPAINT, WIDELANDS, bird_group, bird_material
from . import Context

NAME = "bird"
SECONDS = 5.0
FRACTIONS = (0.15, 0.3)
COUNTS = {"train": 1200, "valid": 300, "test": 600}
TINY_COUNTS = {"train": 8, "valid": 4, "test": 4}
NOISE_BEDS = {"train": "white", "valid": "brown", "test": "pink"}
# Real beds by file-name stem; test's are the KWS test beds, so no bed is train in one task, test in the other.
BED_SPLIT = {"rain": "train", "fire": "train", "crickets1_00": "train", "lava": "valid", "sizzle": "valid",
             "waterfall": "test", "crickets2_00": "test"}


def packages(ctx: Context) -> list[str]:
    # Tiny builds use Tux Paint only (birds + animal events) and synthetic noise beds.
    return [TUXPAINT] if ctx.tiny else [TUXPAINT, WIDELANDS, SUPERTUX]


def split_for(kind: str, sid: str, seed: int) -> str:
    """The split of one real file: beds from BED_SPLIT (KeyError for an unknown bed), the rest by hash."""
    return BED_SPLIT[Path(sid).stem] if kind == "bed" else split_of(bird_group(sid), seed, FRACTIONS)


def make_mixture(bed: str, fg: str, seed: int, key: str) -> np.ndarray:
    """5 s: bed (file path, or "noise:<colour>") + foreground at a random offset and SNR."""
    rng = rng_for(seed, NAME, key)
    n = int(SECONDS * SR)
    base = coloured_noise(n, bed[6:], rng) if bed.startswith("noise:") else loop_to(decode_cached(bed), n, rng)
    event = decode(fg)[: n - SR // 2]
    offset = int(rng.integers(0, n - len(event) + 1))
    # SNR is measured over the event's own extent, so short calls are not drowned by the 5 s average.
    snr = float(rng.uniform(-5, 15))
    bed_part = base[offset:offset + len(event)]
    mixed = mix_at_snr(event, bed_part, snr)
    gain = float(np.linalg.norm(mixed - event) / (np.linalg.norm(bed_part) + 1e-9))
    return peak_normalise(base * gain + fit_length(event, n, offset))


def plan(ctx: Context) -> list[Clip]:
    mat = bird_material(ctx.cache, packages(ctx))
    by_split: dict[str, dict[str, list[tuple[str, str]]]] = {s: {"bird": [], "event": [], "bed": []} for s in COUNTS}
    for kind, recs in mat.items():
        for r in recs:
            by_split[split_for(kind, r.sid, ctx.seed)][kind].append((str(r.path), r.sid))
    counts = TINY_COUNTS if ctx.tiny else COUNTS
    clips = []
    for split, n in counts.items():
        pool = by_split[split]
        beds = pool["bed"] + [(f"noise:{NOISE_BEDS[split]}", f"noise:{NOISE_BEDS[split]}")]
        if not pool["bird"] or not pool["event"]:
            raise RuntimeError(f"bird task: split {split} has no bird or no event files; change --seed")
        for i in range(n):
            rng = rng_for(ctx.seed, NAME, split, i)
            label = "bird" if i % 2 == 0 else "no_bird"
            fgs = pool["bird" if label == "bird" else "event"]
            fg_path, fg_sid = fgs[int(rng.integers(len(fgs)))]
            bed_path, bed_sid = beds[int(rng.integers(len(beds)))]
            srcs = tuple(s for s in (fg_sid, bed_sid) if not s.startswith("noise:"))
            key = f"{split}-{i:05d}"
            clips.append(Clip(f"audio/{split}/{key}.wav", partial(make_mixture, bed_path, fg_path, ctx.seed, key),
                              label, split, f"file:{bird_group(fg_sid)}", srcs))
    return clips



def reserved_test_sources(ctx: Context) -> set[str]:
    """Every real file assigned to the test split, used in a clip or not (the corpus leaves them out)."""
    mat = bird_material(ctx.cache, packages(ctx))
    return {r.sid for kind, recs in mat.items() for r in recs if split_for(kind, r.sid, ctx.seed) == "test"}
