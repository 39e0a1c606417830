"""``slicer-embed extract`` on a generated folder of good and hostile files (issue #6).

Every good file must be embedded with rows equal to ``model.embed_file`` / ``embed_frames``, every
bad file reported by name (stderr and ``OUTPUT.errors.tsv``), the exit status must say so, and the
outputs must load without pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import slicer_embed
from slicer_embed.audio import load_audio
from slicer_embed.commands.extract import main
from test_extract_data import make_bad, make_good, make_model, tone

# Windows of several files share a batch here, one file per batch in embed_file: CPU kernels may
# differ in the last bits between batch sizes (measured: <= 8e-7), hence a tight tolerance, not ==.
TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("extract")
    src = root / "src"
    good = make_good(src, long_seconds=300.0)  # includes a 5-minute clip
    bad = make_bad(src)
    model_dir = make_model(root)
    return root, src, good, bad, model_dir, slicer_embed.load(model_dir, device="cpu")


def _errors(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "path\treason"
    return dict(line.split("\t", 1) for line in lines[1:])


def test_hostile_folder_npz_both_levels(collection, tmp_path, capsys):
    root, src, good, bad, model_dir, model = collection
    out = tmp_path / "out.npz"
    rc = main([str(src), str(out), "--model", str(model_dir), "--level", "both", "--batch-size", "16",
               "--num-workers", "2", "--device", "cpu"])
    assert rc == 1  # some inputs failed
    err = capsys.readouterr().err
    errors = _errors(tmp_path / "out.npz.errors.tsv")
    assert sorted(errors) == sorted(bad)
    for name in bad:
        assert f"skipped {name}:" in err
    assert "empty" in errors["bad_empty.wav"] and "zero length" in errors["bad_zero_length.wav"]
    assert "decoding failed" in errors["nested/bad_truncated.flac"]
    assert "truncated WAV" in errors["nested/bad_truncated.wav"]
    assert all(reason.strip() for reason in errors.values())

    z = np.load(out, allow_pickle=False)  # no object arrays anywhere
    assert list(z["paths"]) == good
    assert z["embeddings"].shape == (len(good), model.embedding_dim) and z["embeddings"].dtype == np.float32
    offsets = z["frame_offsets"]
    assert offsets.shape == (len(good) + 1,) and offsets[0] == 0 and offsets[-1] == len(z["frame_embeddings"])
    assert len(z["timestamps"]) == len(z["frame_embeddings"])
    for i, rel in enumerate(good):
        path = src / rel
        np.testing.assert_allclose(z["embeddings"][i], model.embed_file(path), **TOL)
        info = sf.info(str(path))
        assert z["durations"][i] == pytest.approx(info.frames / info.samplerate, abs=2e-3)
        frames = model.embed_frames(load_audio(path, model.sample_rate), model.sample_rate)
        a, b = offsets[i], offsets[i + 1]
        np.testing.assert_allclose(z["frame_embeddings"][a:b], frames.embeddings, **TOL)
        np.testing.assert_array_equal(z["timestamps"][a:b], frames.timestamps)
    long = good.index("nested/g_long.wav")
    assert offsets[long + 1] - offsets[long] == 3750  # 300 s / 80 ms
    meta = json.loads(str(z["metadata"]))
    assert meta["slicer_embed_version"] == slicer_embed.__version__ and meta["level"] == "both"
    assert meta["sample_rate"] == 16000 and meta["pooling"] == "mean+max"
    assert not (tmp_path / "out.npz.partial").exists()  # cleaned up after a complete run


def test_npy_sidecar_float16_and_pooling(collection, tmp_path):
    root, src, good, bad, model_dir, model = collection
    small = [g for g in good if g != "nested/g_long.wav"]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(src / g) for g in small + ["bad_empty.wav"]) + "\n")
    out = tmp_path / "emb.npy"
    rc = main([str(listing), str(out), "--model", str(model_dir), "--storage-dtype", "float16",
               "--pooling", "mean", "--num-workers", "0", "-q"])
    assert rc == 1
    x = np.load(out, allow_pickle=False)
    side = json.loads((tmp_path / "emb.npy.json").read_text())
    assert x.dtype == np.float16 and x.shape == (len(small), model.embedding_dim)
    assert side["paths"] == [str(src / g) for g in small]
    assert side["metadata"]["storage_dtype"] == "float16" and side["metadata"]["pooling"] == "mean"
    ref = np.stack([model.embed_file(src / g, pooling="mean") for g in small])
    np.testing.assert_allclose(x.astype(np.float32), ref.astype(np.float16).astype(np.float32),
                               rtol=2e-3, atol=2e-3)
    assert list(_errors(tmp_path / "emb.npy.errors.tsv")) == [str(src / "bad_empty.wav")]


def test_all_good_exit_0_refuse_existing_and_overwrite(collection, tmp_path, capsys):
    root, src, good, bad, model_dir, model = collection
    one = tmp_path / "one"
    one.mkdir()
    sf.write(one / "x.wav", tone(1.0, 16000), 16000)
    out = tmp_path / "o.npz"
    args = [str(one), str(out), "--model", str(model_dir), "--num-workers", "0", "-q"]
    assert main(args) == 0
    assert not (tmp_path / "o.npz.errors.tsv").exists()
    before = out.read_bytes()
    assert main(args) == 2  # refuses to replace a finished output
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(args + ["--overwrite"]) == 0
    np.testing.assert_array_equal(np.load(out)["embeddings"][0], np.load(tmp_path / "o.npz")["embeddings"][0])


def test_dir_output_mirrors_tree_and_skips_existing(collection, tmp_path):
    root, src, good, bad, model_dir, model = collection
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    sf.write(tree / "a.wav", tone(1.2, 16000), 16000)
    sf.write(tree / "sub" / "b.flac", tone(0.7, 32000, 300.0), 32000)
    out = tmp_path / "emb_dir"
    args = [str(tree), str(out) + "/", "--model", str(model_dir), "--level", "both", "--num-workers", "0", "-q"]
    assert main(args) == 0
    a = np.load(out / "a.wav.npz", allow_pickle=False)
    b = np.load(out / "sub" / "b.flac.npz", allow_pickle=False)
    assert str(b["path"]) == "sub/b.flac"
    np.testing.assert_allclose(a["embedding"], model.embed_file(tree / "a.wav"), **TOL)
    np.testing.assert_allclose(b["embedding"], model.embed_file(tree / "sub" / "b.flac"), **TOL)
    assert b["frame_embeddings"].shape[0] == len(b["timestamps"]) > 0
    stamp = (out / "a.wav.npz").stat().st_mtime_ns
    sf.write(tree / "sub" / "c.wav", tone(0.5, 16000, 900.0), 16000)
    assert main(args) == 0  # second run embeds only the new file
    assert (out / "a.wav.npz").stat().st_mtime_ns == stamp
    np.testing.assert_allclose(np.load(out / "sub" / "c.wav.npz")["embedding"],
                               model.embed_file(tree / "sub" / "c.wav"), **TOL)


def test_on_error_raise_stops_at_first_bad_file(collection, tmp_path, capsys):
    root, src, good, bad, model_dir, model = collection
    out = tmp_path / "r.npz"
    rc = main([str(src), str(out), "--model", str(model_dir), "--on-error", "raise", "--num-workers", "0", "-q"])
    assert rc == 1 and not out.exists()
    assert capsys.readouterr().err.count("skipped ") == 1  # stopped at the first


def test_usage_and_model_errors_exit_2(collection, tmp_path, capsys, monkeypatch):
    root, src, good, bad, model_dir, model = collection
    m = ["--model", str(model_dir)]
    assert main([str(src), str(tmp_path / "x.npy"), "--level", "both", *m]) == 2
    assert "holds one array" in capsys.readouterr().err
    assert main([str(tmp_path / "missing"), str(tmp_path / "x.npz"), *m]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([str(src), str(tmp_path / "x.txt"), *m]) == 2
    assert "unknown output extension" in capsys.readouterr().err
    with monkeypatch.context() as mp:  # no --model and a build without the bundled default
        mp.setattr(slicer_embed.hub, "BUNDLED_DIR", tmp_path / "no-weights")
        assert main([str(src), str(tmp_path / "x.npz")]) == 2
    assert "no default pretrained model" in capsys.readouterr().err
    assert main([str(src), str(tmp_path / "x.npz"), "--model", str(tmp_path)]) == 2
    assert "config.json" in capsys.readouterr().err
    assert main([str(src), str(tmp_path / "x.npz"), "--batch-size", "0", *m]) == 2
    assert main(["--no-such-flag"]) == 2
    assert not list(tmp_path.glob("x.*"))


def test_parquet_clip_rows(collection, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="parquet output needs the optional 'parquet' extra "
                                                       "(pyarrow): pip install 'slicer-embed[parquet]'")
    root, src, good, bad, model_dir, model = collection
    out = tmp_path / "e.parquet"
    args = [str(src / "a_tone.wav"), str(out), "--model", str(model_dir), "--num-workers", "0", "-q"]
    assert main(args) == 0
    t = pq.read_table(out)
    assert t.schema.names == ["path", "duration_s", "embedding"]
    assert t.column("path").to_pylist() == ["a_tone.wav"]
    assert t.column("duration_s").to_pylist() == [pytest.approx(2.0)]
    np.testing.assert_allclose(np.array(t.column("embedding").to_pylist()[0], np.float32),
                               model.embed_file(src / "a_tone.wav"), **TOL)
    assert json.loads(t.schema.metadata[b"slicer_embed"])["level"] == "clip"


def test_parquet_without_pyarrow_is_a_usage_error(collection, tmp_path, capsys, monkeypatch):
    root, src, good, bad, model_dir, model = collection
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)  # as if the extra were not installed
    out = tmp_path / "e.parquet"
    assert main([str(src / "a_tone.wav"), str(out), "--model", str(model_dir), "--num-workers", "0", "-q"]) == 2
    assert "pip install 'slicer-embed[parquet]'" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "e.parquet.partial").exists()  # refused before any work
