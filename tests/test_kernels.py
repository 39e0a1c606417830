"""The fast path's kernels (slicer_embed/kernels.py): same numbers as the generic torch ops."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest
import torch
import torch.nn.functional as F

from slicer_embed.kernels import LinearReLU, conv3x3_one_channel, one_channel_weight
from slicer_embed.runtime import cpu_has_native_bfloat16


@pytest.mark.parametrize("shape", [(1, 1, 64, 97), (2, 1, 64, 97), (3, 1, 5, 4), (1, 1, 1, 1)])
def test_one_channel_conv_equals_conv2d_and_is_channels_last(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g)
    w, b = torch.randn(64, 1, 3, 3, generator=g), torch.randn(64, generator=g)
    got = conv3x3_one_channel(x, one_channel_weight(w), b)
    want = F.conv2d(x, w, b, padding=1)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-5)
    # The point of the kernel: the next 64-channel convolution gets a channels-last input, also
    # after the per-chunk outputs are concatenated.
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.cat([got, got]).is_contiguous(memory_format=torch.channels_last)


def test_one_channel_conv_rejects_bad_shapes():
    w9 = one_channel_weight(torch.zeros(8, 1, 3, 3))
    assert w9.shape == (9, 8)
    with pytest.raises(ValueError, match=r"\(batch, 1, height, width\).*\(2, 3, 4, 4\)"):
        conv3x3_one_channel(torch.zeros(2, 3, 4, 4), w9, torch.zeros(8))
    with pytest.raises(ValueError, match=r"\(9, channels\)"):
        conv3x3_one_channel(torch.zeros(2, 1, 4, 4), torch.zeros(8, 9), torch.zeros(8))
    with pytest.raises(ValueError, match=r"\(channels, 1, 3, 3\).*\(8, 2, 3, 3\)"):
        one_channel_weight(torch.zeros(8, 2, 3, 3))


def _linear(dtype=torch.float32, d_in=512, d_out=256):
    g = torch.Generator().manual_seed(1)
    w = (torch.randn(d_out, d_in, generator=g) / d_in ** 0.5).to(dtype)
    b = (torch.randn(d_out, generator=g) * 0.1).to(dtype)
    return w, b


@pytest.mark.parametrize("rows", [1, 12, 61, 192, 1536])
def test_packed_linear_relu_equals_linear_then_relu(rows):
    w, b = _linear()
    lin = LinearReLU(w, b, rows=192)
    # Where torch has oneDNN (every torch this package installs), the packed kernels are used.
    assert lin.packed == torch.backends.mkldnn.is_available()
    x = torch.randn(rows, w.shape[1], generator=torch.Generator().manual_seed(rows))
    torch.testing.assert_close(lin(x), F.relu(F.linear(x, w, b)), rtol=1e-5, atol=1e-5)


def test_packed_linear_keeps_leading_dimensions_and_matches_the_unpacked_path():
    w, b = _linear()
    x = torch.randn(4, 12, w.shape[1])
    packed, plain = LinearReLU(w, b, rows=48), LinearReLU(w, b, pack=False)
    assert not plain.packed
    got = packed(x)
    assert got.shape == (4, 12, w.shape[0])
    torch.testing.assert_close(got, plain(x), rtol=1e-5, atol=1e-5)
    with torch.inference_mode():
        torch.testing.assert_close(packed(x), plain(x), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not cpu_has_native_bfloat16(), reason="bfloat16 is emulated on this CPU")
def test_packed_linear_in_bfloat16():
    w, b = _linear(torch.bfloat16)
    lin = LinearReLU(w, b, rows=192)
    x = torch.randn(192, w.shape[1]).to(torch.bfloat16)
    want = F.relu(F.linear(x.float(), w.float(), b.float()))
    got = lin(x)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)


def test_packed_linear_falls_back_when_the_kernels_fail_or_disagree(monkeypatch):
    w, b = _linear()
    x = torch.randn(5, w.shape[1])
    want = F.relu(F.linear(x, w, b))

    def broken(*args):
        raise RuntimeError("could not create a primitive")
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", broken)
    lin = LinearReLU(w, b)
    assert not lin.packed
    torch.testing.assert_close(lin(x), want)

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda x, w, b, *rest: torch.zeros(x.shape[0], 256))
    assert not LinearReLU(w, b).packed  # wrong numbers in the one-row check: not used

    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not LinearReLU(w, b).packed


def test_packed_linear_is_safe_to_call_from_several_threads():
    w, b = _linear(d_in=2048, d_out=2048)
    lin = LinearReLU(w, b, rows=192)
    xs = [torch.randn(192, 2048, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    want = [lin(x) for x in xs]
    got: dict[int, list[torch.Tensor]] = {}

    def work(i):
        got[i] = [lin(xs[(i + k) % 4]) for k in range(8)]
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        for k, out in enumerate(got[i]):
            assert torch.equal(out, want[(i + k) % 4])


def test_packed_linear_survives_copy_and_pickle():
    w, b = _linear()
    lin = LinearReLU(w, b, rows=48)
    x = torch.randn(7, w.shape[1])
    for other in (copy.deepcopy(lin), pickle.loads(pickle.dumps(lin))):
        assert other.packed == lin.packed
        assert torch.equal(other(x), lin(x))
