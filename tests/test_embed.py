"""The embedding API contract: shapes, types, invariances, resampling, bad input, timestamps."""

import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SR, tone
from slicer_embed import AudioDecodeError
from slicer_embed.windows import frame_centres, iter_windows


def cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- shapes and types ---------------------------------------------------------------------------

def test_shapes_and_types(model, rng):
    x = (0.1 * rng.standard_normal(2 * SR)).astype(np.float32)
    one = model.embed(x, SR)
    assert isinstance(one, np.ndarray) and one.shape == (2048,) and one.dtype == np.float32
    batch = model.embed(np.stack([x, x[::-1].copy()]), SR)
    assert batch.shape == (2, 2048)
    ragged = model.embed([x, x[:5000]], SR)
    assert ragged.shape == (2, 2048)
    t = model.embed(torch.from_numpy(x), SR)
    assert isinstance(t, torch.Tensor) and t.shape == (2048,) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), one, rtol=0, atol=0)
    assert model.embed([torch.from_numpy(x)], SR).shape == (1, 2048)


def test_determinism(model, speech):
    a, b = model.embed(speech, SR), model.embed(speech, SR)
    assert np.array_equal(a, b)


def test_batch_invariance(model, speech, rng):
    """A clip alone equals the same clip inside a padded ragged batch."""
    other = (0.2 * rng.standard_normal(7 * SR)).astype(np.float32)
    alone = model.embed(speech, SR)
    in_batch = model.embed([other, speech, other[:300]], SR, batch_size=3)
    np.testing.assert_allclose(in_batch[1], alone, rtol=1e-5, atol=1e-5)
    # equal-length 2-D batch
    two = model.embed(np.stack([speech, speech * 0.5]), SR)
    np.testing.assert_allclose(two[0], alone, rtol=1e-5, atol=1e-5)


def test_chunk_invariance(model, rng, tmp_path):
    """A long file embedded in streamed chunks equals the whole array embedded at once."""
    x = (0.1 * rng.standard_normal(95 * SR + 1234)).astype(np.float32)
    whole = model.embed(x, SR, batch_size=16)
    path = tmp_path / "long.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    streamed = model.embed_file(path)  # decoded in 30 s blocks, windows regrouped across blocks
    np.testing.assert_allclose(streamed, whole, rtol=1e-5, atol=1e-5)
    # windows rebuilt from arbitrary chunk sizes are identical to slicing the whole array
    cuts = np.cumsum(rng.integers(1, 40000, size=50))
    chunks = np.split(x, cuts[cuts < len(x)])
    a = list(iter_windows([x], 15360))
    b = list(iter_windows(chunks, 15360))
    assert len(a) == len(b) and all(np.array_equal(wa, wb) and na == nb for (wa, na), (wb, nb) in zip(a, b))


def test_long_clip_runs_in_bounded_batches(model, monkeypatch):
    seen = []
    orig = type(model).forward

    def spy(self, wave):
        seen.append(wave.shape[0])
        return orig(self, wave)

    monkeypatch.setattr(type(model), "forward", spy)
    x = np.zeros(60 * SR, np.float32)
    model.embed(x, SR, batch_size=8)
    assert max(seen) <= 8 and sum(seen) == int(np.ceil(60 * SR / 15360))


# -- audio handling -----------------------------------------------------------------------------

def test_integer_pcm_is_scaled(model, speech):
    pcm16 = np.round(speech * 32767).astype(np.int16)
    ref = model.embed(pcm16.astype(np.float32) / 32768.0, SR)
    np.testing.assert_allclose(model.embed(pcm16, SR), ref, rtol=1e-6, atol=1e-6)
    pcm32 = pcm16.astype(np.int32) * 65536
    np.testing.assert_allclose(model.embed(pcm32, SR), ref, rtol=1e-6, atol=1e-6)
    u8 = (np.round(speech * 127) + 128).astype(np.uint8)
    assert cos(model.embed(u8, SR), ref) > 0.99


def test_resampling_sanity(model, speech):
    import soxr
    ref = model.embed(speech, SR)
    for sr in (8000, 22050, 44100, 48000):
        y = soxr.resample(speech, SR, sr)
        e = model.embed(y, sr)
        assert cos(e, ref) > (0.97 if sr == 8000 else 0.995), sr
    # a tone keeps its pitch through resampling: 1 kHz at 44.1 kHz embeds like 1 kHz at 16 kHz
    a, b, c = model.embed(tone(1000, 1.0), SR), model.embed(tone(1000, 1.0, 44100), 44100), model.embed(tone(3000, 1.0), SR)
    assert cos(a, b) > 0.999 and cos(a, b) > cos(a, c)


