"""Interrupted ``extract`` runs (kill -9, Ctrl-C) resume to the same result as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from slicer_embed.commands.extract import main
from slicer_embed.extraction import dataset, store
from test_extract_data import make_model, tone

N_GOOD = 30


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A folder of 30 short files + 1 bad one, a model, and the uninterrupted reference output."""
    root = tmp_path_factory.mktemp("resume")
    src = root / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(N_GOOD):
        folder = src / "sub" if i % 3 == 0 else src
        rate = (16000, 22050, 44100)[i % 3]
        sf.write(folder / f"f{i:02d}.wav", tone(1.0 + 0.2 * i, rate, 200.0 + 23 * i, seed=i), rate)
    (src / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    model_dir = make_model(root)
    ref = root / "ref.npz"
    assert main([str(src), str(ref), "--model", str(model_dir), "--level", "both", "--num-workers", "0",
                 "-q"]) == 1
    return src, model_dir, ref


def _argv(src: Path, out: Path, model_dir: Path) -> list[str]:
    # Tiny batches and a checkpoint after every file, so that a kill lands between shards.
    return [str(src), str(out), "--model", str(model_dir), "--level", "both", "--batch-size", "1",
            "--checkpoint-seconds", "0", "-q"]


def _start_and_interrupt(argv: list[str], partial: Path, sig: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # A terminal's Ctrl-C reaches a process whose SIGINT is the default: the child must not inherit
    # an "ignored" disposition from this pytest process (then the run finishes and the test skipped).
    proc = subprocess.Popen([sys.executable, "-m", "slicer_embed", "extract", *argv, "--num-workers", "1"],
                            env=env, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(partial.glob("shard-*.npz")):  # wait until some work is saved, then strike
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no shard appeared"
        time.sleep(0.005)
    if sig == signal.SIGKILL:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole job: main process and decoding workers
    else:
        os.kill(proc.pid, sig)  # Ctrl-C reaches the main process
    proc.wait(timeout=60)
    return proc


def _assert_same(a_path: Path, b_path: Path) -> None:
    a, b = np.load(a_path, allow_pickle=False), np.load(b_path, allow_pickle=False)
    assert list(a["paths"]) == list(b["paths"])
    np.testing.assert_array_equal(a["frame_offsets"], b["frame_offsets"])
    np.testing.assert_array_equal(a["timestamps"], b["timestamps"])
    np.testing.assert_array_equal(a["durations"], b["durations"])
    # batches are composed differently after a resume: last-bit differences only
    np.testing.assert_allclose(a["embeddings"], b["embeddings"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a["frame_embeddings"], b["frame_embeddings"], rtol=1e-5, atol=1e-5)


def test_resume_after_kill_9_equals_uninterrupted(setup, tmp_path, monkeypatch, capsys):
    src, model_dir, ref = setup
    out = tmp_path / "out.npz"
    partial = tmp_path / "out.npz.partial"
    proc = _start_and_interrupt(_argv(src, out, model_dir), partial, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # never a half-written output
    saved = store.summarize(partial).finished()
    assert 0 < len(saved) < N_GOOD + 1, "the kill did not land mid-run"

    assert main(_argv(src, out, model_dir)) == 2  # an interrupted run is not silently discarded
    assert "--resume" in capsys.readouterr().err
    assert main(_argv(src, out, model_dir) + ["--resume", "--pooling", "max"]) == 2
    assert "different pooling" in capsys.readouterr().err

    opened = []
    real = dataset.stream_audio
    monkeypatch.setattr(dataset, "stream_audio", lambda p, sr: (opened.append(p), real(p, sr))[1])
    assert main(_argv(src, out, model_dir) + ["--resume", "--num-workers", "0"]) == 1
    assert len(opened) == N_GOOD + 1 - len(saved)  # finished files were not embedded again
    _assert_same(ref, out)
    assert (tmp_path / "out.npz.errors.tsv").read_text() == (ref.parent / "ref.npz.errors.tsv").read_text()
    assert not partial.exists()
    assert main(_argv(src, out, model_dir) + ["--resume"]) == 1  # already complete: nothing to do


def test_resume_after_ctrl_c_equals_uninterrupted(setup, tmp_path):
    src, model_dir, ref = setup
    out = tmp_path / "out.npz"
    partial = tmp_path / "out.npz.partial"
    proc = _start_and_interrupt(_argv(src, out, model_dir), partial, signal.SIGINT)
    err = proc.stderr.read()
    if proc.returncode == 1:  # it finished before the signal arrived: nothing to resume
        pytest.skip("run completed before Ctrl-C")
    assert proc.returncode == 130, err
    assert "--resume" in err and not out.exists()
    assert main(_argv(src, out, model_dir) + ["--resume", "--num-workers", "2"]) == 1
    _assert_same(ref, out)
