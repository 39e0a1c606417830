"""The inference package never loads training code, torchaudio or librosa (a fixed design rule:
the pip package for embedding audio carries none of them)."""

import json

from conftest import run_python

CODE = """
import json, sys
import numpy as np
import slicer_embed
m = slicer_embed.create_model(seed=0)
m.embed(np.zeros(16000, np.float32), 16000)
m.embed_frames(np.zeros(16000, np.float32), 16000)
import slicer_embed.hear, slicer_embed.cli
watch = ("slicer_embed.training", "torchaudio", "librosa", "sklearn", "matplotlib", "pandas")
print(json.dumps(sorted(k for k in sys.modules if k.split(".")[0] in watch or k.startswith(watch))))
"""


def test_import_and_embed_load_no_training_code():
    r = run_python(CODE)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []


def test_cli_help_loads_no_training_code():
    r = run_python("import sys, json; from slicer_embed.cli import main; main(['--help']); "
                   "print(json.dumps([k for k in sys.modules if k.startswith('slicer_embed.training')]))")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []
