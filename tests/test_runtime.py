"""The opt-in fast inference path (slicer_embed/runtime.py): exactness, precision, safety."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import SR, run_python, tone, trained_like_model
from slicer_embed import create_model
from slicer_embed.runtime import FastEncoder, InferenceOptions, fold_conv_bn, max_pool_2x2, options_from_env


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.fixture(scope="module")
def trained_like():
    return trained_like_model()


@pytest.fixture(scope="module")
def signals(speech):
    """Real speech plus generated signals of several lengths (16 kHz, float32)."""
    rng = np.random.default_rng(3)
    t = np.arange(int(2.5 * SR)) / SR
    chirp = (0.3 * np.sin(2 * np.pi * (100 + 1500 * t) * t)).astype(np.float32)
    noise = (0.05 * rng.standard_normal(int(1.7 * SR))).astype(np.float32)
    return [speech, tone(440, 1.0), chirp, noise, speech[:3000]]


def test_fold_conv_bn_equals_eval_conv_then_bn(trained_like):
    block = trained_like.encoder.features_2
    x = torch.randn(3, 64, 16, 24)
    w, b = fold_conv_bn(block[0], block[1])
    with torch.no_grad():
        ref = block[1](block[0](x))
        out = F.conv2d(x, w, b, padding=1)
    assert w.dtype == torch.float32 and w.shape == block[0].weight.shape and b.shape == (64,)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 64, 97), (1, 5, 7, 9), (4, 2, 2, 2), (1, 1, 3, 3)])
def test_max_pool_2x2_is_bit_identical_to_max_pool2d(shape):
    x = torch.randn(shape)
    assert torch.equal(max_pool_2x2(x), F.max_pool2d(x, 2))
    xc = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(max_pool_2x2(xc), F.max_pool2d(x, 2))


def test_default_model_takes_the_plain_path_bit_for_bit(model, speech):
    assert model.inference_options is None
    x = torch.from_numpy(np.stack([speech[:15360], speech[-15360:]]))
    with torch.inference_mode():
        assert torch.equal(model(x), model.encoder(model.log_mel(x)))
    m = copy.deepcopy(model).optimize("bfloat16")
    m.set_inference_options(None)
    with torch.inference_mode():
        assert torch.equal(m(x), model(x))


@pytest.mark.parametrize("options", [InferenceOptions(), InferenceOptions(channels_last=False, micro_batch=3),
                                     InferenceOptions(onednn=False, micro_batch=5)])
def test_fast_float32_matches_plain_model(trained_like, signals, options):
    fast = copy.deepcopy(trained_like).set_inference_options(options)
    for sig in signals:
        a = trained_like.embed_frames(sig, SR).embeddings
        b = fast.embed_frames(sig, SR).embeddings
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.embed(signals, SR), trained_like.embed(signals, SR), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("which", ["seeded", "trained_like"])
def test_bfloat16_within_cosine_0999_of_float32(model, trained_like, signals, which):
    ref = model if which == "seeded" else trained_like
    fast = copy.deepcopy(ref).optimize("bfloat16")
    clips_ref, clips_fast = ref.embed(signals, SR), fast.embed(signals, SR)
    assert clips_fast.dtype == np.float32
    assert _cos(clips_fast, clips_ref).min() >= 0.999
    frames_ref = ref.embed_frames(signals[0], SR).embeddings  # real speech, every 80 ms frame
    frames_fast = fast.embed_frames(signals[0], SR).embeddings
    assert _cos(frames_fast, frames_ref).min() >= 0.999


def test_fast_path_is_batch_invariant(trained_like, signals):
    fast = copy.deepcopy(trained_like).optimize("bfloat16", micro_batch=3)
    together = fast.embed(signals, SR, batch_size=5)
    alone = np.stack([fast.embed(s, SR, batch_size=1) for s in signals])
    # bf16 GEMMs on AMX CPUs block by batch size: 2 of 10,240 values moved 2.7e-5 (1.5e-4 relative)
    np.testing.assert_allclose(together, alone, rtol=1e-3, atol=1e-4)


def test_training_and_autograd_never_use_the_fast_path(trained_like, speech):
    m = copy.deepcopy(trained_like).optimize("bfloat16")
    x = torch.from_numpy(speech[:15360])[None]
    plain = trained_like.encoder(trained_like.log_mel(x)).detach()
    out = m(x)  # grad enabled: the plain graph, differentiable
    assert out.requires_grad and torch.equal(out.detach(), plain)
    m.train()
    with torch.no_grad():
        assert not torch.allclose(m(x), plain)  # dropout active: the training graph, not the frozen copy
    m.eval()


def test_fast_path_follows_weight_changes(trained_like, speech):
    m = copy.deepcopy(trained_like).optimize("float32")
    before = m.embed(speech, SR)
    other = create_model(seed=1)
    m.encoder.load_state_dict(other.encoder.state_dict())  # in-place copy into the same tensors
    ref = copy.deepcopy(trained_like)
    ref.encoder.load_state_dict(other.encoder.state_dict())
    after = m.embed(speech, SR)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, ref.embed(speech, SR), rtol=1e-4, atol=1e-5)


def test_optimize_leaves_state_dict_and_saving_alone(model, tmp_path, speech):
    m = copy.deepcopy(model).optimize("bfloat16")
    m.embed(speech, SR)  # builds the fast encoder
    assert m.state_dict().keys() == model.state_dict().keys()
    m.save_pretrained(tmp_path / "m")
    from slicer_embed import load
    loaded = load(tmp_path / "m")
    assert loaded.inference_options is None
    np.testing.assert_array_equal(loaded.embed(speech, SR), model.embed(speech, SR))


def test_fast_encoder_rejects_bad_shapes(model):
    enc = FastEncoder(model.encoder, InferenceOptions())
    with pytest.raises(ValueError, match=r"\(batch, 1, 64, frames\).*\(2, 64, 97\)"):
        enc(torch.zeros(2, 64, 97))
    m = copy.deepcopy(model).optimize()
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        with torch.inference_mode():
            m(torch.zeros(15360))


@pytest.mark.parametrize("kwargs, match", [({"precision": "float16"}, "precision='float16'"),
                                           ({"micro_batch": 0}, "micro_batch"),
                                           ({"workers": 0}, "workers"),
                                           ({"threads": 0}, "threads"),
                                           ({"onednn": "yes"}, "onednn")])
def test_options_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InferenceOptions(**kwargs).validate()


def test_options_from_environment():
    assert options_from_env({}) is None
    assert options_from_env({"SLICER_EMBED_PRECISION": "bfloat16"}) == InferenceOptions(precision="bfloat16")
    assert options_from_env({"SLICER_EMBED_THREADS": "2"}) == InferenceOptions(threads=2)
    assert options_from_env({"SLICER_EMBED_WORKERS": "2", "SLICER_EMBED_THREADS": "1"}) == \
        InferenceOptions(threads=1, workers=2)
    with pytest.raises(ValueError, match="SLICER_EMBED_WORKERS"):
        options_from_env({"SLICER_EMBED_WORKERS": "many"})
    with pytest.raises(ValueError, match="SLICER_EMBED_THREADS"):
        options_from_env({"SLICER_EMBED_THREADS": "two"})


def test_environment_opts_every_model_in(speech):
    code = ("import torch, slicer_embed; m = slicer_embed.create_model(seed=0); "
            "print(m.inference_options.precision, torch.get_num_threads())")
    res = run_python(code, env={"SLICER_EMBED_PRECISION": "bfloat16", "SLICER_EMBED_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["bfloat16", "1"]
    res = run_python(code, env={"SLICER_EMBED_PRECISION": "int4"})
    assert res.returncode != 0 and "precision='int4'" in res.stderr


def test_native_bfloat16_detection_and_warning():
    from slicer_embed.runtime import cpu_has_native_bfloat16, warn_if_bfloat16_is_emulated
    assert cpu_has_native_bfloat16({"amx_bf16": True})
    assert cpu_has_native_bfloat16({"avx512_bf16": True, "amx_bf16": False})
    assert not cpu_has_native_bfloat16({"avx512_f": True})
    assert isinstance(cpu_has_native_bfloat16(), bool)  # this machine: whatever it is, no crash
    bf16, cpu = InferenceOptions(precision="bfloat16"), torch.device("cpu")
    with pytest.warns(RuntimeWarning, match="emulated"):
        assert warn_if_bfloat16_is_emulated(bf16, cpu, {"avx2": True})
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_bfloat16_is_emulated(bf16, cpu, {"amx_bf16": True})
        assert not warn_if_bfloat16_is_emulated(InferenceOptions(), cpu, {})  # float32 never warns
        assert not warn_if_bfloat16_is_emulated(bf16, torch.device("cuda"), {})  # GPUs: not our call


def test_bfloat16_on_an_emulating_cpu_warns_once(model, speech, monkeypatch):
    import slicer_embed.runtime as rt
    monkeypatch.setattr(rt, "cpu_has_native_bfloat16", lambda capability=None: False)
    m = copy.deepcopy(model).optimize("bfloat16")
    with pytest.warns(RuntimeWarning, match="emulated"):
        m.embed(speech, SR)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.embed(speech, SR)  # the fast encoder exists: no second warning


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_concurrent_micro_batches_give_identical_results(trained_like, signals, precision):
    serial = copy.deepcopy(trained_like).optimize(precision, micro_batch=2)
    threaded = copy.deepcopy(trained_like).optimize(precision, micro_batch=2, workers=2)
    x = torch.from_numpy(np.stack([np.resize(s, 15360) for s in signals] * 2))  # 10 windows: 5 micro-batches
    with torch.inference_mode():
        want = serial(x)
        assert torch.equal(threaded(x), want)
    with torch.no_grad():  # no_grad (not inference mode) callers take the same path
        assert torch.equal(threaded(x), want)
    np.testing.assert_array_equal(threaded.embed(signals, SR, batch_size=4), serial.embed(signals, SR, batch_size=4))


def test_recommended_options():
    from slicer_embed.runtime import recommended_options
    assert recommended_options("cpu", cores=4) == InferenceOptions(threads=1, workers=4)
    assert recommended_options("cpu", "bfloat16", cores=2) == InferenceOptions("bfloat16", threads=1, workers=2)
    assert recommended_options("cuda", "bfloat16") == InferenceOptions("bfloat16")
    assert recommended_options().workers == max(1, torch.get_num_threads())
    with pytest.raises(ValueError, match="precision"):
        recommended_options("cpu", "float16")


def _embed_in_child(model, x, queue):
    with torch.inference_mode():
        queue.put(model(x).numpy())


def test_concurrent_micro_batches_work_in_a_forked_child(model):
    import multiprocessing as mp
    m = copy.deepcopy(model).optimize(micro_batch=1, workers=2)
    x = torch.from_numpy(np.stack([tone(440, 0.96), tone(880, 0.96)]))
    with torch.inference_mode():
        want = m(x).numpy()  # the parent's pool now exists
    # ... and so does torch's pthreadpool (any set_num_threads, e.g. a thread's first op): the child
    # must rebuild it once, not from two workers at the same time (an internal assert in torch)
    torch.set_num_threads(torch.get_num_threads())
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_embed_in_child, args=(m, x, queue))
    child.start()
    got = queue.get(timeout=60)  # a stale, thread-less pool would hang here
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_an_optimized_model_that_has_embedded_can_be_copied_and_saved(trained_like, speech, precision, tmp_path):
    import pickle
    m = copy.deepcopy(trained_like).optimize(precision)
    want = m.embed(speech, SR)  # builds the fast encoder, with its packed oneDNN weights
    torch.save(m, tmp_path / "m.pt")
    for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m)), torch.load(tmp_path / "m.pt", weights_only=False)):
        np.testing.assert_array_equal(other.embed(speech, SR), want)
