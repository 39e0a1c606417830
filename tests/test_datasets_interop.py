"""Hugging Face ``datasets`` interop: ``embed`` takes decoded Audio values ({"array", "sampling_rate"})
and lists of them, so ``Dataset.map(batched=True)`` needs no glue (real ``datasets``, no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

import slicer_embed

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def model():
    return slicer_embed.create_model(seed=0)


def _clips():
    rng = np.random.default_rng(0)
    rates = [16000, 22050, 44100, 8000, 48000]
    return [(0.2 * rng.standard_normal(int(r * rng.uniform(0.3, 2.5)))).astype(np.float32) for r in rates], rates


def test_dataset_map_batched_equals_embed(model):
    clips, rates = _clips()
    ds = datasets.Dataset.from_dict({"audio": [{"array": c, "sampling_rate": r} for c, r in zip(clips, rates)],
                                     "label": list(range(len(clips)))})

    def add_embeddings(batch):
        return {"embedding": list(model.embed(batch["audio"]))}
    out = ds.map(add_embeddings, batched=True, batch_size=2)
    got = np.asarray(out["embedding"], dtype=np.float32)
    want = np.stack([model.embed(c, r) for c, r in zip(clips, rates)])
    assert got.shape == (len(clips), 2048)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_one_value_and_rate_conflicts(model):
    clips, rates = _clips()
    value = {"array": clips[1], "sampling_rate": rates[1]}
    np.testing.assert_allclose(model.embed(value), model.embed(clips[1], rates[1]), rtol=1e-6)
    frames = model.embed_frames(value)
    assert frames.embeddings.shape[0] == model.embed_frames(clips[1], rates[1]).embeddings.shape[0]
    np.testing.assert_allclose(model.embed(value, sample_rate=rates[1]), model.embed(value), rtol=1e-6)
    with pytest.raises(ValueError, match="sampling_rate=22050 but sample_rate=16000"):
        model.embed(value, sample_rate=16000)


def test_stereo_values_are_averaged(model):
    x = (0.1 * np.random.default_rng(1).standard_normal((2, 16000))).astype(np.float32)
    np.testing.assert_allclose(model.embed({"array": x, "sampling_rate": 16000}), model.embed(x.mean(0), 16000),
                               rtol=1e-6)


def test_decoder_objects_of_newer_datasets(model):
    """datasets >= 4 decodes Audio to a torchcodec AudioDecoder: anything with get_all_samples() works."""
    import torch

    class Samples:
        def __init__(self, data, sample_rate):
            self.data, self.sample_rate = data, sample_rate

    class Decoder:  # the part of torchcodec.decoders.AudioDecoder that embed uses
        def __init__(self, x, sr):
            self.x, self.sr = x, sr

        def get_all_samples(self):
            return Samples(torch.from_numpy(self.x)[None], self.sr)

    clips, rates = _clips()
    got = model.embed([Decoder(clips[0], rates[0]), Decoder(clips[2], rates[2])])
    want = np.stack([model.embed(clips[0], rates[0]), model.embed(clips[2], rates[2])])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_short_mono_values_with_a_channel_axis(model):
    x = np.array([[0.1, -0.2, 0.3]], np.float32)  # (1, 3): datasets >= 4 decoders give (channels, samples)
    np.testing.assert_allclose(model.embed({"array": x, "sampling_rate": 16000}), model.embed(x[0], 16000), rtol=1e-6)


README_LINES = ('ds = ds.cast_column("audio", Audio(decode=False))',
                'ds = ds.map(lambda b: {"embedding": list(model.embed(b["audio"]))}, batched=True)')


def test_undecoded_audio_values_need_no_torchcodec(tmp_path, model):
    """The README's datasets example, run in a fresh interpreter where torchcodec cannot be imported
    (datasets 5 decodes Audio columns through torchcodec and FFmpeg): undecoded values ({"bytes",
    "path"}, bytes or a path, one value or a batch) go through the package's own decoder."""
    from pathlib import Path

    from conftest import run_python
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    model_dir = tmp_path / "model"
    model.save_pretrained(model_dir)
    for line in README_LINES:
        assert line in readme
    code = f"""
import io, sys
sys.modules["torchcodec"] = None  # as on a machine without torchcodec / FFmpeg
import numpy as np, soundfile as sf, datasets
from datasets import Audio
import slicer_embed
model = slicer_embed.load({str(model_dir)!r})
rng = np.random.default_rng(0)
clips = [(0.2 * rng.standard_normal(n)).astype(np.float32) for n in (16000, 30000, 9000)]
rates, fmts = [16000, 44100, 8000], ["WAV", "FLAC", "OGG"]
paths = []
for i, (c, r, f) in enumerate(zip(clips, rates, fmts)):
    paths.append({str(tmp_path)!r} + f"/c{{i}}.{{f.lower()}}")
    sf.write(paths[-1], c, r, format=f)
want = model.embed_files(paths)
ds = datasets.Dataset.from_dict({{"audio": paths}}).cast_column("audio", Audio())
try:
    ds[0]["audio"]
    print("DECODED-WITHOUT-TORCHCODEC")
except ImportError:
    pass
{README_LINES[0]}
{README_LINES[1]}
got = np.asarray(ds["embedding"], np.float32)
assert np.abs(got - want).max() < 1e-4, np.abs(got - want).max()
blobs = [open(p, "rb").read() for p in paths]  # values that carry their bytes (Hub datasets)
bds = datasets.Dataset.from_dict({{"audio": [{{"bytes": b, "path": "x" + p[-5:]}} for b, p in zip(blobs, paths)]}})
bds = bds.cast_column("audio", Audio(decode=False))
one = model.embed(bds[1]["audio"])
assert np.abs(one - want[1]).max() < 1e-4
batch = model.embed(bds[:3]["audio"])
assert np.abs(batch - want).max() < 1e-4
frames = model.embed_frames(bds[0]["audio"])
assert frames.embeddings.shape[0] == model.embed_frames(clips[0], 16000).embeddings.shape[0]
print("OK")
"""
    r = run_python(code, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stderr[-3000:]


def test_undecoded_values_errors_name_the_value(model, tmp_path):
    with pytest.raises(slicer_embed.AudioDecodeError, match=r"audio\[1\].*cannot decode"):
        model.embed([{"bytes": _wav_bytes(), "path": "a.wav"}, {"bytes": b"not audio at all", "path": "b.wav"}])
    with pytest.raises(slicer_embed.AudioDecodeError, match="missing.wav: no such file"):
        model.embed({"bytes": None, "path": str(tmp_path / "missing.wav")})
    with pytest.raises(ValueError, match="neither bytes nor a path"):
        model.embed({"bytes": None, "path": None})
    with pytest.raises(ValueError, match="sample_rate=16000"):
        model.embed({"bytes": _wav_bytes(8000), "path": None}, sample_rate=16000)


def _wav_bytes(rate: int = 16000) -> bytes:
    import io

    import soundfile as sf
    b = io.BytesIO()
    sf.write(b, (0.1 * np.ones(rate // 2)).astype(np.float32), rate, format="WAV")
    return b.getvalue()
