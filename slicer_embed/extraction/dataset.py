"""Decoding, resampling and windowing in DataLoader worker processes; window batches across files.

Each worker takes a disjoint subset of the files, streams each one through
``slicer_embed.audio.stream_audio`` (blockwise decode + soxr resampling, so a 2-hour file never sits
in memory), cuts it into encoder windows with ``slicer_embed.windows.iter_windows`` and packs windows
of consecutive files into batches of at most ``batch_size`` windows. Only the encoder runs in the main
process. Per-file events travel in the batch that holds the file's last window (or a later one), so
the main process always sees a file's windows before its ``done``/``fail`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..audio import stream_audio
from ..windows import iter_windows, valid_frames
from .memory import pin_mmap_threshold

DONE, FAIL = "done", "fail"


@dataclass(frozen=True)
class WindowSpec:
    """How the model cuts audio: ``window`` samples at ``sample_rate`` Hz, ``frames_per_window``
    log-mel frames of ``hop`` samples pooled by ``stride`` into one output frame."""

    sample_rate: int
    window: int
    frames_per_window: int
    hop: int
    stride: int

    @classmethod
    def of(cls, model: torch.nn.Module) -> "WindowSpec":
        cfg = model.config
        return cls(model.sample_rate, cfg.window_samples, cfg.frames_per_window, cfg.frontend.hop_length,
                   cfg.architecture.time_stride)


@dataclass
class Batch:
    """What a worker hands to the main process.

    ``windows`` (B, window) float32 tensor at ``sample_rate``; ``keys`` (B,) int64 array, input index
    of each window; ``kept`` (B,) int64 array, number of leading output frames of each window that
    belong to the clip; ``events`` list of ``(DONE, index, n_samples)`` or ``(FAIL, index, reason)``.
    B may be 0. ``keys`` and ``kept`` are numpy arrays, not tensors, so that they travel inside the
    pickled batch: every tensor crosses from a worker as its own shared-memory file whose descriptor
    is handed over on a fresh, authenticated socket connection.
    """

    windows: torch.Tensor
    keys: np.ndarray
    kept: np.ndarray
    events: list[tuple[str, int, object]] = field(default_factory=list)


class _Pending:
    def __init__(self, batch_size: int, window: int):
        self.batch_size, self.window = batch_size, window
        self.items: list[tuple[int, np.ndarray, int]] = []
        self.events: list[tuple[str, int, object]] = []

    def full(self) -> bool:
        return len(self.items) >= self.batch_size

    def drop(self, key: int) -> None:
        self.items = [it for it in self.items if it[0] != key]

    def flush(self) -> Batch:
        if self.items:
            windows = torch.from_numpy(np.stack([w for _, w, _ in self.items]))
        else:
            windows = torch.zeros(0, self.window)
        batch = Batch(windows, np.array([k for k, _, _ in self.items], dtype=np.int64),
                      np.array([n for _, _, n in self.items], dtype=np.int64), self.events)
        self.items, self.events = [], []
        return batch


def failure_reason(exc: BaseException, path: str) -> str:
    """One-line reason for the errors file, without the path that the row already names."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for prefix in (f"{path}: ", f"{path} "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


class WindowBatches(IterableDataset):
    """Iterable of ``Batch`` over ``items`` = [(input index, path), ...]; see the module docstring."""

    def __init__(self, items: Sequence[tuple[int, str]], spec: WindowSpec, batch_size: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.items, self.spec, self.batch_size = list(items), spec, batch_size

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        mine = self.items if info is None else self.items[info.id::info.num_workers]
        pending = _Pending(self.batch_size, self.spec.window)
        for key, path in mine:
            try:
                for batch in self._one_file(key, path, pending):
                    yield batch
            except Exception as e:  # noqa: BLE001 - any failure of one file is that file's problem
                pending.drop(key)
                pending.events.append((FAIL, key, failure_reason(e, path)))
        if pending.items or pending.events:
            yield pending.flush()

    def _one_file(self, key: int, path: str, pending: _Pending) -> Iterator[Batch]:
        s = self.spec
        n_samples, first = 0, True
        for win, n_valid in iter_windows(stream_audio(path, s.sample_rate), s.window):
            k = valid_frames(n_valid, s.frames_per_window, s.hop, s.stride)
            if first:
                k = max(k, 1)  # every clip keeps at least one frame (as in SlicerModel._frame_stream)
                first = False
            n_samples += n_valid
            if k:
                pending.items.append((key, win, k))
            if pending.full():
                yield pending.flush()
        pending.events.append((DONE, key, n_samples))


def _keep(batch: Batch) -> Batch:
    return batch  # batches are built by the dataset itself; no collation


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # workers only decode; the encoder's threads belong to the main process
    pin_mmap_threshold()  # flat memory over long files; free here (decode blocks are small)


def make_loader(items: Sequence[tuple[int, str]], spec: WindowSpec, batch_size: int,
                num_workers: int) -> DataLoader:
    """A DataLoader yielding ``Batch`` objects, decoding in ``num_workers`` processes (0 = inline)."""
    kwargs: dict = {}
    if num_workers > 0:
        kwargs = dict(worker_init_fn=_worker_init, prefetch_factor=2, persistent_workers=False)
    return DataLoader(WindowBatches(items, spec, batch_size), batch_size=None, collate_fn=_keep,
                      num_workers=num_workers, **kwargs)
