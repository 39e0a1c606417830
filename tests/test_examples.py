"""Every script in examples/ runs on generated audio."""

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, tone

EXAMPLES = Path(__file__).parent.parent / "examples"


def run_example(name, args, capsys):
    import runpy
    old = sys.argv
    sys.argv = [name, *map(str, args)]
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = old
    return e.value.code, capsys.readouterr()


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Two classes: low tones and high tones, with noise; a nested layout."""
    root = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(0)
    for label, base in (("low", 200.0), ("high", 2500.0)):
        (root / label / "sub").mkdir(parents=True)
        for i in range(10):
            x = tone(base * (1 + 0.05 * i), 0.6) + 0.02 * rng.standard_normal(int(0.6 * SR)).astype(np.float32)
            sf.write(root / label / ("sub" if i % 2 else "") / f"{label}{i}.wav", x, SR)
    return root


def test_embed_file(model_dir, labelled, capsys):
    code, out = run_example("embed_file.py", [labelled / "low" / "low0.wav", "--model", model_dir], capsys)
    assert code == 0 and "shape (2048,)" in out.out and "frames: 8 x 2048" in out.out  # centres 35 + 80 k ms < 600 ms


def test_embed_folder_to_npz(model_dir, labelled, tmp_path, capsys):
    (labelled / "broken.wav").write_text("not audio")
    try:
        code, out = run_example("embed_folder_to_npz.py", [labelled, tmp_path, "--model", model_dir], capsys)
    finally:
        (labelled / "broken.wav").unlink()
    assert code == 1 and "broken.wav" in out.err
    npz = np.load(tmp_path / "low" / "sub" / "low1.npz")
    assert npz["embedding"].shape == (2048,) and npz["frame_embeddings"].shape[1] == 2048
    assert len(list(tmp_path.rglob("*.npz"))) == 20


def test_nearest_neighbours(model_dir, labelled, capsys):
    code, out = run_example("nearest_neighbours.py", [labelled / "high" / "high0.wav", labelled, "-k", "3",
                                                      "--model", model_dir], capsys)
    lines = out.out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert "high0.wav" in lines[0] and lines[0].startswith("1. 1.0000")


def test_linear_probe(model_dir, labelled, capsys):
    pytest.importorskip("sklearn")
    code, out = run_example("linear_probe.py", [labelled, "--model", model_dir], capsys)
    assert code == 0
    acc = float(out.out.split("test accuracy ")[1].split()[0])
    assert acc >= 0.8  # tones an octave apart separate even with random weights


def test_embed_hf_dataset(model_dir, labelled, capsys, tmp_path):
    pytest.importorskip("datasets")
    code, out = run_example("embed_hf_dataset.py", [labelled, "--model", model_dir, "--out", tmp_path / "ds"], capsys)
    assert code == 0, out.err
    assert "20 rows" in out.out and "embedding size 2048" in out.out
    import datasets
    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    assert sorted(set(ds["label"])) == ["high", "low"] and len(ds[0]["embedding"]) == 2048


def test_stream_live(model_dir, labelled, capsys):
    wav = sorted(labelled.rglob("*.wav"))[0]
    code, out = run_example("stream_live.py", [wav, "--model", model_dir, "--chunk-ms", "50"], capsys)
    assert code == 0, out.err
    assert "end: 8 frames for 0.60 s of audio" in out.out
