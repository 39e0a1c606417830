"""Offline audio data: an unlabelled pretraining corpus and the "mini-LAPE" benchmark.

Everything is built from sources reachable without internet beyond the package registries: audio
inside Debian ``main`` packages (fetched with ``apt-get download`` + ``dpkg-deb``), speech synthesis
(espeak-ng, flite, festival) and soundfont rendering (fluidsynth). See ``docs/minilape.md``.
Entry point: ``slicer-embed data ...`` -> :func:`slicer_embed.training.offline.cli.main`.
"""
