"""LAPE-style evaluation of frozen audio encoders (``slicer-embed eval``).

Modules, one concern each: ``manifest`` (canonical task folders), ``splits`` (seeded group-aware
hold-outs), ``layouts_speech``/``layouts_other`` (official dataset layouts -> manifests),
``registry`` (LAPE task list, crops), ``embedders`` (models and the ``logmel``/``random``
baselines), ``cache`` (embeddings on disk), ``probe`` (the linear classifier), ``protocol``
(lape/evar runs), ``results`` (json/markdown/chart, ``--compare``).
"""
