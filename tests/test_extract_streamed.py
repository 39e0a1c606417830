"""Frame outputs in bounded memory (issue 15): spill files, row-range ``.npy`` assembly, streamed
``.npz``/directory members, Parquet row groups across file boundaries, frame-level ``.npy``.

The memory bound itself is measured by ``benchmarks/bench_memory.py``; here every streamed path is
checked for the same numbers as ``embed_frames`` and for the resume/atomic contracts.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch
from test_extract_data import make_model, tone

import slicer_embed
from slicer_embed.audio import load_audio
from slicer_embed.commands.extract import main
from slicer_embed.extraction import store
from slicer_embed.extraction.npyio import NpyRows, Stream, write_npz
from slicer_embed.extraction.pooling import FileAccumulator
from slicer_embed.hub import file_sha256

TOL = {"rtol": 1e-5, "atol": 1e-5}


# --- npyio -------------------------------------------------------------------------------------

def test_npy_rows_fill_in_any_order_and_load_like_np_save(tmp_path, monkeypatch):
    monkeypatch.setattr("slicer_embed.extraction.npyio.BLOCK_BYTES", 3 * 5 * 2)  # 3 rows per block
    x = np.random.default_rng(0).standard_normal((11, 5)).astype(np.float32)
    with NpyRows(tmp_path / "a.npy", 11, 5, np.float16) as rows:
        rows.write(7, x[7:])
        rows.write(0, x[:7])
        assert [len(b) for b in rows.blocks()] == [3, 3, 3, 2]
        np.testing.assert_array_equal(rows.read(2, 9), x[2:9].astype(np.float16))
        with pytest.raises(ValueError, match="do not fit"):
            rows.write(10, x[:2])
    for mode in (None, "r"):
        y = np.load(tmp_path / "a.npy", mmap_mode=mode)
        assert y.shape == (11, 5) and y.dtype == np.float16
        np.testing.assert_array_equal(y, x.astype(np.float16))
    with NpyRows(tmp_path / "empty.npy", 0, 5, np.float32):
        pass
    assert np.load(tmp_path / "empty.npy").shape == (0, 5)


def test_streamed_npz_loads_exactly_like_savez(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.standard_normal((10, 4)).astype(np.float32)
    small = {"paths": np.array(["a.wav", "b/ü.flac"]), "metadata": np.array('{"k": 1}'),
             "offsets": np.array([0, 4, 10], np.int64)}
    buf = io.BytesIO()
    write_npz(buf, {**small, "frames": Stream((10, 4), np.float16, (frames[s:s + 3] for s in range(0, 10, 3))),
                    "t": Stream((10,), np.float64, [np.arange(6.0), np.arange(6.0, 10.0)])})
    buf.seek(0)
    z = np.load(buf, allow_pickle=False)
    ref = io.BytesIO()
    np.savez(ref, **small, frames=frames.astype(np.float16), t=np.arange(10.0))
    ref.seek(0)
    r = np.load(ref)
    assert z.files == r.files
    for k in r.files:
        assert z[k].dtype == r[k].dtype and z[k].shape == r[k].shape
        np.testing.assert_array_equal(z[k], r[k])
    assert all(i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile(buf).infolist())
    with pytest.raises(ValueError, match="3 rows written, 4 declared"):
        write_npz(io.BytesIO(), {"x": Stream((4, 4), np.float32, [frames[:3]])})


# --- spill files -------------------------------------------------------------------------------

def test_accumulator_spills_a_long_file_and_keeps_a_short_one(tmp_path):
    rng = np.random.default_rng(2)
    pieces = [torch.from_numpy(rng.standard_normal((k, 6)).astype(np.float32)) for k in (12, 12, 12, 5)]
    long_ = FileAccumulator(6, clip=False, frames=True, spill=lambda: store.FrameSpill(tmp_path, 0, 7), spill_rows=20)
    for p in pieces:
        long_.add(len(p), frames=p)
    assert long_.pending == 1 and long_.spill.rows == 40  # two full buffers of 20 went to disk; 1 waits
    done = long_.frame_array()
    assert isinstance(done, store.SpilledFrames) and done.rows == 41 and long_.buffer is None
    on_disk = np.fromfile(tmp_path / done.name, np.float32).reshape(-1, 6)
    np.testing.assert_array_equal(on_disk, torch.cat(pieces).numpy())
    short = FileAccumulator(6, clip=False, frames=True, spill=lambda: store.FrameSpill(tmp_path, 0, 8), spill_rows=100)
    for p in pieces:
        short.add(len(p), frames=p)
    np.testing.assert_array_equal(short.frame_array(), torch.cat(pieces).numpy())
    failed = FileAccumulator(6, clip=False, frames=True, spill=lambda: store.FrameSpill(tmp_path, 0, 9), spill_rows=10)
    failed.add(12, frames=pieces[0])
    failed.discard()  # a file that fails part-way leaves no spill file behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [done.name]


def test_shards_name_their_spills_and_resume_drops_orphans(tmp_path):
    spill = store.FrameSpill(tmp_path, 0, 3)
    spill.append(np.ones((5, 4), np.float32))
    writer = store.ShardWriter(tmp_path, 0, 4, clip=False, frames=True)
    writer.add_ok(3, 800, None, spill.finish())
    writer.add_ok(4, 160, None, np.full((2, 4), 2.0, np.float32))
    writer.flush()
    orphan = store.FrameSpill(tmp_path, 0, 5)  # a file that was being embedded when the run died
    orphan.append(np.zeros((1, 4), np.float32))
    orphan._f.close()
    s = store.summarize(tmp_path)
    assert s.frame_counts == {3: 5, 4: 2} and s.spills == {spill.name}
    assert store.remove_orphan_spills(tmp_path) == 1 and not orphan.path.exists() and spill.path.exists()
    (shard,) = list(store.iter_shards(tmp_path))
    got = {i: np.concatenate(list(blocks)) for i, n, blocks in store.iter_file_frames(shard, tmp_path, 4, 2)}
    np.testing.assert_array_equal(got[3], np.ones((5, 4)))
    np.testing.assert_array_equal(got[4], np.full((2, 4), 2.0))
    spill.path.write_bytes(spill.path.read_bytes()[:-4])
    with pytest.raises(OSError, match="spill file ends"):
        [list(b) for _, _, b in store.iter_file_frames(shard, tmp_path, 4, 2)]


# --- end to end: every frame format through spill files ------------------------------------------

@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three files (1.3 s, 6.1 s at 32 kHz stereo, 4.0 s), a model folder and the loaded model."""
    root = tmp_path_factory.mktemp("streamed")
    src = root / "src"
    src.mkdir()
    sf.write(src / "a.wav", tone(1.3, 16000, 300.0, seed=1), 16000)
    sf.write(src / "b.flac", tone(6.1, 32000, 610.0, channels=2, seed=2), 32000)
    sf.write(src / "c.wav", tone(4.0, 16000, 150.0, seed=3), 16000)
    model_dir = make_model(root)
    model = slicer_embed.load(model_dir, device="cpu")
    rels = ["a.wav", "b.flac", "c.wav"]
    ref = [model.embed_frames(load_audio(src / r, model.sample_rate), model.sample_rate) for r in rels]
    return src, rels, model_dir, model, ref


