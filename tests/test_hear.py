"""The HEAR 2021 API, checked the way hear-validator checks it (without its TensorFlow dependency)."""

import numpy as np
import pytest
import torch

import slicer_embed.hear as hear

ACCEPTABLE_SAMPLE_RATES = [16000, 22050, 32000, 44100, 48000]


@pytest.fixture(scope="module")
def hear_model(model_dir):
    m = hear.load_model(str(model_dir))
    m.to("cpu")  # the validator moves the model to its device
    return m


def white_noise(n, seconds, sr=16000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, int(seconds * sr)), generator=g) * 2 - 1


def test_model_attributes(hear_model):
    assert isinstance(hear_model, torch.nn.Module)
    assert hear_model.sample_rate in ACCEPTABLE_SAMPLE_RATES
    assert isinstance(hear_model.scene_embedding_size, int) and hear_model.scene_embedding_size == 2048
    assert isinstance(hear_model.timestamp_embedding_size, int) and hear_model.timestamp_embedding_size == 2048


@pytest.mark.parametrize("length", [1.07, 1.98, 4.0])
def test_timestamp_embeddings_like_the_validator(hear_model, length):
    audio = white_noise(2, length)
    emb, ts = hear.get_timestamp_embeddings(audio, hear_model)
    assert emb.dtype == torch.float32 and ts.dtype == torch.float32
    emb, ts = emb.numpy(), ts.numpy()
    assert emb.ndim == 3 and ts.ndim == 2
    assert emb.shape[0] == 2 and emb.shape[:2] == ts.shape
    assert emb.shape[2] == hear_model.timestamp_embedding_size
    diff = np.diff(ts)
    avg = diff.mean()
    assert diff.max() <= 50.0  # HEAR suggests <= 50 ms
    assert np.max(np.abs(diff - avg)) <= 1.0  # regular within 1 ms
    assert ts.min() <= avg  # starts near the beginning
    assert ts.max() >= 1000 * length - 2 * avg  # covers the end
    assert ts.max() <= 1000 * length  # never past the end
    assert np.array_equal(ts[0], ts[1])


def test_scene_embeddings_like_the_validator(hear_model):
    emb = hear.get_scene_embeddings(white_noise(4, 2.74), hear_model)
    assert emb.dtype == torch.float32 and emb.shape == (4, hear_model.scene_embedding_size)


def test_deterministic_and_batch_independent(hear_model):
    audio = white_noise(3, 1.5, seed=3)
    a = hear.get_scene_embeddings(audio, hear_model)
    b = hear.get_scene_embeddings(audio[1:2], hear_model)
    torch.testing.assert_close(a[1:2], b, rtol=1e-5, atol=1e-5)
    e1, t1 = hear.get_timestamp_embeddings(audio, hear_model)
    e2, t2 = hear.get_timestamp_embeddings(audio, hear_model)
    assert torch.equal(e1, e2) and torch.equal(t1, t2)


def test_short_clip_timestamps_stay_inside(hear_model):
    emb, ts = hear.get_timestamp_embeddings(white_noise(1, 0.02), hear_model)
    assert emb.shape == (1, 1, 2048) and float(ts.max()) <= 20.0


def test_options_and_errors(model_dir):
    m = hear.load_model(str(model_dir), hop_ms=80, scene_pooling="mean")
    emb, ts = hear.get_timestamp_embeddings(white_noise(1, 2.0), m)
    np.testing.assert_allclose(np.diff(ts[0].numpy()), 80.0, atol=1e-3)
    with pytest.raises(ValueError, match="hop_seconds"):
        hear.load_model(str(model_dir), hop_ms=50)
    with pytest.raises(TypeError, match="unknown HEAR model option"):
        hear.load_model(str(model_dir), hop=40)
    with pytest.raises(ValueError, match="2-D"):
        hear.get_scene_embeddings(torch.zeros(16000), m)
    with pytest.raises(ValueError, match="torch.Tensor"):
        hear.get_scene_embeddings(np.zeros((1, 16000), np.float32), m)
