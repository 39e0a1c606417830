"""Domain weights: the share of each domain (speech, music, env) in the crops of a training pass.

A pass still draws one crop per file in number, but each domain's share is fixed by weights. A domain
with few files is drawn several times per pass (the r-th draw of a file in a pass is keyed
``(file, r)``, so each draw is a new crop), a large one is subsampled; within a pass a domain's files
are drawn without replacement as far as its count allows. Pure numpy: the config check imports it,
and ``slicer-embed train --help`` must not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def parse_domain_weights(text: str) -> dict[str, float]:
    """``"speech=1,music=1,env=1"`` -> {"speech": 1.0, ...}; empty text -> {} (no weighting)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not name.strip() or not weight >= 0 or name.strip() in out:
            raise ValueError(f"domain weights {text!r}: expected name=weight pairs with weights >= 0, "
                             f"each name once (e.g. speech=1,music=1,env=1)")
        out[name.strip()] = weight
    if out and sum(out.values()) <= 0:
        raise ValueError(f"domain weights {text!r}: at least one weight must be > 0")
    return out


@dataclass(frozen=True)
class DomainPlan:
    """File ``i`` belongs to domain ``names[of[i]]``; one pass draws ``counts[d]`` crops of domain d."""

    names: tuple[str, ...]
    of: np.ndarray  # (files,) int domain index per file
    counts: tuple[int, ...]

    def mix(self) -> dict[str, tuple[int, float]]:
        """{domain: (crops per pass, share of the pass)}."""
        total = sum(self.counts)
        return {n: (c, c / total) for n, c in zip(self.names, self.counts)}


def domain_plan(domains: Sequence[str], weights: dict[str, float]) -> DomainPlan:
    """Crops per pass by domain: ``len(domains)`` crops in all, split in proportion to ``weights``.

    Every domain present in the files needs a weight (0 leaves it out), and every weighted domain
    needs files; largest-remainder rounding makes the counts add up exactly."""
    present = sorted(set(domains))
    missing = [d for d in present if d not in weights]
    empty = [d for d, w in weights.items() if w > 0 and d not in present]
    if missing or empty:
        raise ValueError(f"domain weights {weights}: " + "; ".join(
            ([f"no weight for the domain(s) {missing} of the data"] if missing else [])
            + ([f"no files of the weighted domain(s) {empty}"] if empty else [])))
    names = tuple(d for d in present if weights[d] > 0)
    n, total = len(domains), sum(weights[d] for d in names)
    exact = [n * weights[d] / total for d in names]
    counts = [int(x) for x in exact]
    for k in sorted(range(len(names)), key=lambda k: counts[k] - exact[k])[: n - sum(counts)]:
        counts[k] += 1
    index = {d: k for k, d in enumerate(names)}
    of = np.array([index.get(d, -1) for d in domains], dtype=np.int64)
    return DomainPlan(names, of, tuple(counts))


def pass_draws(plan: DomainPlan, seed: int, epoch: int) -> np.ndarray:
    """(crops, 2) int array of (file index, r-th draw of that file in this pass), in pass order."""
    parts = []
    for k, count in enumerate(plan.counts):
        members = np.flatnonzero(plan.of == k)
        rng = np.random.default_rng([seed, epoch, 2, k])
        reps = -(-count // len(members))
        idx = np.concatenate([rng.permutation(members) for _ in range(reps)])[:count]
        rep = np.repeat(np.arange(reps), len(members))[:count]
        parts.append(np.stack([idx, rep], axis=1))
    draws = np.concatenate(parts)
    return draws[np.random.default_rng([seed, epoch, 1]).permutation(len(draws))]
