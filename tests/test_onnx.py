"""ONNX export (frontend included) and onnxruntime parity with the PyTorch model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import SR, run_python, tone

pytest.importorskip("onnx", reason="ONNX export needs the optional extra: pip install 'slicer-embed[onnx]'")
pytest.importorskip("onnxruntime", reason="ONNX parity needs onnxruntime: pip install 'slicer-embed[onnx]'")

from slicer_embed import load  # noqa: E402
from slicer_embed.cli import main  # noqa: E402
from slicer_embed.onnx_export import export_onnx, session  # noqa: E402
from slicer_embed.windows import iter_windows, valid_frames  # noqa: E402


@pytest.fixture(scope="module")
def onnx_file(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "slicer.onnx"
    assert main(["export", str(model_dir), str(out), "--format", "onnx"]) == 0
    return out


def _onnx_clip_embedding(sess, model, clip: np.ndarray) -> np.ndarray:
    """The Python API's windowing + frame dropping + mean+max pooling around the ONNX graph."""
    cfg = model.config
    wins, kept = [], []
    for i, (w, n_valid) in enumerate(iter_windows([clip], cfg.window_samples)):
        k = valid_frames(n_valid, cfg.frames_per_window, cfg.frontend.hop_length, cfg.architecture.time_stride)
        wins.append(w)
        kept.append(max(k, 1) if i == 0 else k)
    frames = sess.run(["frames"], {"wave": np.stack(wins)})[0]
    f = np.concatenate([fr[:k] for fr, k in zip(frames, kept)])
    return f.mean(0) + f.max(0)


def test_onnx_matches_pytorch_frames(onnx_file, model_dir, speech):
    model = load(model_dir)
    sess = session(onnx_file, threads=1)
    rng = np.random.default_rng(0)
    x = np.stack([speech[:15360], np.pad(speech, (0, 2 * 15360 - len(speech)))[15360:],
                  (0.1 * rng.standard_normal(15360)).astype(np.float32)])
    got = sess.run(["frames"], {"wave": x})[0]
    with torch.inference_mode():
        want = model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape == (3, 12, 2048)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_onnx_has_dynamic_batch_and_length(onnx_file, model_dir):
    model = load(model_dir)
    sess = session(onnx_file, threads=1)
    x = (0.2 * np.random.default_rng(1).standard_normal((1, 20000))).astype(np.float32)
    got = sess.run(["frames"], {"wave": x})[0]
    with torch.inference_mode():
        want = model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape == (1, (1 + 20000 // 160) // 8, 2048)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_onnx_clip_embeddings_match_embed(onnx_file, model_dir, speech):
    model = load(model_dir)
    sess = session(onnx_file)
    for clip in (speech, tone(300, 2.3), speech[:500]):
        a, b = _onnx_clip_embedding(sess, model, clip), model.embed(clip, SR)
        assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.99999
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_onnx_metadata_carries_the_contract(onnx_file, model_dir):
    import onnx
    props = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    assert props["sample_rate"] == "16000" and props["window_samples"] == "15360"
    assert props["embedding_dim"] == "2048" and props["pooling"] == "mean+max"
    assert json.loads(props["slicer_embed.config"]) == load(model_dir).config.to_dict()


def test_export_infers_onnx_from_suffix_and_rejects_folder_options(model_dir, tmp_path, capsys):
    out = tmp_path / "a" / "m.onnx"
    export_onnx(load(model_dir), out, check=False)
    assert out.is_file() and not list(out.parent.glob("*.tmp"))
    assert main(["export", str(model_dir), str(tmp_path / "b.onnx"), "--dtype", "float16"]) == 2
    assert "folder exports" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "c.onnx")]) == 2
    assert "no such model folder" in capsys.readouterr().err


def test_missing_onnxruntime_gives_install_hint():
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from slicer_embed.onnx_export import require_onnx\n"
            "try:\n    require_onnx()\nexcept ImportError as e:\n    print(e)")
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert "pip install 'slicer-embed[onnx]'" in res.stdout
