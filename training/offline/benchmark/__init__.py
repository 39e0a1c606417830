"""The out-of-domain development benchmark (``slicer-embed data benchmark OUT``): 8 labelled tasks
built only from sources the pretraining corpus never reads (``..allocation``: benchmark packages,
flite and festival voices, the GeneralUser GS / csound GM / TimGM6mb soundfonts).

Each task module exposes ``NAME``, ``packages(ctx)`` (Debian packages it reads; the builder refuses
reserved ones before fetching) and ``plan(ctx)`` (the :class:`~..manifest.Clip` list; cheap, no
audio rendered), optionally ``chunk_size(ctx)`` (clips one worker renders together) and
``system_licences`` (installed packages whose copyright covers synthesised audio). Split assignment
never depends on ``--tiny``.
"""

from __future__ import annotations

NAMES = ("kws", "speaker", "instrument", "pitch", "chord", "drums", "sfx", "broad")


def task_module(name: str):
    """Import ``benchmark.<name>`` lazily (keeps ``--help`` fast)."""
    import importlib

    if name not in NAMES:
        raise ValueError(f"unknown benchmark task {name!r}; choose from {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")
