"""``slicer-embed export`` of a model folder: a Hub-ready folder that loads back identically."""

import numpy as np

from slicer_embed import load
from slicer_embed.cli import main


def test_export_model_folder(model_dir, tmp_path, speech):
    out = tmp_path / "exported"
    assert main(["export", str(model_dir), str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    assert "SLICER audio encoder" in (out / "README.md").read_text()
    np.testing.assert_array_equal(load(out).embed(speech, 16000), load(model_dir).embed(speech, 16000))


def test_export_fp16_is_smaller_and_close(model_dir, tmp_path, speech):
    out = tmp_path / "half"
    assert main(["export", str(model_dir), str(out), "--dtype", "float16"]) == 0
    assert (out / "model.safetensors").stat().st_size < 0.6 * (model_dir / "model.safetensors").stat().st_size
    a, b = load(out).embed(speech, 16000), load(model_dir).embed(speech, 16000)
    assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.9999


def test_export_errors(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "o")]) == 2
    assert "no such model folder" in capsys.readouterr().err
    assert main(["nonsense"]) == 2
