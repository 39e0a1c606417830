"""``extract --exact/--precision/--threads``: the fast inference path of slicer_embed/runtime.py.

Default: the float32 fast path, one torch thread per core-worker on CPU (rows as ``load().embed()``
up to float rounding); ``--exact``: the plain float32 graph (rows equal to ``load().embed()`` to a float32 step: bit for bit
where the CPU's conv kernels ignore the batch size, not with oneDNN on AMX CPUs);
``--precision bfloat16``: within cosine 0.999 of float32. The numerics are recorded in the metadata
and are part of the resume fingerprint.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from test_extract_data import make_model, tone

import slicer_embed
from slicer_embed.audio import load_audio
from slicer_embed.commands.extract import main

# float32 fast path vs plain graph: folded BatchNorm and another conv algorithm (tests/test_runtime.py)
FAST_TOL = {"rtol": 1e-4, "atol": 1e-5}


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (N, D) arrays."""
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three short files (mono 16 kHz, stereo 44.1 kHz, 22.05 kHz) and the ``--exact`` (plain) output."""
    root = tmp_path_factory.mktemp("precision")
    src = root / "src"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "a.wav", tone(2.5, 16000, 330.0, seed=1), 16000)
    sf.write(src / "sub" / "b.flac", tone(1.3, 44100, 660.0, channels=2, seed=2), 44100)
    sf.write(src / "c.wav", tone(0.4, 22050, 990.0, seed=3), 22050)
    model_dir = make_model(root)
    ref = root / "ref.npz"
    assert main([str(src), str(ref), "--model", str(model_dir), "--level", "both", "--num-workers", "0",
                 "-q", "--exact"]) == 0
    return src, model_dir, ref


def _run(folder, out, *extra: str) -> dict:
    src, model_dir, _ = folder
    assert main([str(src), str(out), "--model", str(model_dir), "--level", "both", "--num-workers", "0", "-q",
                 *extra]) == 0
    z = np.load(out, allow_pickle=False)
    return {k: z[k] for k in z.files}


def _meta(z: dict) -> dict:
    return json.loads(str(z["metadata"]))


def test_exact_is_the_plain_graph_bit_for_bit(folder):
    src, model_dir, ref = folder
    z = np.load(ref, allow_pickle=False)
    meta = _meta(dict(z))
    assert (meta["precision"], meta["fast_path"]) == ("float32", False)
    assert meta["options"]["exact"] is True
    model = slicer_embed.load(model_dir)
    for row, rel in zip(z["embeddings"], z["paths"]):
        # extract batches windows of several files; oneDNN on AMX CPUs sums in another order per batch
        # size (seen: 2.7e-7 on features ~1). The fast path differs by ~1e-4 (FAST_TOL), so this still
        # proves the plain graph ran.
        np.testing.assert_allclose(row, model.embed(load_audio(src / str(rel), 16000), 16000), rtol=2e-6, atol=1e-6)


def test_default_is_the_fast_float32_path_with_one_thread_per_core(folder, tmp_path):
    ref = dict(np.load(folder[2], allow_pickle=False))
    z = _run(folder, tmp_path / "fast.npz")
    assert (_meta(z)["precision"], _meta(z)["fast_path"]) == ("float32", True)
    assert _meta(z)["options"]["exact"] is False and _meta(z)["options"]["threads"] is None
    assert torch.get_num_threads() == 1  # recommended_options: whole micro-batches per core-worker
    np.testing.assert_allclose(z["embeddings"], ref["embeddings"], **FAST_TOL)
    np.testing.assert_allclose(z["frame_embeddings"], ref["frame_embeddings"], **FAST_TOL)
    z2 = _run(folder, tmp_path / "fast2.npz", "--fast", "--threads", "1")  # the old flag still works
    np.testing.assert_array_equal(z2["embeddings"], z["embeddings"])  # same kernels, one thread each


def test_bfloat16_rows_within_cosine_0999_of_float32(folder, tmp_path):
    ref = dict(np.load(folder[2], allow_pickle=False))
    z = _run(folder, tmp_path / "bf16.npz", "--precision", "bfloat16", "--threads", "1")
    assert (_meta(z)["precision"], _meta(z)["fast_path"]) == ("bfloat16", True)
    assert z["embeddings"].dtype == np.float32 and z["embeddings"].shape == ref["embeddings"].shape
    assert list(z["paths"]) == list(ref["paths"])
    np.testing.assert_array_equal(z["frame_offsets"], ref["frame_offsets"])
    assert _cos(z["embeddings"], ref["embeddings"]).min() >= 0.999
    assert _cos(z["frame_embeddings"], ref["frame_embeddings"]).min() >= 0.999
    assert not np.array_equal(z["embeddings"], ref["embeddings"])  # bf16 really ran


def test_precision_flag_overrides_the_environment(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("SLICER_EMBED_PRECISION", "bfloat16")  # opts every model in (runtime.py)
    z = _run(folder, tmp_path / "env.npz")
    assert _meta(z)["precision"] == "bfloat16"
    z = _run(folder, tmp_path / "flag.npz", "--precision", "float32")
    assert (_meta(z)["precision"], _meta(z)["fast_path"]) == ("float32", True)
    np.testing.assert_allclose(z["embeddings"], np.load(folder[2])["embeddings"], **FAST_TOL)
    z = _run(folder, tmp_path / "exact.npz", "--exact")
    assert (_meta(z)["precision"], _meta(z)["fast_path"]) == ("float32", False)
    np.testing.assert_array_equal(z["embeddings"], np.load(folder[2])["embeddings"])


def test_resume_refuses_to_mix_precisions(folder, tmp_path, capsys):
    src, model_dir, _ = folder
    (src / "0_bad.wav").write_bytes(b"not audio at all")  # sorts first: the run stops there
    try:
        out = tmp_path / "r.npz"
        args = [str(src), str(out), "--model", str(model_dir), "--num-workers", "0", "-q"]
        assert main(args + ["--precision", "bfloat16", "--on-error", "raise"]) == 1
        assert (tmp_path / "r.npz.partial").is_dir() and not out.exists()
        assert main(args + ["--resume"]) == 2
        assert "different precision" in capsys.readouterr().err
        assert main(args + ["--resume", "--precision", "bfloat16"]) == 1  # the bad file stays failed
    finally:
        (src / "0_bad.wav").unlink()
    z = np.load(out, allow_pickle=False)
    assert len(z["paths"]) == 3 and _meta(dict(z))["precision"] == "bfloat16"
    assert (tmp_path / "r.npz.errors.tsv").read_text().splitlines()[1].startswith("0_bad.wav\t")


@pytest.mark.parametrize("bad", [["--threads", "0"], ["--precision", "float16"],
                                 ["--exact", "--precision", "bfloat16"]])
def test_bad_numerics_flags_exit_2(folder, tmp_path, bad, capsys):
    src, model_dir, _ = folder
    assert main([str(src), str(tmp_path / "x.npz"), "--model", str(model_dir), *bad]) == 2
    assert bad[-2] in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
