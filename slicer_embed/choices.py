"""The values the command line offers for its options, importable without torch or numpy.

``slicer-embed COMMAND --help`` and argument errors are answered from these before any heavy import.
Each tuple mirrors the module that acts on it (tests/test_cli_startup.py holds them equal):
precisions (runtime.py), levels, storage dtypes and error policies (extraction/options.py),
output formats (extraction/writers.py), file extensions (extraction/sources.py).
"""

from __future__ import annotations

PRECISIONS = ("float32", "bfloat16")
LEVELS = ("clip", "frame", "both")
STORAGE_DTYPES = ("float32", "float16")
ON_ERROR = ("skip", "raise")
FORMATS = ("npy", "npz", "dir", "parquet")
DEFAULT_EXTENSIONS = ("wav", "flac", "ogg", "oga", "opus", "mp3", "aif", "aiff", "aifc", "au", "caf",
                      "w64", "rf64")
