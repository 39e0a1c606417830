"""extract runs the encoder in one dedicated thread (its own glibc arena: flat memory, see
slicer_embed/extraction/encoder_thread.py); the slow test in test_extract_memory.py measures it."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import soundfile as sf
import torch

import slicer_embed
from slicer_embed.extraction import runner
from slicer_embed.extraction.encoder_thread import submit_to_encoder_thread
from slicer_embed.extraction.options import ExtractOptions
from test_extract_data import tone


def run_in_encoder_thread(fn):
    return submit_to_encoder_thread(fn).result()


def test_runs_in_one_named_thread_under_inference_mode():
    seen = [run_in_encoder_thread(lambda: (threading.current_thread(), torch.is_inference_mode_enabled()))
            for _ in range(3)]
    threads = {t for t, _ in seen}
    assert len(threads) == 1 and threading.current_thread() not in threads
    assert next(iter(threads)).name.startswith("slicer-embed-encoder")
    assert all(mode for _, mode in seen)


def test_exceptions_reach_the_caller():
    def boom():
        raise ValueError("encoder expects (batch, 1, 64, frames)")
    with pytest.raises(ValueError, match="encoder expects"):
        run_in_encoder_thread(boom)
    assert run_in_encoder_thread(lambda: 7) == 7  # the thread survives a failed call


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_thread():
    run_in_encoder_thread(lambda: None)  # the parent's thread exists before the fork
    pid = os.fork()
    if pid == 0:  # child: the inherited executor has no thread; a call must still complete
        os._exit(0 if run_in_encoder_thread(lambda: 41) == 41 else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_extract_calls_the_model_from_the_encoder_thread(tmp_path, monkeypatch):
    model = slicer_embed.create_model(seed=0)
    model.save_pretrained(tmp_path / "model")
    for i in range(3):
        sf.write(tmp_path / f"{i}.wav", tone(2.0 + i, 16000), 16000)
    names: list[str] = []
    start_forward = runner.start_forward

    def spy(model, wave):
        names.append(threading.current_thread().name)
        wait = start_forward(model, wave)
        return lambda: (names.append(threading.current_thread().name), wait())[1]

    monkeypatch.setattr(runner, "start_forward", spy)
    opts = ExtractOptions(source=str(tmp_path), output=str(tmp_path / "out.npy"),
                          model=str(tmp_path / "model"), num_workers=0, quiet=True)
    assert runner.run(opts) == 0
    assert len(names) >= 2 and all(n.startswith("slicer-embed-encoder") for n in names)
    rows = np.load(tmp_path / "out.npy")
    expected = [slicer_embed.load(tmp_path / "model").embed_file(tmp_path / f"{i}.wav") for i in range(3)]
    np.testing.assert_allclose(rows, np.stack(expected), rtol=1e-5, atol=1e-5)


def test_each_batch_starts_before_the_previous_one_is_pooled(tmp_path, monkeypatch):
    model = slicer_embed.create_model(seed=0)
    model.save_pretrained(tmp_path / "model")
    for i in range(4):
        sf.write(tmp_path / f"{i}.wav", tone(1.5 + i, 16000), 16000)  # 2, 3, 4, 5 windows
    events: list[tuple[str, int]] = []
    start_forward, pool_into = runner.start_forward, runner._pool_into

    def start_spy(model, wave):
        events.append(("start", wave.shape[0]))
        return start_forward(model, wave)

    def pool_spy(wait, batch, targets):
        events.append(("pool", len(targets)))
        return pool_into(wait, batch, targets)

    monkeypatch.setattr(runner, "start_forward", start_spy)
    monkeypatch.setattr(runner, "_pool_into", pool_spy)
    opts = ExtractOptions(source=str(tmp_path), output=str(tmp_path / "out.npy"),
                          model=str(tmp_path / "model"), num_workers=0, batch_size=4, quiet=True)
    assert runner.run(opts) == 0
    kinds = [k for k, _ in events]
    n = kinds.count("start")
    assert n >= 3 and kinds.count("pool") == n
    # start 1, start 2, pool 1, start 3, pool 2, ..., pool n: the cores never wait for pooling
    assert kinds == ["start"] + ["start", "pool"] * (n - 1) + ["pool"]
    assert [size for k, size in events if k == "start"] == [size for k, size in events if k == "pool"]
    expected = [slicer_embed.load(tmp_path / "model").embed_file(tmp_path / f"{i}.wav") for i in range(4)]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), np.stack(expected), rtol=1e-5, atol=1e-5)
