"""``ExtractOptions``: everything ``slicer-embed extract`` was asked to do, as one frozen dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..config import POOLINGS
from ..runtime import PRECISIONS, InferenceOptions, recommended_options
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
    # Encoder numerics (slicer_embed/runtime.py). By default the fast path in float32 (the plain
    # model's rows up to float rounding, ~1e-6), with one torch thread per core-worker on CPU
    # (runtime.recommended_options): 3.5x the plain graph end to end (docs/performance.md).
    precision: str | None = None  # "float32" | "bfloat16"; None = SLICER_EMBED_PRECISION or float32
    exact: bool = False  # the plain module graph: rows bit-equal to load().embed()
    threads: int | None = None  # torch intra-op threads (None = one per core-worker, or the environment's)

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
        if self.exact and self.precision == "bfloat16":
            raise ValueError("--exact computes the plain float32 graph; it excludes --precision bfloat16")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {self.threads}")
        if self.checkpoint_seconds < 0:
            raise ValueError(f"--checkpoint-seconds must be >= 0, got {self.checkpoint_seconds}")
        if self.overwrite and self.resume:
            raise ValueError("--overwrite and --resume exclude each other: start over, or continue")
        return self

    def configure(self, model: Any) -> None:
        """Apply ``--exact``, ``--precision`` and ``--threads`` to a loaded ``SlicerModel``.

        Flags win over the environment (``SLICER_EMBED_PRECISION/THREADS/WORKERS``, already applied
        when the model was built), which wins over the defaults. ``--exact``: the plain graph.
        Otherwise the fast path: with ``--threads N`` (or the environment's threads) torch's N OpenMP
        threads inside each op; else ``recommended_options``: on CPU one torch thread per
        core-worker, which no other process on the machine can stall at an OpenMP barrier.
        """
        env = model.inference_options  # None unless the environment opted every model in
        if self.exact:
            if self.threads is not None:
                torch.set_num_threads(self.threads)
            model.set_inference_options(None)
            return
        precision = self.precision or (env.precision if env is not None else "float32")
        if self.threads is not None:
            options = InferenceOptions(precision=precision, threads=self.threads)
        elif env is not None and (env.threads is not None or env.workers > 1):
            options = InferenceOptions(precision=precision, threads=env.threads, workers=env.workers)
        else:
            options = recommended_options(model.device, precision)
        model.set_inference_options(options.validate())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["extensions"] = list(self.extensions)
        return d


def _one_of(flag: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{flag} {value!r} is not one of {', '.join(allowed)}")
