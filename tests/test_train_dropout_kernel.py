"""The dropout kernel (training/dropout_kernel.py) reproduces the torch ops bit for bit: output, gradient and
the global generator's state afterwards, for both dtypes, at sizes that cross the Mersenne Twister's
624-draw refills, from a freshly seeded generator and from one part-way through its state."""

from __future__ import annotations

import pytest
import torch

from slicer_embed.training import dropout_kernel, fast_encoder

needs_kernel = pytest.mark.skipif(dropout_kernel.load() is None, reason=f"no C kernel: {dropout_kernel.error()}")


def torch_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """fast_encoder.dropout_rand's torch path."""
    keep = torch.rand(x.shape, device=x.device) >= p
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().view(torch.int16 if t.element_size() == 2 else torch.int32)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape,p,skip", [((64, 12, 2048), 0.3, 0), ((3, 1000), 0.5, 17), ((7,), 0.1, 623),
                                          ((624,), 0.3, 1), ((1249,), 0.9, 0), ((5, 2, 300), 0.3, 624)])
def test_same_values_gradients_and_generator_state(dtype, shape, p, skip):
    torch.manual_seed(3)
    x = (torch.randn(shape) * 3).to(dtype)
    x.view(-1)[::97] = 0.0
    g = torch.randn(shape).to(dtype)
    torch.manual_seed(11)
    torch.rand(skip)  # part-way through the 624-word state (skip 0: the freshly seeded one)
    start = torch.get_rng_state()

    xr = x.clone().requires_grad_()
    ref = torch_dropout(xr, p)
    (gref,) = torch.autograd.grad(ref, xr, g)
    after_ref = torch.get_rng_state()

    torch.set_rng_state(start)
    xk = x.clone().requires_grad_()
    got = dropout_kernel.DropoutKernel.apply(xk, p)
    (gk,) = torch.autograd.grad(got, xk, g)
    after = torch.get_rng_state()

    assert got.dtype == dtype and got.shape == x.shape
    assert torch.equal(bits(got), bits(ref))
    assert torch.equal(bits(gk), bits(gref))
    assert torch.equal(after, after_ref)
    assert torch.equal(torch.rand(1000), (torch.set_rng_state(after_ref), torch.rand(1000))[1])


@needs_kernel
def test_dropout_rand_takes_the_kernel_and_keeps_the_share_and_scale():
    torch.manual_seed(0)
    x = torch.ones(200, 1000, dtype=torch.bfloat16)
    y = fast_encoder.dropout_rand(x, 0.3)
    kept = y > 0
    assert abs(float(kept.float().mean()) - 0.7) < 0.005
    assert torch.equal(y[kept], torch.full_like(y[kept], 1 / 0.7))
    torch.manual_seed(0)
    assert torch.equal(bits(y), bits(torch_dropout(x, 0.3)))


@needs_kernel
def test_no_grad_input_skips_the_mask():
    x = torch.randn(4, 100)
    with torch.no_grad():
        torch.manual_seed(1)
        y = dropout_kernel.DropoutKernel.apply(x, 0.3)
    torch.manual_seed(1)
    assert torch.equal(bits(y), bits(torch_dropout(x, 0.3)))


def test_disabled_kernel_falls_back_to_the_torch_ops(monkeypatch):
    monkeypatch.setenv("SLICER_EMBED_NO_KERNEL", "1")
    assert not dropout_kernel.usable(torch.ones(3))
    torch.manual_seed(2)
    y = fast_encoder.dropout_rand(torch.ones(50, 50), 0.3)
    torch.manual_seed(2)
    assert torch.equal(y, torch_dropout(torch.ones(50, 50), 0.3))
