"""The command line answers --help and usage errors without importing torch (issue 23: start-up).

Each check runs in a fresh interpreter, because this test process has torch loaded already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import contextlib, io, json, sys
from slicer_embed.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    try:
        status = main(sys.argv[1:])
    except SystemExit as e:  # argparse's own exit inside a verb that does not catch it
        status = e.code
print(json.dumps({"status": status, "torch": "torch" in sys.modules,
                  "text": out.getvalue()}))
"""


def run_cli(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ["--help"], ["--version"], ["no-such-verb"],
    ["extract", "--help"], ["stream", "--help"], ["info", "--help"], ["download", "--help"],
    ["export", "--help"], ["train", "--help"], ["eval", "--help"], ["data", "--help"],
])
def test_help_does_not_import_torch(argv):
    r = run_cli(*argv)
    assert r["status"] == (2 if argv == ["no-such-verb"] else 0), r
    assert r["text"].strip(), "no usage text printed"
    assert not r["torch"], f"slicer-embed {' '.join(argv)} imported torch; it printed: {r['text'][:500]}"


@pytest.mark.parametrize("argv", [
    ["extract"],                                        # missing SOURCE and OUTPUT
    ["extract", "in.wav", "out.npy", "--level", "nope"],
    ["extract", "in.wav", "out.npy", "--precision", "float8"],
    ["export", "src"],                                  # missing OUT
    ["download"],                                       # missing MODEL
])
def test_usage_errors_do_not_import_torch(argv):
    r = run_cli(*argv)
    assert r["status"] == 2, r
    assert "error" in r["text"] or "usage" in r["text"], r["text"]
    assert not r["torch"], f"slicer-embed {' '.join(argv)} imported torch; it printed: {r['text'][:500]}"


def test_cli_choices_match_the_modules_that_act_on_them():
    from slicer_embed import choices, runtime
    from slicer_embed.extraction import options, sources, writers

    assert choices.PRECISIONS == runtime.PRECISIONS
    assert (choices.LEVELS, choices.STORAGE_DTYPES, choices.ON_ERROR) == (
        options.LEVELS, options.STORAGE_DTYPES, options.ON_ERROR)
    assert choices.FORMATS == writers.FORMATS
    assert choices.DEFAULT_EXTENSIONS == sources.DEFAULT_EXTENSIONS


def test_package_names_load_on_first_use():
    code = ("import sys, slicer_embed as s; a = 'torch' in sys.modules; m = s.create_model(); "
            "print(a, 'torch' in sys.modules, type(m).__name__, s.__version__ == s.version.__version__, "
            "sorted(set(s.__all__) - set(dir(s))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", "SlicerModel", "True", "[]"]
