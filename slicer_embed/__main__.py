"""``python -m slicer_embed`` == ``slicer-embed``."""

import sys

from .cli import main

sys.exit(main())