@pytest.fixture
def tiny_spill(monkeypatch):
    """Spill after 10 frames (0.8 s) and copy 7 rows per block: every file above 1 s is spilled."""
    monkeypatch.setattr(store, "SPILL_ROWS", 10)
    monkeypatch.setattr("slicer_embed.extraction.npyio.BLOCK_BYTES", 7 * 8 * 4)


def _run(src, out, model_dir, *extra):
    return main([str(src), str(out), "--model", str(model_dir), "--level", "frame", "--num-workers", "0",
                 "--batch-size", "4", "-q", *extra])


def _check_frames(ref, frames, offsets, stamps, dtype=np.float32):
    assert offsets.tolist() == np.cumsum([0] + [len(r.embeddings) for r in ref]).tolist()
    for i, r in enumerate(ref):
        got = frames[offsets[i]:offsets[i + 1]]
        assert got.dtype == dtype
        np.testing.assert_allclose(got.astype(np.float32), r.embeddings, **(TOL if dtype == np.float32 else
                                                                          {"rtol": 2e-3, "atol": 2e-3}))
        np.testing.assert_allclose(stamps[offsets[i]:offsets[i + 1]], r.timestamps, rtol=0, atol=1e-9)


def test_npz_frames_through_spill_files(clips, tmp_path, tiny_spill):
    src, rels, model_dir, model, ref = clips
    assert _run(src, tmp_path / "f.npz", model_dir) == 0
    z = np.load(tmp_path / "f.npz", allow_pickle=False)
    assert list(z["paths"]) == rels
    _check_frames(ref, z["frame_embeddings"], z["frame_offsets"], z["timestamps"])
    assert not (tmp_path / "f.npz.partial").exists()


