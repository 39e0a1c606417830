"""slicer_embed.training: SLICER pretraining, LAPE evaluation and offline data builders.

Installed from the top-level ``training/`` folder as ``slicer_embed.training``. It imports
``slicer_embed``; ``slicer_embed`` never imports it (except the CLI's train/eval/data verbs, lazily).
"""
