"""``extract`` outputs in detail: stdin lists, the .npy sidecar, each --level in .npz, parquet frames,
the progress bar. Rows are compared with ``slicer_embed.load(...).embed()`` of the decoded file.
"""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
import soundfile as sf
from test_extract_data import make_model, tone

import slicer_embed
from slicer_embed.audio import load_audio
from slicer_embed.commands.extract import main

TOL = {"rtol": 1e-5, "atol": 1e-5}  # windows of several files share a batch (test_extract_collection.py)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Two files (16 kHz mono 1.9 s, 32 kHz stereo 3.3 s), a model folder and the loaded model."""
    root = tmp_path_factory.mktemp("outputs")
    src = root / "src"
    (src / "deep").mkdir(parents=True)
    sf.write(src / "one.wav", tone(1.9, 16000, 260.0, seed=11), 16000)
    sf.write(src / "deep" / "two.flac", tone(3.3, 32000, 520.0, channels=2, seed=12), 32000)
    model_dir = make_model(root)
    return src, ["one.wav", "deep/two.flac"], model_dir, slicer_embed.load(model_dir, device="cpu")


def _embed(model, path) -> np.ndarray:
    """The reference row: ``load().embed()`` of the file decoded at the model's rate."""
    return model.embed(load_audio(path, model.sample_rate), model.sample_rate)


def test_stdin_list_to_npy_with_full_sidecar(small, tmp_path, monkeypatch):
    src, rels, model_dir, model = small
    listed = [str(src / r) for r in reversed(rels)]  # a list keeps its own order
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(listed) + "\n"))
    out = tmp_path / "emb.npy"
    assert main(["-", str(out), "--model", str(model_dir), "--num-workers", "1", "--batch-size", "3", "-q"]) == 0
    x = np.load(out, allow_pickle=False)
    assert x.shape == (2, model.embedding_dim) and x.dtype == np.float32
    for row, path in zip(x, listed):
        np.testing.assert_allclose(row, _embed(model, path), **TOL)
    side = json.loads((tmp_path / "emb.npy.json").read_text())
    assert side["paths"] == listed
    assert side["durations"] == pytest.approx([3.3, 1.9], abs=1e-3)
    meta = side["metadata"]
    assert meta["slicer_embed_version"] == slicer_embed.__version__
    assert meta["model_source"] == model.source and len(meta["model_weights"]) == 64
    assert meta["model_config"] == model.config.to_dict()
    assert (meta["sample_rate"], meta["level"], meta["pooling"], meta["storage_dtype"]) == (
        16000, "clip", "mean+max", "float32")
    assert meta["window_seconds"] == pytest.approx(0.96) and meta["frame_hop_seconds"] == pytest.approx(0.08)
    assert meta["options"]["batch_size"] == 3 and meta["options"]["num_workers"] == 1
    assert meta["options"]["source"] == "-"
    for key in ("created", "torch", "numpy", "python"):
        assert meta[key]
    assert not (tmp_path / "emb.npy.errors.tsv").exists()


@pytest.mark.parametrize("level", ["clip", "frame"])
def test_npz_levels_hold_exactly_their_arrays(small, tmp_path, level):
    src, rels, model_dir, model = small
    out = tmp_path / f"{level}.npz"
    assert main([str(src), str(out), "--model", str(model_dir), "--level", level, "--num-workers", "0",
                 "-q"]) == 0
    z = np.load(out, allow_pickle=False)
    common = {"paths", "durations", "metadata"}
    frames = {"frame_embeddings", "frame_offsets", "timestamps"}
    assert set(z.files) == common | ({"embeddings"} if level == "clip" else frames)
    assert z["paths"].dtype.kind == "U" and list(z["paths"]) == rels
    assert z["durations"].dtype == np.float64 and z["metadata"].dtype.kind == "U"
    if level == "clip":
        assert z["embeddings"].shape == (2, model.embedding_dim)
        return
    offsets = z["frame_offsets"]
    assert offsets.dtype == np.int64 and offsets.shape == (3,) and offsets[0] == 0
    assert z["frame_embeddings"].dtype == np.float32 and z["timestamps"].dtype == np.float64
    for i, rel in enumerate(rels):
        ref = model.embed_frames(load_audio(src / rel, model.sample_rate), model.sample_rate)
        np.testing.assert_allclose(z["frame_embeddings"][offsets[i]:offsets[i + 1]], ref.embeddings, **TOL)
        np.testing.assert_array_equal(z["timestamps"][offsets[i]:offsets[i + 1]], ref.timestamps)


def test_parquet_frame_rows(small, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="parquet output needs the optional 'parquet' extra "
                                                       "(pyarrow): pip install 'slicer-embed[parquet]'")
    src, rels, model_dir, model = small
    out = tmp_path / "f.parquet"
    assert main([str(src), str(out), "--model", str(model_dir), "--level", "frame", "--storage-dtype",
                 "float16", "--num-workers", "0", "-q"]) == 0
    t = pq.read_table(out)
    assert t.schema.names == ["path", "t_center_s", "embedding"]
    typ = t.schema.field("embedding").type
    assert typ.list_size == model.embedding_dim and str(typ.value_type) == "halffloat"
    names = t.column("path").to_pylist()
    emb = np.array(t.column("embedding").to_pylist(), np.float32)
    stamps = np.array(t.column("t_center_s").to_pylist())
    for rel in rels:
        ref = model.embed_frames(load_audio(src / rel, model.sample_rate), model.sample_rate)
        rows = [i for i, n in enumerate(names) if n == rel]
        assert len(rows) == len(ref.timestamps)
        np.testing.assert_array_equal(stamps[rows], ref.timestamps)
        np.testing.assert_allclose(emb[rows], ref.embeddings.astype(np.float16).astype(np.float32),
                                   rtol=2e-3, atol=2e-3)
    meta = json.loads(t.schema.metadata[b"slicer_embed"])
    assert meta["level"] == "frame" and meta["storage_dtype"] == "float16"


def test_progress_bar_shows_files_hours_rate_and_eta(small, tmp_path, capsys):
    src, _, model_dir, _ = small
    out = tmp_path / "p.npz"
    assert main([str(src), str(out), "--model", str(model_dir), "--num-workers", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # results go to files only
    bar = captured.err.replace("\r", "\n").splitlines()
    final = [line for line in bar if line.startswith("extract:") and "2/2" in line]
    assert final, captured.err
    line = final[-1]
    assert "file" in line and "h audio" in line and "x real time" in line and "0 failed" in line
    assert "<" in line  # tqdm's elapsed<remaining: the ETA
    assert "embedded 2 file(s), 0.001 h of audio" in captured.err


def test_quiet_prints_nothing_but_skips(small, tmp_path, capsys):
    src, _, model_dir, _ = small
    listing = tmp_path / "l.txt"
    listing.write_text(f"{src / 'one.wav'}\n{tmp_path / 'missing.wav'}\n")
    assert main([str(listing), str(tmp_path / "q.npz"), "--model", str(model_dir), "--num-workers", "0",
                 "-q"]) == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "missing.wav: no such file" in err and "extract:" not in err
    assert "1 file(s) failed" in err
