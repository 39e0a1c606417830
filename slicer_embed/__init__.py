"""slicer-embed: SLICER audio embeddings.

>>> from slicer_embed import load
>>> model = load()                                   # doctest: +SKIP
>>> model.embed(wav, 16000)                          # doctest: +SKIP  -> (2048,) float32

The public names below are loaded on first use (PEP 562), so ``import slicer_embed`` and the
``slicer-embed`` command line start without torch; using any of them loads torch, numpy, soundfile and
soxr only: never training code, never the network.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# public name -> the submodule that defines it
_LAZY = {
    "load": "api", "create_model": "api",
    "AudioDecodeError": "audio",
    "ConfigError": "config", "ModelConfig": "config",
    "ModelNotFoundError": "hub", "WeightsError": "hub",
    "Frames": "windows", "SlicerModel": "model",
}

__all__ = ["load", "create_model", "SlicerModel", "Frames", "ModelConfig", "AudioDecodeError",
           "ConfigError", "ModelNotFoundError", "WeightsError", "__version__"]

if TYPE_CHECKING:
    from .api import create_model, load
    from .audio import AudioDecodeError
    from .config import ConfigError, ModelConfig
    from .hub import ModelNotFoundError, WeightsError
    from .model import SlicerModel
    from .windows import Frames


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
