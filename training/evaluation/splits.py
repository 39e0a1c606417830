"""Seeded, stratified, group-aware hold-out splits (pure functions on label/group lists).

Used twice: to cut a test split for datasets that ship none (LibriSpeech, VoxForge, bird detection,
MUSAN) and to carve a ``valid`` split out of ``train`` when a task has none. Whole groups (speaker,
recording location, source file...) go to one side only, so no speaker or recording leaks across.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Sequence

import numpy as np


def holdout_mask(labels: Sequence[str], groups: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """Boolean mask (N,) of the rows to hold out: about ``fraction`` of each label, whole groups only.

    ``groups[i] == ""`` makes row i its own group. Groups are visited in a seeded random order and
    taken while no label goes over ``ceil(fraction * count)`` held-out rows and every label keeps at
    least one row on the training side. Deterministic for (labels, groups, fraction, seed).
    """
    if len(labels) != len(groups):
        raise ValueError(f"labels ({len(labels)}) and groups ({len(groups)}) differ in length")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"hold-out fraction must be in (0, 1), got {fraction}")
    keys = [g if g else f"\0row{i}" for i, g in enumerate(groups)]
    members: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        members[k].append(i)
    totals = Counter(labels)
    quota = {lab: math.ceil(fraction * n) for lab, n in totals.items()}
    taken: Counter = Counter()
    order = sorted(members)  # sorted first: the permutation must not depend on dict/set order
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for j in rng.permutation(len(order)):
        rows = members[order[j]]
        need = Counter(labels[i] for i in rows)
        if all(taken[lab] + n <= quota[lab] and totals[lab] - taken[lab] - n >= 1 for lab, n in need.items()):
            taken.update(need)
            mask[rows] = True
    return mask
