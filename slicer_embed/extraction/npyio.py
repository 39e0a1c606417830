"""Large arrays on disk in bounded memory: ``.npy`` files written by row ranges, ``.npz`` built member by member.

The output writers never memory-map what they write: pages of a writable ``np.memmap`` count in the
writer's resident set until the mapping goes, so a memory-mapped 37 GB frame array "uses" 37 GB of
RSS on the way out even though it is only page cache. Here rows go through ``os.pwrite`` /
``os.pread`` in blocks of at most ``BLOCK_BYTES``, so the writer holds one block however big the file.

``NpyRows``: a real ``.npy`` (``np.load(path, mmap_mode="r")`` works) of shape (rows, dim), created
at its full size (sparse) and filled in any row order. ``write_npz``: an uncompressed ``.npz``
(zip64 when large) that ``np.load`` reads like ``np.savez``'s, whose members are either small arrays
or ``.npy`` files copied in blocks.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import IO, Iterable, Iterator

import numpy as np

from ..atomic import atomic_open

BLOCK_BYTES = 8 << 20


def _header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    buf = io.BytesIO()
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buf, d)  # padded so the data starts 64-byte aligned
    return buf.getvalue()


def block_rows(dim: int, itemsize: int) -> int:
    """Rows per block of at most BLOCK_BYTES (at least one)."""
    return max(1, BLOCK_BYTES // max(1, dim * itemsize))


class NpyRows:
    """A (rows, dim) ``.npy`` file at ``path``, written and read by row ranges without a memory map."""

    def __init__(self, path: Path, rows: int, dim: int, dtype: np.dtype):
        """Create the file at its full size (sparse until written)."""
        self.path, self.rows, self.dim, self.dtype = Path(path), int(rows), int(dim), np.dtype(dtype)
        head = _header((self.rows, self.dim), self.dtype)
        self.offset = len(head)
        self.row_bytes = self.dim * self.dtype.itemsize
        with open(self.path, "wb") as f:
            f.write(head)
            f.truncate(self.offset + self.rows * self.row_bytes)
        self._fd = os.open(self.path, os.O_RDWR)

    def write(self, row: int, block: np.ndarray) -> None:
        """Store ``block`` (n, dim), cast to the file's dtype, as rows ``row .. row + n``."""
        if block.ndim != 2 or block.shape[1] != self.dim or row < 0 or row + len(block) > self.rows:
            raise ValueError(f"{self.path}: rows {row}..{row + len(block)} of shape {block.shape} do not fit "
                             f"({self.rows}, {self.dim})")
        step = block_rows(self.dim, self.dtype.itemsize)
        for s in range(0, len(block), step):
            data = np.ascontiguousarray(block[s:s + step], dtype=self.dtype).tobytes()
            pos, view = self.offset + (row + s) * self.row_bytes, memoryview(data)
            while view:  # pwrite may write less than asked (signals, quotas)
                try:
                    n = os.pwrite(self._fd, view, pos)
                except OSError as e:  # a full disk: name the file in the message
                    e.filename = e.filename if e.filename is not None else str(self.path)
                    raise
                view, pos = view[n:], pos + n

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop`` as a fresh array."""
        n = max(0, stop - start) * self.row_bytes
        data = os.pread(self._fd, n, self.offset + start * self.row_bytes)
        if len(data) != n:
            raise OSError(f"{self.path}: short read of rows {start}..{stop}")
        return np.frombuffer(data, self.dtype).reshape(-1, self.dim).copy()

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Rows ``start .. stop`` in blocks of at most BLOCK_BYTES."""
        stop = self.rows if stop is None else stop
        step = block_rows(self.dim, self.dtype.itemsize)
        for s in range(start, stop, step):
            yield self.read(s, min(stop, s + step))

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "NpyRows":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stream:
    """An npz member given as its shape (at least 1-D), dtype and the blocks of rows that make it, in order."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, blocks: Iterable[np.ndarray]):
        self.shape, self.dtype, self.blocks = tuple(shape), np.dtype(dtype), blocks


def write_npz(f: IO[bytes], members: dict[str, "np.ndarray | Stream"]) -> None:
    """Write an uncompressed ``.npz`` to the open binary file ``f``, member by member.

    Arrays are written whole (keep them small); a ``Stream`` is written block by block, each block
    cast to its dtype, and must deliver exactly ``shape[0]`` rows. Loads with ``np.load`` (default
    ``allow_pickle=False``) exactly like ``np.savez``'s output.
    """
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in members.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as m:
                if isinstance(value, Stream):
                    m.write(_header(value.shape, value.dtype))
                    rows = 0
                    for block in value.blocks:
                        m.write(np.ascontiguousarray(block, dtype=value.dtype).tobytes())
                        rows += len(block)
                    if rows != value.shape[0]:
                        raise ValueError(f"npz member {name}: {rows} rows written, {value.shape[0]} declared")
                else:
                    np.lib.format.write_array(m, np.asanyarray(value), allow_pickle=False)


def save_npz(path: str | os.PathLike, members: dict[str, "np.ndarray | Stream"]) -> None:
    """``write_npz`` to ``path`` atomically (``slicer_embed.atomic``). A write error without a file
    name (zip members, a full disk) is given ``path``'s, so that the message can name it."""
    try:
        with atomic_open(path, "wb") as f:
            write_npz(f, members)
    except OSError as e:
        if e.filename is None:
            e.filename = os.fspath(path)
        raise