def test_npy_holds_frames_with_offsets_in_the_sidecar(clips, tmp_path, tiny_spill):
    src, rels, model_dir, model, ref = clips
    out = tmp_path / "f.npy"
    assert _run(src, out, model_dir, "--storage-dtype", "float16") == 0
    side = json.loads((tmp_path / "f.npy.json").read_text())
    frames = np.load(out, mmap_mode="r")  # the point of .npy: frames of 100 h of audio without loading them
    assert side["rows"] == len(frames) == side["frame_offsets"][-1] and side["array_sha256"] == file_sha256(out)
    assert side["paths"] == rels and side["metadata"]["level"] == "frame"
    offsets = np.array(side["frame_offsets"])
    stamps = np.concatenate([r.timestamps for r in ref])  # the documented rule, per file
    _check_frames(ref, frames, offsets, stamps, dtype=np.float16)


def test_dir_files_stream_spilled_frames(clips, tmp_path, tiny_spill):
    src, rels, model_dir, model, ref = clips
    assert _run(src, tmp_path / "out_dir/", model_dir, "--level", "both") == 0
    for r, want in zip(rels, ref):
        z = np.load(tmp_path / "out_dir" / f"{r}.npz", allow_pickle=False)
        np.testing.assert_allclose(z["frame_embeddings"], want.embeddings, **TOL)
        np.testing.assert_allclose(z["timestamps"], want.timestamps, rtol=0, atol=1e-9)
        assert z["embedding"].shape == (model.embedding_dim,)


def test_parquet_row_groups_cut_across_files(clips, tmp_path, tiny_spill, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr("slicer_embed.extraction.parquet.ROW_GROUP", 16)
    src, rels, model_dir, model, ref = clips
    out = tmp_path / "f.parquet"
    assert _run(src, out, model_dir) == 0
    meta = pq.ParquetFile(out).metadata
    total = sum(len(r.embeddings) for r in ref)
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == \
        [16] * (total // 16) + ([total % 16] if total % 16 else [])
    t = pq.read_table(out)
    paths = np.array(t.column("path").to_pylist())
    emb = np.array(t.column("embedding").to_pylist(), np.float32)
    for r, want in zip(rels, ref):
        np.testing.assert_allclose(emb[paths == r], want.embeddings, **TOL)
        np.testing.assert_allclose(np.array(t.column("t_center_s"))[paths == r], want.timestamps, atol=1e-9)


def test_resume_after_a_kill_mid_file_ignores_its_spill(clips, tmp_path, tiny_spill, monkeypatch):
    """A run that dies while a long file is being spilled leaves a spill file no shard names: resume
    deletes it, embeds the file again, and the output equals an uninterrupted run."""
    src, rels, model_dir, model, ref = clips
    out = tmp_path / "f.npz"
    import slicer_embed.extraction.runner as runner

    real = runner._record
    seen = []

    def die_after_first(*args, **kwargs):
        seen.append(args[3])
        if len(seen) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_record", die_after_first)
    assert _run(src, out, model_dir, "--checkpoint-seconds", "0") == 130  # as Ctrl-C
    monkeypatch.setattr(runner, "_record", real)
    partial = tmp_path / "f.npz.partial"
    assert list(partial.glob("spill-*.f32")), "the interrupted file should have left a spill file"
    assert store.summarize(partial).finished() == {0}
    assert _run(src, out, model_dir, "--resume") == 0
    z = np.load(out, allow_pickle=False)
    _check_frames(ref, z["frame_embeddings"], z["frame_offsets"], z["timestamps"])
    assert not partial.exists()


def test_large_npz_frame_jobs_get_a_note_before_the_run(clips, tmp_path, monkeypatch, capsys):
    from slicer_embed.extraction import estimate, runner
    from slicer_embed.extraction.sources import discover

    src, rels, model_dir, model, ref = clips
    entries = discover(str(src))
    assert estimate.audio_seconds(entries) == pytest.approx(1.3 + 6.1 + 4.0, abs=1e-3)
    assert 2 * 1.3 <= estimate.audio_seconds(entries, sample=2) <= 2 * 6.1 * 1.5  # a sample, scaled up
    assert estimate.frame_bytes(3600.0, 2048, 4, 0.08) == 45000 * 2048 * 4  # 1 h: 351.6 MiB of float32
    monkeypatch.setattr(runner, "NPZ_NOTE_BYTES", 1000)
    assert _run(src, tmp_path / "f.npz", model_dir) == 0
    err = capsys.readouterr().err
    assert "note:" in err and "GiB of frame embeddings" in err and "mmap_mode='r'" in err
    for out, level in ((tmp_path / "f.npy", "frame"), (tmp_path / "c.npz", "clip")):  # memory-mappable / small
        assert _run(src, out, model_dir, "--level", level) == 0
        assert "note:" not in capsys.readouterr().err
