"""mini-LAPE task builders. Each module exposes ``NAME``, ``packages(ctx)`` and ``plan(ctx)``.

``plan`` returns the full list of :class:`~..manifest.Clip` specs (cheap: no audio is rendered).
Tiny plans are subsets of the full plan's material, and split assignment never depends on
``tiny``, so real files in a tiny test split are always in the full test split as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..debs import DebCache


@dataclass(frozen=True)
class Context:
    """Build settings shared by all tasks."""

    cache: DebCache
    seed: int = 0
    tiny: bool = False
    jobs: int = 2


TASK_NAMES = ("kws", "speaker", "language", "instrument", "expression", "bird")  # the six-task mean
PROBE_NAMES = ("pitch",)  # built and evaluated beside them, reported apart (not in the mean)
ALL_NAMES = TASK_NAMES + PROBE_NAMES


def task_module(name: str):
    """Import ``tasks.<name>`` lazily (keeps ``--help`` fast)."""
    import importlib

    if name not in ALL_NAMES:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(ALL_NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")
