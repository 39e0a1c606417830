"""Pretraining data: file lists, random 0.95 s crops at 16 kHz, and a resumable batch order.

The DataLoader workers do only the I/O-bound part (decode a file segment, resample, crop); log-mel,
normalisation and augmentation run batched in the training process (see training/method/memory.py for why).

Determinism: the batch order of epoch e is a permutation drawn from ``(seed, e)``, and the crop of
file i in epoch e from ``(seed, e, i)``. Neither depends on the number of workers or on what ran
before, so resuming at (epoch, batch) reproduces the data stream exactly without saving worker state.

Domain weights (``DomainPlan``): a pass still draws one crop per file in number, but the share of each
domain (the corpus manifest's ``domain`` column) is fixed by weights; a domain with few files is drawn
several times per pass (its r-th draw of a file in a pass crops from ``(seed, e, i, r)``), a large one
is subsampled, each without replacement within a pass as far as its count allows.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path
from typing import Iterator, Protocol, Sequence

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset, Sampler

from slicer_embed.audio import AudioDecodeError, audio_info, resample

from .domains import DomainPlan, pass_draws

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64"}
CSV_COLUMNS = ("files", "file_name", "path", "file", "filename")  # "files": LAPE; "file_name": our corpus manifest


def list_audio(source: str | os.PathLike) -> list[Path]:
    """Audio files of a folder (recursive, sorted) or of a CSV list (column files/path/..., else the first).

    Relative CSV paths are resolved against the CSV's folder.
    """
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"{source}: no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) found")
        return files
    if source.is_file() and source.suffix.lower() in (".csv", ".txt"):
        return _read_csv(source)
    raise FileNotFoundError(f"{source}: not a folder of audio files nor a .csv list")


def _file_table(path: Path) -> tuple[list[str], list[tuple[Path, list[str]]]]:
    """A CSV file list as (header, [(file, row), ...]): the header stripped and lower-cased, each file
    resolved against the CSV's folder; rows without a path are left out. The path column is the first
    of ``CSV_COLUMNS`` the header names; without one, every row is a path in column 0 (header ``[]``)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: empty file list")
    header = [h.strip().lower() for h in rows[0]]
    col = next((header.index(c) for c in CSV_COLUMNS if c in header), None)
    if col is None:
        header, col = [], 0
    else:
        rows = rows[1:]
    table = []
    for r in rows:
        if len(r) > col and r[col].strip():
            p = Path(r[col].strip())
            table.append((p if p.is_absolute() else path.parent / p, r))
    return header, table


def _read_csv(path: Path) -> list[Path]:
    files = [p for p, _ in _file_table(path)[1]]
    if not files:
        raise ValueError(f"{path}: no file paths found")
    return files


