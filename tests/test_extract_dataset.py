"""The worker side of ``extract`` (extraction/dataset.py): cross-file batches, event order, failures."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
import soundfile as sf
from test_extract_data import tone

import slicer_embed
from slicer_embed.extraction.dataset import DONE, FAIL, WindowSpec, make_loader


@pytest.fixture(scope="module")
def spec() -> WindowSpec:
    return WindowSpec.of(slicer_embed.create_model(seed=0))


@pytest.fixture
def files(tmp_path):
    """Three short files of 2, 1 and 3 windows (16 kHz), one undecodable file between them."""
    paths = []
    for i, seconds in enumerate((1.5, 0.5, 2.5)):
        p = tmp_path / f"f{i}.wav"
        sf.write(p, tone(seconds, 16000, seed=i), 16000)
        paths.append(str(p))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    return [(0, paths[0]), (1, paths[1]), (7, str(bad)), (2, paths[2])]


def _drain(loader):
    batches = list(loader)
    return batches, [(kind, key) for b in batches for kind, key, _ in b.events]


@pytest.mark.parametrize("num_workers", [0, 1])
def test_windows_of_several_files_share_a_batch(spec, files, num_workers):
    batches, events = _drain(make_loader(files, spec, batch_size=4, num_workers=num_workers))
    assert all(0 < len(b.keys) <= 4 or b.events for b in batches)
    assert any(len(set(b.keys.tolist())) > 1 for b in batches)  # cross-file batching
    keys = np.concatenate([b.keys for b in batches])
    assert keys.tolist() == [0, 0, 1, 2, 2, 2]  # files in order, their windows in order
    assert all(b.windows.shape[1:] == (spec.window,) and b.windows.dtype.is_floating_point for b in batches)
    assert events == [(DONE, 0), (DONE, 1), (FAIL, 7), (DONE, 2)]


def test_a_files_event_follows_all_its_windows(spec, files):
    seen: set[int] = set()
    done: set[int] = set()
    for b in make_loader(files, spec, batch_size=1, num_workers=0):
        assert not (set(b.keys.tolist()) & done)  # no window after its file was reported
        seen |= set(b.keys.tolist())
        for kind, key, value in b.events:
            if kind == DONE:
                assert key in seen and value > 0  # decoded samples at 16 kHz
                done.add(key)
    assert done == {0, 1, 2}


def test_decoding_runs_in_worker_processes(spec, files, monkeypatch, tmp_path):
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("the spy is patched in by monkeypatch, which only forked workers inherit")
    from slicer_embed.extraction import dataset
    real, log = dataset.stream_audio, tmp_path / "pids.txt"

    def spy(path, sr):  # records which process decodes (a file: worker memory does not come back)
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        yield from real(path, sr)
    monkeypatch.setattr(dataset, "stream_audio", spy)
    list(make_loader(files[:2], spec, batch_size=4, num_workers=1))
    workers = set(log.read_text().split())
    log.unlink()
    list(make_loader(files[:2], spec, batch_size=4, num_workers=0))
    assert workers and str(os.getpid()) not in workers
    assert set(log.read_text().split()) == {str(os.getpid())}