def test_missing_rate_warns_once(model):
    from slicer_embed import create_model
    m = create_model(seed=0)
    x = np.zeros(SR, np.float32)
    with pytest.warns(UserWarning, match="sample_rate was not given"):
        m.embed(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.embed(x)


@pytest.mark.parametrize("n", [1, 10, 160, 559, 560, 5000])
def test_short_clips_are_padded(model, n):
    x = np.full(n, 0.1, np.float32)
    assert np.isfinite(model.embed(x, SR)).all()
    frames = model.embed_frames(x, SR)
    assert frames.embeddings.shape[0] == max(1, int(np.sum(frame_centres(100, 160, 8) < n)))


def test_file_formats_and_downmix(model, speech, tmp_path):
    ref = model.embed(speech, SR)
    stereo = np.stack([speech, speech], axis=1)
    for name, sr, subtype, data in [("a.wav", SR, "PCM_16", speech), ("b.flac", SR, "PCM_24", stereo),
                                    ("c.ogg", SR, "VORBIS", speech)]:
        sf.write(tmp_path / name, data, sr, subtype=subtype)
        e = model.embed_file(tmp_path / name)
        assert cos(e, ref) > (0.99 if name.endswith("ogg") else 0.9999), name
    try:
        sf.write(tmp_path / "d.mp3", speech, SR, format="MP3")
    except Exception:  # libsndfile without MP3 encoding
        pass
    else:
        assert cos(model.embed_file(tmp_path / "d.mp3"), ref) > 0.98
    import soxr
    sf.write(tmp_path / "e.wav", soxr.resample(speech, SR, 44100), 44100)
    assert cos(model.embed_file(tmp_path / "e.wav"), ref) > 0.995
    out = model.embed_files([tmp_path / "a.wav", tmp_path / "b.flac"])
    assert out.shape == (2, 2048)


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("audio,match", [
    (np.zeros(0, np.float32), "empty"),
    (np.array([0.0, np.nan, 0.1], np.float32), "NaN/Inf"),
    (np.array([0.0, np.inf], np.float32), "NaN/Inf"),
    (np.zeros((2, 3, 100), np.float32), "expected 1-D"),
    (np.zeros((16000, 2), np.float32), r"looks like \(samples, channels\)"),
    (np.zeros((0, 100), np.float32), "empty batch"),
    (np.zeros(100, np.int64), "ambiguous"),
    (np.zeros(100, np.complex64), "dtype complex64"),
    (np.zeros(100, bool), "dtype bool"),
    ([], "empty list"),
    ([np.zeros((2, 100), np.float32)], "list items must be 1-D"),
    (np.float32(0.5), "scalar"),
])
def test_bad_input_errors(model, audio, match):
    with pytest.raises(ValueError, match=match):
        model.embed(audio, SR)


@pytest.mark.parametrize("rate", [0, -16000, float("nan"), 16000.5, "16k", True])
def test_bad_sample_rate(model, rate):
    with pytest.raises(ValueError, match="sample_rate"):
        model.embed(np.zeros(100, np.float32), rate)


def test_bad_options(model):
    with pytest.raises(ValueError, match="unknown pooling"):
        model.embed(np.zeros(100, np.float32), SR, pooling="median")
    with pytest.raises(ValueError, match="hop_seconds"):
        model.embed_frames(np.zeros(100, np.float32), SR, hop_seconds=0.05)
    with pytest.raises(TypeError, match="embed_file"):
        model.embed("some/file.wav", SR)


def test_loud_input_warns(model):
    with pytest.warns(UserWarning, match="peaks at"):
        model.embed(np.full(1000, 2.0, np.float32), SR)


def test_bad_files_are_named(model, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.mp3").write_text("not audio at all\n" * 100)
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), SR)
    for name, match in [("missing.wav", "no such file"), ("empty.wav", "empty"), ("text.mp3", "cannot decode"),
                        ("zero.wav", "no audio samples")]:
        with pytest.raises(AudioDecodeError, match=match) as e:
            model.embed_file(tmp_path / name)
        assert name in str(e.value)


# -- frames and timestamps ----------------------------------------------------------------------

def test_frames_and_timestamps(model, rng):
    x = (0.1 * rng.standard_normal(10 * SR)).astype(np.float32)
    f = model.embed_frames(x, SR)
    assert f.embeddings.shape == (125, 2048) and f.timestamps.shape == (125,)
    np.testing.assert_allclose(f.timestamps, 0.035 + 0.08 * np.arange(125), rtol=0, atol=1e-12)
    assert f.timestamps[-1] <= 10.0
    fine = model.embed_frames(x, SR, hop_seconds=0.04)
    np.testing.assert_allclose(np.diff(fine.timestamps), 0.04, atol=1e-12)
    # The native frames are the same computation; only the batch composition differs, which may
    # change BLAS/oneDNN summation order by an ulp on other CPUs.
    np.testing.assert_allclose(fine.embeddings[::2], f.embeddings, rtol=1e-5, atol=1e-6)
    assert fine.timestamps[-1] <= 10.0
    # the clip embedding is the pooling of the frames
    np.testing.assert_allclose(model.embed(x, SR), f.embeddings.mean(0) + f.embeddings.max(0), rtol=1e-5, atol=1e-5)
    batch = model.embed_frames(np.stack([x, x]), SR)
    assert batch.embeddings.shape == (2, 125, 2048) and batch.timestamps.shape == (2, 125)
    ragged = model.embed_frames([x, x[:SR]], SR)
    assert [e.shape[0] for e in ragged.embeddings] == [125, 13]  # 35 + 80 * 12 = 995 ms < 1 s


def test_timestamps_do_not_drift_over_hours():
    n = int(2 * 3600 / 0.08)  # two hours of frames
    t = frame_centres(n, 160, 8) / SR
    k = np.arange(n)
    assert np.max(np.abs(t - (0.035 + 0.08 * k))) < 1e-9
