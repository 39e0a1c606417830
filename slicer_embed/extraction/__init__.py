"""Embedding whole collections of audio files: the machinery behind ``slicer-embed extract``.

``sources`` finds the inputs, ``dataset`` decodes and windows them in DataLoader workers,
``pooling`` accumulates frames per file, ``store`` keeps resumable shards in ``OUTPUT.partial/``,
``writers``/``parquet`` assemble the final output, ``distributed`` splits the work across torchrun
ranks and ``runner`` ties them together. Inference-side code: never imports ``slicer_embed.training``.
"""

from .options import ExtractOptions
from .runner import run
from .sources import DEFAULT_EXTENSIONS, Entry, SourceError, discover

__all__ = ["ExtractOptions", "run", "discover", "Entry", "SourceError", "DEFAULT_EXTENSIONS"]
