"""slicer-embed: SLICER audio embeddings.

>>> from slicer_embed import load
>>> model = load()                                   # doctest: +SKIP
>>> model.embed(wav, 16000)                          # doctest: +SKIP  -> (2048,) float32

Importing this package loads torch, numpy, soundfile and soxr only: never training code, never the
network.
"""

from .api import create_model, load
from .audio import AudioDecodeError
from .config import ConfigError, ModelConfig
from .hub import ModelNotFoundError, WeightsError
from .model import Frames, SlicerModel
from .version import __version__

__all__ = ["load", "create_model", "SlicerModel", "Frames", "ModelConfig", "AudioDecodeError",
           "ConfigError", "ModelNotFoundError", "WeightsError", "__version__"]
