"""model.stream(): pushed chunks of any size, concatenated, equal embed_frames of the whole signal;
and ``slicer-embed stream`` reading WAV or raw PCM from stdin."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import slicer_embed


@pytest.fixture(scope="module")
def model():
    return slicer_embed.create_model(seed=0)


def _signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def _streamed(model, x, sr, chunk):
    st = model.stream(sample_rate=sr)
    parts = [st.push(x[i:i + chunk]) for i in range(0, len(x), chunk)] + [st.flush()]
    return (np.concatenate([p.embeddings for p in parts]), np.concatenate([p.timestamps for p in parts]), parts)


@pytest.mark.parametrize("sr", [16000, 44100, 8000])
@pytest.mark.parametrize("seconds", [0.0001, 0.02, 0.5, 0.96, 2.88, 3.3])
@pytest.mark.parametrize("chunk", [1000, 15360, 100000])
def test_stream_equals_embed_frames(model, sr, seconds, chunk):
    x = _signal(max(1, int(seconds * sr)))
    want = model.embed_frames(x, sr)
    emb, t, _ = _streamed(model, x, sr, chunk)
    assert emb.shape == want.embeddings.shape
    np.testing.assert_allclose(emb, want.embeddings, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(t, want.timestamps, atol=1e-9)


def test_single_samples_and_empty_pushes(model):
    x = _signal(16000 + 3000)
    st = model.stream(sample_rate=16000)
    assert st.push(np.zeros(0, np.float32)).embeddings.shape == (0, 2048)
    counts = [len(st.push(x[i:i + 1]).embeddings) for i in range(len(x))]
    assert sum(counts) == 12 and counts[15359] == 12  # the first window's frames arrive with its last sample
    tail = st.flush()
    want = model.embed_frames(x, 16000)
    assert 12 + len(tail.embeddings) == len(want.embeddings)
    np.testing.assert_allclose(tail.embeddings, want.embeddings[12:], rtol=1e-4, atol=1e-5)


def test_frames_arrive_as_windows_complete(model):
    x = _signal(16000 * 3)
    _, _, parts = _streamed(model, x, 16000, 8000)
    sizes = [len(p.embeddings) for p in parts]
    assert sizes[:6] == [0, 12, 0, 12, 0, 12]  # 0.96 s windows complete after 1, 2 and 3 chunks of 0.5 s


def test_torch_and_integer_chunks(model):
    x = _signal(20000)
    pcm = (x * 32767).astype(np.int16)
    a = _streamed(model, torch.from_numpy(x), 16000, 5000)[0]
    b = _streamed(model, pcm, 16000, 5000)[0]
    np.testing.assert_allclose(a, model.embed_frames(x, 16000).embeddings, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b, model.embed_frames(pcm, 16000).embeddings, rtol=1e-4, atol=1e-5)


def test_stream_errors(model):
    st = model.stream(sample_rate=16000)
    with pytest.raises(ValueError, match="1-D"):
        st.push(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        st.push(np.array([0.0, np.nan], np.float32))
    assert st.flush().embeddings.shape == (0, 2048)  # nothing pushed: nothing out
    with pytest.raises(RuntimeError, match="flushed"):
        st.push(np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="sample_rate"):
        model.stream(sample_rate=0)


def _cli(args, data):
    return subprocess.run([sys.executable, "-m", "slicer_embed", "stream", *args], input=data, capture_output=True,
                          timeout=120)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, model):
    d = tmp_path_factory.mktemp("m")
    model.save_pretrained(d)
    return d


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_cli_reads_a_wav_stream(model, model_dir, subtype):
    x = _signal(48000 * 2)
    buf = io.BytesIO()
    sf.write(buf, np.stack([x, 0.5 * x], 1), 48000, subtype=subtype, format="WAV")
    done = _cli(["-", "--model", str(model_dir)], buf.getvalue())
    assert done.returncode == 0, done.stderr.decode()
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    buf.seek(0)
    y, sr = sf.read(buf, dtype="float32")
    want = model.embed_frames(y.mean(axis=1), sr)
    assert len(rows) == len(want.embeddings)
    np.testing.assert_allclose([r["t"] for r in rows], want.timestamps, atol=1e-6)
    np.testing.assert_allclose(np.array([r["embedding"] for r in rows]), want.embeddings, rtol=1e-4, atol=1e-5)


def test_cli_streaming_wav_header_with_placeholder_sizes(model, model_dir):
    """arecord writes 0x7FFFFFFF-ish sizes into the header of a live WAV stream."""
    x = _signal(16000)
    pcm = (x * 32767).astype("<i2").tobytes()
    import struct
    header = (b"RIFF" + struct.pack("<I", 0x7FFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000,
              32000, 2, 16) + b"LIST" + struct.pack("<I", 4) + b"INFO" + b"data" + struct.pack("<I", 0x7FFFFFFF))
    done = _cli(["-", "--model", str(model_dir)], header + pcm)
    assert done.returncode == 0, done.stderr.decode()
    assert len(done.stdout.decode().splitlines()) == len(model.embed_frames(x, 16000).embeddings)


def test_cli_raw_pcm_binary_records(model, model_dir):
    x = _signal(22050 * 2)
    raw = (np.stack([x, x], 1) * 32767).astype("<i2").tobytes()
    done = _cli(["-", "--model", str(model_dir), "--raw", "s16le", "--rate", "22050", "--channels", "2",
                 "--format", "f32"], raw)
    assert done.returncode == 0, done.stderr.decode()
    rec = np.frombuffer(done.stdout, dtype=[("t", "<f8"), ("e", "<f4", 2048)])
    want = model.embed_frames((x * 32767).astype(np.int16), 22050)
    assert len(rec) == len(want.embeddings)
    np.testing.assert_allclose(rec["e"], want.embeddings, rtol=1e-3, atol=1e-4)


def test_cli_bad_input_is_exit_2():
    done = _cli(["-"], b"this is not a wav file at all")
    assert done.returncode == 2 and b"not a WAV stream" in done.stderr
    done = _cli(["-", "--raw", "s16le"], b"\x00\x00")
    assert done.returncode == 2 and b"--rate" in done.stderr


def test_cli_stops_at_the_data_chunk_and_rejects_a_short_fmt(model, model_dir):
    x = _signal(16000)
    buf = io.BytesIO()
    sf.write(buf, x, 16000, subtype="FLOAT", format="WAV")
    trailing = b"LIST" + (40).to_bytes(4, "little") + b"INFO" + b"\xff" * 36  # would decode to NaN as floats
    done = _cli(["-", "--model", str(model_dir)], buf.getvalue() + trailing)
    assert done.returncode == 0, done.stderr.decode()
    assert len(done.stdout.decode().splitlines()) == len(model.embed_frames(x, 16000).embeddings)
    import struct
    bad = b"RIFF" + struct.pack("<I", 100) + b"WAVE" + b"fmt " + struct.pack("<I", 4) + b"\x01\x00\x01\x00"
    done = _cli(["-"], bad + b"data" + struct.pack("<I", 0))
    assert done.returncode == 2 and b"fmt chunk" in done.stderr


def test_cli_writes_frames_before_the_input_ends(model_dir):
    """Live: a window's frames leave as soon as the window is complete, not when a 64 KiB block fills."""
    import select
    import struct
    proc = subprocess.Popen([sys.executable, "-m", "slicer_embed", "stream", "-", "--model", str(model_dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    header = (b"RIFF" + struct.pack("<I", 0x7FFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000,
              16000, 2, 16) + b"data" + struct.pack("<I", 0x7FFFFFFF))
    pcm = (_signal(8000 + 800) * 32767).astype("<i2").tobytes()  # 1.1 s at 8 kHz: 17.6 kB < 64 KiB
    proc.stdin.write(header + pcm)
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    try:
        assert ready, "no frame within 60 s although a whole window was written"
        first = json.loads(proc.stdout.readline())
        assert abs(first["t"] - 0.035) < 1e-6
    finally:
        proc.communicate(timeout=60)  # end of input; read the rest so the writer never blocks
