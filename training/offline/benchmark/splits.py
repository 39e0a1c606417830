"""Split assignment for the benchmark: whole groups (speakers, packages, names) go to one split."""

from __future__ import annotations

from ..common import rng_for

SPLITS = ("train", "valid", "test")


def assign_groups(groups: list[str], seed: int, key: str, fractions: tuple[float, float] = (0.2, 0.2)) -> dict[str, str]:
    """Shuffle ``groups`` (seeded by ``seed`` and ``key``) and give the first ``valid`` share to valid,
    the next ``test`` share to test and the rest to train; each split gets at least one group when
    there are three or more. Deterministic and independent of the order of ``groups``."""
    groups = sorted(set(groups))
    n = len(groups)
    order = [groups[i] for i in rng_for(seed, "assign", key).permutation(n)]
    n_valid = max(1 if n >= 3 else 0, round(fractions[0] * n))
    n_test = max(1 if n >= 3 else 0, round(fractions[1] * n))
    return {g: "valid" if i < n_valid else "test" if i < n_valid + n_test else "train" for i, g in enumerate(order)}
