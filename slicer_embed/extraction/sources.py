"""Turning an ``extract`` SOURCE argument into an ordered list of input files.

SOURCE is one of: an audio file; a directory (searched recursively unless ``recursive=False``);
a glob pattern (``**`` allowed); a ``.txt``/``.csv``/``.tsv`` list of paths (one per line, or the
first column / a ``path`` column of a CSV); or ``-`` for such a list on stdin. The order is
deterministic (sorted for directories and globs, as written for lists), because row ``i`` of the
output belongs to input ``i`` and a resumed or sharded run must agree on it.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO

DEFAULT_EXTENSIONS = ("wav", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff", "aifc", "au", "caf",
                      "w64", "rf64")
"""Extensions picked up in directories and globs (case-insensitive); lists are taken as written."""

LIST_SUFFIXES = (".txt", ".csv", ".tsv", ".lst")


class SourceError(ValueError):
    """A SOURCE argument that names nothing usable (usage error, exit status 2)."""


@dataclass(frozen=True)
class Entry:
    """One input: ``path`` to open, ``rel`` the name recorded in outputs (relative to SOURCE)."""

    path: str
    rel: str


def discover(source: str, *, extensions: Iterable[str] = DEFAULT_EXTENSIONS, recursive: bool = True,
             stdin: TextIO | None = None) -> list[Entry]:
    """Resolve ``source`` into entries; raises ``SourceError`` when it matches no file."""
    exts = {e.lower().lstrip(".") for e in extensions}
    if source == "-":
        entries = _from_list((stdin or sys.stdin).read(), base=Path.cwd(), where="stdin")
    elif _is_glob(source) and not os.path.exists(source):
        entries = _from_glob(source, exts)
    else:
        p = Path(source).expanduser()
        if p.is_dir():
            entries = _from_dir(p, exts, recursive)
        elif p.is_file() and p.suffix.lower() in LIST_SUFFIXES:
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise SourceError(f"{p}: cannot read the list of paths ({e})") from e
            entries = _from_list(text, base=p.parent, where=str(p))
        elif p.is_file() or p.is_symlink():
            entries = [Entry(str(p), p.name)]
        elif p.exists():  # a FIFO, socket or device: opening a FIFO would wait for a writer forever
            raise SourceError(f"{source}: not a regular file ({special_kind(p)})")
        else:
            raise SourceError(f"{source}: no such file, directory or glob match")
    if not entries:
        raise SourceError(f"{source}: matched no audio files (extensions: {','.join(sorted(exts))}; "
                          f"use --ext to change them)")
    _check_unique(entries)
    return entries


def special_kind(p: Path) -> str:
    """What a path that is neither a regular file nor a folder is, for messages."""
    from ..audio import file_kind
    return file_kind(os.stat(p).st_mode)


def _is_glob(s: str) -> bool:
    return any(c in s for c in "*?[")


def _from_dir(root: Path, exts: set[str], recursive: bool) -> list[Entry]:
    found: list[Entry] = []
    # os.walk with sorted dirs/files: stable order on every filesystem, and it follows no
    # directory symlinks (no cycles).
    for d, dirs, files in os.walk(root):
        dirs.sort()
        if not recursive:
            dirs.clear()
        for name in sorted(files):
            if name.rsplit(".", 1)[-1].lower() in exts and "." in name and not name.startswith("."):
                full = Path(d) / name
                found.append(Entry(str(full), full.relative_to(root).as_posix()))
    return found


def _from_glob(pattern: str, exts: set[str]) -> list[Entry]:
    root = _glob_root(pattern)
    paths = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True) if os.path.isfile(p))
    # A pattern that spells out an extension (``*.m4a``) is taken as the user's choice; an open one
    # (``data/**``, ``*.*``) is filtered by the audio extensions like a directory.
    last = Path(pattern).name
    explicit = "." in last and not _is_glob(last.rsplit(".", 1)[-1])
    if not explicit:
        paths = [p for p in paths if p.rsplit(".", 1)[-1].lower() in exts]
    return [Entry(p, _rel(p, root)) for p in paths]


def _glob_root(pattern: str) -> Path:
    parts = Path(os.path.expanduser(pattern)).parts
    fixed = []
    for part in parts:
        if _is_glob(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _rel(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _from_list(text: str, *, base: Path, where: str) -> list[Entry]:
    """Paths from a text list or CSV; relative paths are relative to the list file's folder.

    A text list is one name per line taken exactly as written, spaces included (only the line break
    goes); blank lines and lines whose first non-blank character is ``#`` are skipped, and ``\\#`` at
    the start of a name stands for ``#``. CSV/TSV cells are stripped of surrounding spaces."""
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the first name
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return []
    col = 0
    if "," in lines[0] or "\t" in lines[0]:
        dialect = csv.excel_tab if "\t" in lines[0] else csv.excel
        rows = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
        header = [h.strip().lower() for h in rows[0]]
        if "path" in header or "filename" in header or "file" in header:
            col = next(i for i, h in enumerate(header) if h in ("path", "filename", "file"))
            rows = rows[1:]
        names = [r[col].strip() for r in rows if len(r) > col and r[col].strip()]
    else:
        names = [_unescape(ln) for ln in lines]
    out = []
    for name in names:
        p = Path(name).expanduser()
        out.append(Entry(str(p if p.is_absolute() else base / p), name))
    if not out:
        raise SourceError(f"{where}: the list holds no paths")
    return out


def _unescape(line: str) -> str:
    """A text-list line as a name: ``\\#`` after any leading spaces is a literal ``#``."""
    body = line.lstrip()
    if body.startswith("\\#"):
        return line[:len(line) - len(body)] + body[1:]
    return line


def _check_unique(entries: list[Entry]) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        if e.rel in seen:
            raise SourceError(f"input listed twice: {e.rel!r} (outputs are keyed by path; remove duplicates)")
        seen[e.rel] = e.path
