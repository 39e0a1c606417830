"""training.speed.fast_encoder / block1_kernel / native: the kernels' own contracts.

(Values, gradients and BatchNorm running statistics of the whole train-mode forward against the module,
on every architecture option, with and without the kernels: tests/test_encoder_paths.py.) Here: block 1
under bf16 autocast, thread-count independence, bf16 rounding, the documented summation orders, the
announcement when the kernels are disabled or cannot be built, dropout statistics.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from slicer_embed.training.method.student_teacher import build_student_teacher
from slicer_embed.training.speed import block1_kernel, fast_encoder, native


def needs_kernel(test):
    """A test of the compiled kernels: slow (it may build them), skipped where they cannot be built."""
    return pytest.mark.slow(pytest.mark.usefixtures("kernels")(test))


def _encoder(seed: int = 0, dropout: float = 0.0):
    student, _ = build_student_teacher(128, 128, seed, torch.device("cpu"))
    enc = student.model.encoder.train()
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for block in enc.conv_blocks():
            block[1].weight.copy_(torch.rand(block[1].weight.shape, generator=g) * 3 - 1.5)  # some < 0
            block[1].bias.copy_(torch.randn(block[1].bias.shape, generator=g))
    enc.fc[2].p = dropout
    return enc


@needs_kernel
def test_block1_under_bf16_autocast_is_close_to_the_module():
    enc = _encoder(seed=1)
    x = torch.randn(8, 1, 64, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = enc.features_1(x)  # float32 reference
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = fast_encoder.block1_fused(copy.deepcopy(enc).features_1, x)
    assert got.shape == want.shape and got.is_contiguous(memory_format=torch.channels_last)
    # the kernel computes block 1 in float32 even under autocast, then rounds once to the bf16 the next
    # conv would cast it to: within bf16's half-ulp (2**-9 relative) of the float32 module
    assert got.dtype == torch.bfloat16
    assert torch.allclose(got.float(), want, atol=1e-4, rtol=2 ** -8)


@needs_kernel
def test_kernel_is_independent_of_the_thread_count():
    x = torch.randn(5, 1, 64, 40, generator=torch.Generator().manual_seed(4))
    wt = torch.randn(9, 64, generator=torch.Generator().manual_seed(5)).requires_grad_()
    b = torch.randn(64, generator=torch.Generator().manual_seed(6)).requires_grad_()
    g = torch.randn(5, 32, 20, 64, generator=torch.Generator().manual_seed(7))
    results = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            wt.grad = b.grad = None
            out = block1_kernel.Block1Kernel.apply(x, wt, b)
            out.backward(g)
            mean, cov, n = block1_kernel.patch_moments(x)
            results.append((out.clone(), wt.grad.clone(), b.grad.clone(), mean, cov))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, c in zip(results[0], other):
            assert torch.equal(a, c)


@needs_kernel
def test_kernel_bf16_output_is_torchs_rounding_of_the_float32_output():
    """bf16 out == fp32 out .bfloat16() bit for bit (ties to even included); a bf16 gradient gives the
    same weight gradients as the same values in float32."""
    c = 64
    ties = torch.tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8, 2 - 2 ** -9, 3.0 + 2 ** -7, 1e-30, 6e-39, 0.0, -1.0])
    bias = torch.cat([ties, torch.randn(c - len(ties), generator=torch.Generator().manual_seed(11)) * 100])
    x = torch.randn(2, 1, 8, 10, generator=torch.Generator().manual_seed(12))
    for wt in (torch.zeros(9, c), torch.randn(9, c, generator=torch.Generator().manual_seed(13))):
        wt = wt.requires_grad_()
        b32, b16 = bias.clone().requires_grad_(), bias.clone().requires_grad_()
        out32 = block1_kernel.Block1Kernel.apply(x, wt, b32)
        out16 = block1_kernel.Block1Kernel.apply(x, wt, b16, torch.bfloat16)
        assert out16.dtype == torch.bfloat16 and out32.dtype == torch.float32
        assert torch.equal(out16.view(torch.int16), out32.bfloat16().view(torch.int16))
        g = torch.randn(out32.shape, generator=torch.Generator().manual_seed(14)).bfloat16()
        grads = []
        for out, b, gout in ((out32, b32, g.float()), (out16, b16, g)):
            wt.grad = None
            out.backward(gout)
            grads.append((wt.grad.clone(), b.grad.clone()))
        assert all(torch.equal(a, b) for a, b in zip(*grads))
    with pytest.raises(ValueError, match="float32 or bfloat16"):
        block1_kernel.Block1Kernel.apply(x, wt, bias, torch.float16)


@needs_kernel
def test_bf16_kernel_output_leaves_the_autocast_step_bit_identical(monkeypatch):
    """Under bf16 autocast the fast forward + backward are the same bits whether block 1 writes bf16 or
    writes float32 that the next conv casts (the path before the kernel wrote bf16)."""
    runs = []
    for dtype in (torch.float32, torch.bfloat16):
        monkeypatch.setattr(fast_encoder, "_autocast_dtype", lambda device_type, d=dtype: d)
        runs.append(_autocast_step())
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def _autocast_step() -> list[torch.Tensor]:
    """One bf16 fast forward + backward of a fresh seed-3 encoder on a fixed batch: the frames, the
    generator state after, every gradient and BN buffer."""
    student, _ = build_student_teacher(128, 128, 3, torch.device("cpu"))
    student.to(memory_format=torch.channels_last)
    x = torch.randn(6, 1, 64, 96, generator=torch.Generator().manual_seed(15))
    x = x.contiguous(memory_format=torch.channels_last)
    torch.manual_seed(16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        frames = fast_encoder.train_forward(student.model.encoder, x)
    frames.float().square().mean().backward()
    encoder = student.model.encoder
    return ([frames.detach(), torch.get_rng_state()] + [p.grad.clone() for p in encoder.parameters()]
            + [bf.clone() for bf in encoder.buffers()])


@needs_kernel
def test_kernel_matches_conv_relu_pool_directly():
    x = torch.randn(3, 1, 10, 13, generator=torch.Generator().manual_seed(8))
    w = torch.randn(16, 1, 3, 3, generator=torch.Generator().manual_seed(9))
    bias = torch.randn(16, generator=torch.Generator().manual_seed(10))
    want = F.max_pool2d(F.relu(F.conv2d(x, w, bias, padding=1)), 2)
    got = block1_kernel.Block1Kernel.apply(x, w.reshape(16, 9).t(), bias).permute(0, 3, 1, 2)
    assert torch.allclose(got, want, atol=1e-5)
    mean, cov, n = block1_kernel.patch_moments(x)
    taps = F.unfold(x, 3, padding=1).transpose(1, 2).reshape(-1, 9).double()
    assert n == taps.shape[0]
    assert torch.allclose(mean, taps.mean(0), atol=1e-12)
    assert torch.allclose(cov, torch.cov(taps.t(), correction=0), atol=1e-10)


@pytest.fixture
def fresh_native(monkeypatch):
    """training.speed.native as in a new process: nothing tried, nothing announced."""
    monkeypatch.setattr(native, "_state", {"ops": None, "tried": False, "error": None, "announced": False})
    return native


def test_kernel_can_be_disabled_by_the_environment_and_says_so_once(monkeypatch, fresh_native):
    monkeypatch.setenv("SLICER_EMBED_NO_KERNEL", "1")
    with pytest.warns(RuntimeWarning, match="SLICER_EMBED_NO_KERNEL.*torch ops.*slower"):
        assert fresh_native.ops() is None
    assert not block1_kernel.available()  # and no second warning:
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        assert fresh_native.ops() is None
    assert fresh_native.build_info(True)["encoder_path"] == "torch ops"
    assert fresh_native.build_info(False)["encoder_path"] == "module"


def test_a_failed_build_is_announced_once_not_raised(monkeypatch, tmp_path, fresh_native):
    monkeypatch.delenv("SLICER_EMBED_NO_KERNEL", raising=False)
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler.*torch ops"):
        assert fresh_native.ops() is None
    assert "compiler" in fresh_native.error()
    assert fresh_native.ops() is None and not list(tmp_path.iterdir())  # tried once, nothing built


def test_calling_an_unavailable_kernel_says_why(monkeypatch, fresh_native):
    monkeypatch.setenv("SLICER_EMBED_NO_KERNEL", "1")
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="block-1 kernel unavailable: disabled"):
        block1_kernel.Block1Kernel.apply(torch.zeros(1, 1, 4, 4), torch.zeros(9, 2), torch.zeros(2))


@needs_kernel
def test_build_info_names_the_kernels_torch_and_compiler():
    info = native.build_info(True)
    assert info["encoder_path"] == "kernels" and info["torch"] == torch.__version__ and info["compiler"]


def test_dropout_rand_keeps_the_expected_share_and_scale():
    torch.manual_seed(0)
    x = torch.ones(200, 1000)
    y = fast_encoder.dropout_rand(x, 0.3)
    kept = y > 0
    assert abs(float(kept.float().mean()) - 0.7) < 0.005
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert fast_encoder.dropout_rand(x, 0.0) is x


def test_eval_mode_student_uses_the_module_path():
    student, _ = build_student_teacher(128, 128, 0, torch.device("cpu"))
    student.fast = True
    student.eval()
    x = torch.randn(2, 1, 64, 96)
    with torch.no_grad():
        q, _ = student(x)
        want = F.normalize(student.instance_head(
            __import__("slicer_embed").encoder.pool_frames(student.model.encoder(x), "mean+max")), dim=1)
    assert torch.allclose(q, want, atol=1e-6)


def _patch(plane: np.ndarray, r: int, s: int) -> list:
    """The zero-padded 3 x 3 patch of pixel (r, s), row-major."""
    h, w = plane.shape
    return [plane[r + u - 1, s + v - 1] if 0 <= r + u - 1 < h and 0 <= s + v - 1 < w else plane.dtype.type(0)
            for u in range(3) for v in range(3)]


@needs_kernel
def test_moments_add_in_the_documented_order():
    """patch_moments equals, bit for bit, the float64 sums taken pixel by pixel within a row, row totals
    added per clip, clip totals added in clip order (what makes them independent of threads and SIMD)."""
    x = torch.randn(3, 1, 5, 7, generator=torch.Generator().manual_seed(21)) * 3
    planes = x[:, 0].double().numpy()
    total, prod = np.zeros(9), np.zeros((9, 9))
    for plane in planes:
        clip_sum, clip_prod = np.zeros(9), np.zeros((9, 9))
        for r in range(plane.shape[0]):
            row_sum, row_prod = np.zeros(9), np.zeros((9, 9))
            for s in range(plane.shape[1]):
                q = _patch(plane, r, s)
                for k in range(9):
                    row_sum[k] += q[k]
                    for l in range(9):
                        row_prod[k, l] += q[k] * q[l]
            clip_sum += row_sum
            clip_prod += row_prod
        total += clip_sum
        prod += clip_prod
    mean, cov, n = block1_kernel.patch_moments(x)
    assert n == 3 * 5 * 7
    ref_mean = torch.from_numpy(total) / n
    assert torch.equal(mean, ref_mean)
    assert torch.equal(cov, torch.from_numpy(prod) / n - torch.outer(ref_mean, ref_mean))


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_backward_adds_in_the_documented_order(dtype):
    """The weight and bias gradients equal float32 sums taken output pixel by output pixel per clip (the
    pool winner's patch times the gradient, ReLU-zeroed ones skipped), clips added in order."""
    c = 3
    x = torch.randn(2, 1, 4, 6, generator=torch.Generator().manual_seed(22))
    wt = torch.randn(9, c, generator=torch.Generator().manual_seed(23)).requires_grad_()
    bias = torch.randn(c, generator=torch.Generator().manual_seed(24)).requires_grad_()
    out = block1_kernel.Block1Kernel.apply(x, wt, bias, dtype)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(25)).to(dtype)
    out.backward(g)
    planes, f32 = x[:, 0].numpy(), np.float32
    w9, b0 = wt.detach().numpy(), bias.detach().numpy()
    gw, gb = np.zeros((9, c), f32), np.zeros(c, f32)
    for b, plane in enumerate(planes):
        h, w = plane.shape

        def px(r, s):
            return plane[r, s] if 0 <= r < h and 0 <= s < w else f32(0)

        acc, acc_b = np.zeros((9, c), f32), np.zeros(c, f32)
        for i in range(h // 2):
            for j in range(w // 2):
                phases = [(di, dj) for di in (0, 1) for dj in (0, 1)]
                for ch in range(c):
                    pre = []
                    for di, dj in phases:  # the conv at (2i+di, 2j+dj), taps added in order from the bias
                        v = b0[ch]
                        for t in range(9):
                            v = v + w9[t, ch] * px(2 * i + di + t // 3 - 1, 2 * j + dj + t % 3 - 1)
                        pre.append(v)
                    k = int(np.argmax(pre))  # the first on ties, as max_pool2d
                    if not pre[k] > 0:
                        continue  # zeroed by the ReLU: no gradient
                    gc = f32(g[b, i, j, ch].float().item())
                    terms = [gc if m == k else f32(0) for m in range(4)]
                    for t in range(9):
                        p = [px(2 * i + di + t // 3 - 1, 2 * j + dj + t % 3 - 1) for di, dj in phases]
                        acc[t, ch] += ((terms[0] * p[0] + terms[1] * p[1]) + terms[2] * p[2]) + terms[3] * p[3]
                    acc_b[ch] += gc
        gw += acc
        gb += acc_b
    assert torch.equal(wt.grad, torch.from_numpy(gw))
    assert torch.equal(bias.grad, torch.from_numpy(gb))


@needs_kernel
def test_pool_kernel_leaves_the_autocast_step_bit_identical(monkeypatch):
    """The bf16 training forward + backward (values, every gradient, BN buffers, the generator after) are
    the same bits with the pool + ReLU kernel as with the torch ops it replaces."""
    from slicer_embed.training.speed import pool_kernel
    real, taken = pool_kernel.usable, []  # the kernel must really run in the second step
    runs = []
    for kernels in (False, True):
        monkeypatch.setattr(pool_kernel, "usable", (lambda *a: taken.append(real(*a)) or taken[-1]) if kernels
                            else (lambda h, pool: False))
        runs.append(_autocast_step())
    assert taken == [True] * 2  # the pools of blocks 2 and 3
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_autocast_dtype_follows_the_autocast_context():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fast_encoder._autocast_dtype("cpu") == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.float16):  # only bf16 takes the kernels' path
        assert fast_encoder._autocast_dtype("cpu") == torch.float32
    assert fast_encoder._autocast_dtype("cpu") == torch.float32
