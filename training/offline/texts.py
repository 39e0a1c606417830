"""Sentences for synthetic speech: Debian ``fortunes-*`` cookies, or word-list pseudo-sentences.

Cookies are split on ``%`` lines, flattened, and kept when 20-90 characters of plain letters and
basic punctuation (no URLs, code, or symbol art). French has no fortunes package in bookworm, so it
gets 5-9 random words from ``wfrench``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .debs import DebCache

FORTUNES = {"en": "fortunes-min", "de": "fortunes-de", "es": "fortunes-es", "it": "fortunes-it", "ru": "fortunes-ru"}
WORDLISTS = {"fr": ("wfrench", "usr/share/dict/french")}
_OK = re.compile(r"^[\w\s,.;:!?'\-\u00c0-\u024f\u0400-\u04ff]+$")


def text_packages(langs: list[str]) -> list[str]:
    return [FORTUNES[lang] if lang in FORTUNES else WORDLISTS[lang][0] for lang in langs]


def _read(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@lru_cache(maxsize=16)
def sentences(cache_root: str, lang: str) -> tuple[str, ...]:
    """Sorted unique usable sentences for ``lang`` (deterministic)."""
    cache = DebCache(Path(cache_root))
    if lang in WORDLISTS:
        pkg, rel = WORDLISTS[lang]
        words = np.array(sorted({w for w in _read(cache.tree(pkg) / rel).split() if w.isalpha() and 3 <= len(w) <= 12}))
        rng = np.random.default_rng(1234)
        return tuple(" ".join(rng.choice(words, size=int(rng.integers(5, 10)))) for _ in range(4000))
    out = set()
    for f in sorted(cache.tree(FORTUNES[lang]).rglob("*")):
        if not f.is_file() or f.suffix in (".dat", ".u8") or "doc" in f.parts:
            continue
        for cookie in _read(f).split("\n%\n"):
            s = " ".join(cookie.split())
            if 20 <= len(s) <= 90 and _OK.match(s) and "http" not in s:
                out.add(s)
    if not out:
        raise RuntimeError(f"no usable {lang} sentences in {cache.tree(FORTUNES[lang])}")
    return tuple(sorted(out))
