"""``ExtractOptions``: everything ``slicer-embed extract`` was asked to do, as one frozen dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..config import POOLINGS
from ..runtime import PRECISIONS, InferenceOptions
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
    # Encoder numerics (slicer_embed/runtime.py). None/False leave the model as loaded: the plain
    # float32 graph, unless SLICER_EMBED_PRECISION/SLICER_EMBED_THREADS opt every model in.
    precision: str | None = None  # "float32" | "bfloat16" (bfloat16 implies the fast path)
    fast: bool = False  # the fast path in float32: plain-model rows to ~1e-6, several times faster on CPU
    threads: int | None = None  # torch intra-op threads of the encoder process (None = torch's default)

    def validate(self) -> ExtractOptions:
        _one_of("--level", self.level, LEVELS)
        _one_of("--storage-dtype", self.storage_dtype, STORAGE_DTYPES)
        _one_of("--on-error", self.on_error, ON_ERROR)
        if self.pooling is not None:
            _one_of("--pooling", self.pooling, POOLINGS)
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.num_workers < 0:
            raise ValueError(f"--num-workers must be >= 0, got {self.num_workers}")
        if self.precision is not None:
            _one_of("--precision", self.precision, PRECISIONS)
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {self.threads}")
        if self.checkpoint_seconds < 0:
            raise ValueError(f"--checkpoint-seconds must be >= 0, got {self.checkpoint_seconds}")
        if self.overwrite and self.resume:
            raise ValueError("--overwrite and --resume exclude each other: start over, or continue")
        return self

    def configure(self, model: Any) -> None:
        """Apply ``--threads``, ``--precision`` and ``--fast`` to a loaded ``SlicerModel``.

        No flag: the model is left as loaded. ``--fast`` or ``--precision bfloat16``: the fast path
        (``model.optimize``). ``--precision float32`` alone: the plain graph, whatever the
        environment asked for, so that the flag always means the exact float32 numbers.
        """
        if self.threads is not None:
            torch.set_num_threads(self.threads)  # the encoder's process only; workers use one thread
        if self.fast or self.precision == "bfloat16":
            model.set_inference_options(InferenceOptions(precision=self.precision or "float32"))
        elif self.precision == "float32":
            model.set_inference_options(None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["extensions"] = list(self.extensions)
        return d


def _one_of(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{flag} {value!r} is not one of {', '.join(allowed)}")