def check_files(files: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Split files into readable ones and 'path: reason' strings for those that cannot be opened."""
    good, bad = [], []
    for p in files:
        try:
            _, _, frames = audio_info(p)
            if frames <= 0:
                raise AudioDecodeError(f"{p}: contains no audio samples")
            good.append(Path(p))
        except AudioDecodeError as e:
            bad.append(str(e))
    return good, bad


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad symmetrically (left = deficit // 2, as the reference) or truncate to n samples."""
    if len(x) >= n:
        return x[:n]
    left = (n - len(x)) // 2
    return np.pad(x, (left, n - len(x) - left))


def random_crop_file(path: Path, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly placed crop of n samples at ``sample_rate`` (mono float32), reading only that segment."""
    sr_in, _, frames = audio_info(path)
    length = frames * sample_rate / sr_in  # duration in target samples
    if length <= n:
        start_in, stop_in = 0, frames
    else:
        start = int(rng.integers(0, int(length) - n + 1))
        start_in = int(start * sr_in / sample_rate)
        stop_in = min(frames, start_in + int(math.ceil(n * sr_in / sample_rate)) + 16)
    try:
        data, _ = sf.read(str(path), start=start_in, stop=stop_in, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioDecodeError(f"{path}: cannot read samples {start_in}-{stop_in} ({e})") from e
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return fit_length(resample(np.ascontiguousarray(mono), sr_in, sample_rate), n).astype(np.float32)


def read_domains(manifest: str | os.PathLike) -> dict[Path, str]:
    """{file (as ``list_audio`` reads the same CSV): domain} from the CSV's ``domain`` column; empty when
    the CSV has none. A file whose domain cell is empty is left out (the training run then names it)."""
    header, table = _file_table(Path(manifest))
    if "domain" not in header:
        return {}
    col = header.index("domain")
    return {p: r[col].strip() for p, r in table if len(r) > col and r[col].strip()}


class ClipSource(Protocol):
    def __len__(self) -> int: ...
    def crop(self, index: int, n: int, rng: np.random.Generator) -> np.ndarray: ...


class FileSource:
    """Crops decoded from audio files on every access."""

    def __init__(self, files: Sequence[Path], sample_rate: int = 16000):
        self.files, self.sample_rate = list(files), sample_rate

    def __len__(self) -> int:
        return len(self.files)

    def crop(self, index: int, n: int, rng: np.random.Generator) -> np.ndarray:
        return random_crop_file(self.files[index], n, self.sample_rate, rng)


MAX_SUBSTITUTES = 16  # unreadable files skipped in a row before giving up


class CropDataset(Dataset):
    """Map-style dataset keyed by (epoch, index) -> (waveform crop (n,) float32 tensor, index)."""

    def __init__(self, source: ClipSource, crop_samples: int, seed: int):
        self.source, self.crop_samples, self.seed = source, crop_samples, seed

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: tuple[int, ...]) -> tuple[torch.Tensor, int]:
        """The crop of file ``index``; if that file has become unreadable since the start of the run
        (deleted, truncated), the next readable file's crop instead, with a warning: one bad file must
        not stop a long run, and the substitute is deterministic, so resume stays exact."""
        epoch, index, *rep = key  # (epoch, file) or, under domain weights, (epoch, file, r-th draw)
        n = len(self.source)
        for k in range(min(n, MAX_SUBSTITUTES + 1)):
            i = (index + k) % n
            rng = np.random.default_rng([self.seed, epoch, i, *[r for r in rep if r]])
            try:
                return torch.from_numpy(self.source.crop(i, self.crop_samples, rng)), i
            except (AudioDecodeError, OSError, ValueError) as e:
                warnings.warn(f"training data: skipping an unreadable file ({e})", RuntimeWarning, stacklevel=2)
        raise AudioDecodeError(f"training data: {MAX_SUBSTITUTES + 1} files in a row from index {index} "
                               f"cannot be read; is the data folder still there?")


class EpochBatches(Sampler):
    """Batches of (epoch, index) keys for one rank, from batch ``start`` of epoch ``epoch`` (drop_last);
    with a ``plan``, (epoch, index, r) keys drawn by domain weights (``pass_draws``)."""

    def __init__(self, n: int, batch_per_rank: int, seed: int, epoch: int, start: int = 0,
                 rank: int = 0, world_size: int = 1, plan: DomainPlan | None = None):
        self.n, self.b, self.seed, self.epoch, self.start = n, batch_per_rank, seed, epoch, start
        self.rank, self.world, self.plan = rank, world_size, plan

    @property
    def steps_per_epoch(self) -> int:
        return self.n // (self.b * self.world)

    def __len__(self) -> int:
        return max(0, self.steps_per_epoch - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, ...]]]:
        g = self.b * self.world
        if self.plan is not None:
            draws = pass_draws(self.plan, self.seed, self.epoch)
            for s in range(self.start, self.steps_per_epoch):
                lo = s * g + self.rank * self.b
                yield [(self.epoch, int(i), int(r)) for i, r in draws[lo:lo + self.b]]
            return
        perm = np.random.default_rng([self.seed, self.epoch, 1]).permutation(self.n)
        for s in range(self.start, self.steps_per_epoch):
            lo = s * g + self.rank * self.b
            yield [(self.epoch, int(i)) for i in perm[lo:lo + self.b]]


class RunBatches(Sampler):
    """``EpochBatches`` of every epoch from (``epoch``, ``start``) on, without end: one DataLoader (and
    one set of workers) serves the whole run. The keys are exactly those of the per-epoch samplers."""

    def __init__(self, n: int, batch_per_rank: int, seed: int, epoch: int, start: int = 0,
                 rank: int = 0, world_size: int = 1, plan: DomainPlan | None = None):
        self.n, self.b, self.seed, self.epoch, self.start = n, batch_per_rank, seed, epoch, start
        self.rank, self.world, self.plan = rank, world_size, plan
        if n < batch_per_rank * world_size:
            raise ValueError(f"{n} files cannot fill one batch of {batch_per_rank} x {world_size} ranks")

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, start = self.epoch, self.start
        while True:
            yield from EpochBatches(self.n, self.b, self.seed, epoch, start, self.rank, self.world, self.plan)
            epoch, start = epoch + 1, 0
