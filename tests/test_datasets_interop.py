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
