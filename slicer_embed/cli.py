"""``slicer-embed`` command line: a thin dispatcher to one module per verb.

Each verb lives in its own module with a ``main(argv=None) -> int``; training-side verbs
(``train``, ``eval``, ``data``) are imported only when called, so the inference package never loads
training code. Exit status: 0 success, 1 some inputs failed, 2 usage or model errors.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import NoReturn, Sequence

from .version import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    "extract": ("slicer_embed.commands.extract", "embed audio files or folders into .npy/.npz/.parquet"),
    "stream": ("slicer_embed.commands.stream", "embed live audio from stdin (WAV or raw PCM), one record per frame"),
    "info": ("slicer_embed.commands.info", "versions, device, model and cache; the model card"),
    "download": ("slicer_embed.commands.download", "prefetch a Hub model for offline use"),
    "export": ("slicer_embed.commands.export", "export a training run or model (folder, ONNX)"),
    "train": ("slicer_embed.training.cli_train", "SLICER self-supervised pretraining"),
    "eval": ("slicer_embed.training.evaluation.cli", "LAPE linear evaluation of a model"),
    "data": ("slicer_embed.training.offline.cli", "build the offline corpus and mini-LAPE tasks"),
}
# Verbs whose process ends as soon as main() returns: everything is written and closed by then.
# The training verbs keep the interpreter's normal shutdown (DataLoader workers, process groups).
QUICK_EXIT = frozenset({"extract", "stream", "info", "download", "export"})


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: slicer-embed COMMAND [options]   (slicer-embed {__version__})", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Run 'slicer-embed COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"slicer-embed {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"slicer-embed: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
    except ImportError as e:
        print(f"slicer-embed {name}: cannot load ({e}); training verbs need the 'train' extra: "
              f"pip install 'slicer-embed[train]'", file=sys.stderr)
        return 2
    try:
        return int(module.main(argv[1:]) or 0)
    except BrokenPipeError:
        # `slicer-embed info | head`: the reader left. Point stdout at /dev/null so the interpreter's
        # final flush does not raise again, and exit quietly as other Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE


def entry_point() -> NoReturn:
    """The ``slicer-embed`` console script and ``python -m slicer_embed``: ``main()``, then exit.

    After an inference verb the process leaves through ``quick_exit``: with torch loaded, the
    interpreter's own shutdown (garbage-collection passes over every module's objects) costs time
    and peak memory after the work is done (docs/performance.md).
    """
    argv = sys.argv[1:]
    status = main(argv)
    if argv and argv[0] in QUICK_EXIT:
        quick_exit(status)
    sys.exit(status)


def quick_exit(status: int) -> NoReturn:
    """Flush logging and the standard streams, then end the process without interpreter teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to deliver
            pass
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry_point()
