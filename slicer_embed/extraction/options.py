"""``ExtractOptions``: everything ``slicer-embed extract`` was asked to do, as one frozen dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..config import POOLINGS
from .sources import DEFAULT_EXTENSIONS

LEVELS = ("clip", "frame", "both")
STORAGE_DTYPES = ("float32", "float16")
ON_ERROR = ("skip", "raise")


@dataclass(frozen=True)
class ExtractOptions:
    """Options of one extraction run (see ``slicer-embed extract --help`` for each one)."""

    source: str
    output: str
    model: str | None = None  # None = the bundled default model
    revision: str | None = None
    device: str | None = None  # None/"auto" = cuda, then mps, then cpu
    level: str = "clip"
    pooling: str | None = None  # None = the model's default (mean+max)
    storage_dtype: str = "float32"
    batch_size: int = 64  # windows (0.96 s each) per encoder call
    num_workers: int = 2  # decoding processes; 0 decodes in the main process
    fmt: str | None = None  # None = from OUTPUT's extension
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    recursive: bool = True
    overwrite: bool = False
    resume: bool = False
    on_error: str = "skip"
    quiet: bool = False
    checkpoint_seconds: float = 60.0  # how often finished work is saved to OUTPUT.partial/

    def validate(self) -> "ExtractOptions":
        _one_of("--level", self.level, LEVELS)
        _one_of("--storage-dtype", self.storage_dtype, STORAGE_DTYPES)
        _one_of("--on-error", self.on_error, ON_ERROR)
        if self.pooling is not None:
            _one_of("--pooling", self.pooling, POOLINGS)
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.num_workers < 0:
            raise ValueError(f"--num-workers must be >= 0, got {self.num_workers}")
        if self.checkpoint_seconds < 0:
            raise ValueError(f"--checkpoint-seconds must be >= 0, got {self.checkpoint_seconds}")
        if self.overwrite and self.resume:
            raise ValueError("--overwrite and --resume exclude each other: start over, or continue")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["extensions"] = list(self.extensions)
        return d


def _one_of(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{flag} {value!r} is not one of {', '.join(allowed)}")
