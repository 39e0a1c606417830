"""``python -m slicer_embed`` == ``slicer-embed``."""

from .cli import entry_point

entry_point()
