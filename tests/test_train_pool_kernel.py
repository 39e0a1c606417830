"""The pool + ReLU kernel (training/speed/pool_kernel.py) gives torch's ``F.relu(max_pool2d(h, 2))`` bit for bit:
values and input gradients, with ties inside a window, zeros of both signs, odd sizes (the last row and
column are dropped, their gradient is zero), and the fast encoder takes it only where it applies."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slicer_embed.training.speed import pool_kernel



def needs_kernel(test):
    """A test of the compiled kernel: slow (it may build it), skipped where it cannot be built."""
    return pytest.mark.slow(pytest.mark.usefixtures("kernels")(test))

POOL = nn.MaxPool2d(2, stride=2)


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().view(torch.int16)


def awkward(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """bf16 channels-last values with exact ties, +0, -0 and negatives."""
    h = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).bfloat16()
    flat = h.view(-1)
    flat[::13] = 0.0
    flat[5::17] = -0.0
    flat[::29] = 1.0  # ties inside some windows
    flat[3::31] = -2.0
    return h.contiguous(memory_format=torch.channels_last)


@needs_kernel
@pytest.mark.parametrize("shape", [(8, 64, 32, 48), (2, 3, 5, 7), (3, 16, 4, 6), (1, 2, 3, 5)])
def test_same_values_and_gradients_as_torch(shape):
    h = awkward(shape, 1)
    assert pool_kernel.usable(h, POOL)
    hr, hk = h.clone().requires_grad_(), h.clone().requires_grad_()
    ref, got = F.relu(POOL(hr)), pool_kernel.PoolReLU.apply(hk)
    assert got.shape == ref.shape and got.dtype == torch.bfloat16
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(bits(got), bits(ref))
    g = torch.randn(ref.shape, generator=torch.Generator().manual_seed(2)).bfloat16()
    g.view(-1)[::7] = -0.0
    g = g.contiguous(memory_format=torch.channels_last)
    (gr,) = torch.autograd.grad(ref, hr, g)
    (gk,) = torch.autograd.grad(got, hk, g)
    assert torch.equal(bits(gk), bits(gr))


@needs_kernel
def test_nan_stays_nan():
    h = torch.zeros(1, 2, 2, 2, dtype=torch.bfloat16)
    h[0, 0, 1, 0] = float("nan")
    h[0, 1] = -1.0
    h = h.contiguous(memory_format=torch.channels_last)
    got, ref = pool_kernel.PoolReLU.apply(h), F.relu(POOL(h))
    assert torch.isnan(got[0, 0]).all() and torch.isnan(ref[0, 0]).all()
    assert torch.equal(bits(got[0, 1]), bits(ref[0, 1]))


@needs_kernel
def test_only_where_it_applies():
    h = awkward((2, 4, 6, 6), 3)
    assert pool_kernel.usable(h, POOL)
    assert not pool_kernel.usable(h.float(), POOL)  # float32: the torch ops
    assert not pool_kernel.usable(h.contiguous(), POOL)  # NCHW
    assert not pool_kernel.usable(h, nn.MaxPool2d(3, stride=2))
    assert not pool_kernel.usable(h, nn.MaxPool2d(2, stride=2, ceil_mode=True))
    assert not pool_kernel.usable(h, nn.AvgPool2d(2))


@needs_kernel
def test_a_tensor_it_cannot_take_is_refused():
    with pytest.raises(ValueError, match="channels-last"):
        pool_kernel.PoolReLU.apply(awkward((2, 4, 6, 6), 4).contiguous())
