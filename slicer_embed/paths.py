"""File names as bytes and as text: the one place that turns a path into something to hash or print.

Linux file names are bytes; Python gives the undecodable ones back as lone surrogates (PEP 383), which
``str.encode()``, JSON readers, Parquet and TSV files all reject. Hashes and fingerprints use the exact
bytes (``to_bytes``); everything written for people or other programs uses ``display``: valid UTF-8,
with each undecodable byte written as ``\\xNN`` (so ``b"caf\\xe9.wav"`` shows as ``caf\\xe9.wav``).
"""

from __future__ import annotations

import os
from typing import Union

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def to_bytes(path: PathLike) -> bytes:
    """The file system's bytes for ``path`` (lone surrogates map back to the bytes they stand for)."""
    return os.fsencode(path)


def display(path: PathLike) -> str:
    """``path`` as valid UTF-8 text: undecodable bytes become ``\\xNN``."""
    return to_bytes(path).decode("utf-8", "backslashreplace")


def tsv_field(text: str) -> str:
    """One TSV cell: backslash, tab, newline and carriage return escaped as ``\\\\``, ``\\t``, ``\\n``, ``\\r``."""
    return (display(text).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))
