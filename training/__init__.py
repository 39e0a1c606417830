"""slicer_embed.training: SLICER pretraining, LAPE evaluation and offline data builders.

Installed from the top-level ``training/`` folder as ``slicer_embed.training``. It imports
``slicer_embed``; ``slicer_embed`` never imports it (except the CLI's train/eval/data verbs and the
export of a training run, lazily).

- ``method/``: the paper's method: the pretraining loop, the recipe, the two views, k-mix, student and
  teacher, the losses and the key queue (docs/method.md).
- ``speed/``: the encoder's CPU fast path in training and its C++ kernels (the same function as the
  plain modules, cheaper on a CPU; docs/performance.md).
- ``infra/``: what a run needs around the method: its data (file lists, crops, domain weights, cache)
  and its run folder (checkpoints, logs, torchrun, export).
- ``evaluation/``: ``slicer-embed eval``; ``offline/``: ``slicer-embed data``; ``cli_train``:
  ``slicer-embed train``.

Imports run one way: ``cli_train`` -> ``method`` -> ``speed``, ``infra`` -> ``slicer_embed``.
"""
