"""Max-pool 2 x 2 then ReLU for blocks 2..n of the fast encoder, one bf16 pass each way, torch's values.

The kernels are ``pool_relu_forward`` / ``pool_relu_backward`` in training/speed/kernels.cpp (torch ops built by
training.speed.native).

Under bf16 autocast on a CPU, ``F.relu(max_pool2d(h, 2))`` of a channels-last (64, 64, 32, 48) block
costs four passes and an int64 index per output (8 bytes where one would do): pool, ReLU, ReLU's
backward, the pool's backward (scatter into a zeroed gradient). This kernel computes the pooled ReLU
and a one-byte record (winning element of the 2 x 2 window, bits 0-1; bit 2 when the ReLU blocks the
gradient) in one pass, and the input gradient from it in another.

The same values as torch bit for bit: the window is scanned row by row and a later element wins only
if greater or NaN (``max_pool2d``'s rule); the ReLU is ``clamp_min(x, 0)`` as torch computes it for
bf16 (a negative value becomes +0; -0 and NaN pass unchanged); the gradient passes where the ReLU's
output is > 0 or NaN (``threshold_backward``), and lands as ``0 + g`` in a zeroed bf16 buffer, as the
pool's backward adds it. (A NaN stays a NaN, not always with torch's bits; the step then stops as
diverged anyway.) tests/test_train_pool_kernel.py compares outputs and gradients with the torch ops,
ties and zeros of both signs included.
"""

from __future__ import annotations

import torch
from torch import nn

from . import native


def usable(h: torch.Tensor, pool: nn.Module) -> bool:
    """Whether ``PoolReLU`` computes ``F.relu(pool(h))`` here: a CPU bf16 channels-last (B, C, H, W) tensor
    and a plain 2 x 2, stride-2 max-pool."""
    return (_takes(h) and isinstance(pool, nn.MaxPool2d) and _pair(pool.kernel_size) == (2, 2)
            and _pair(pool.stride) == (2, 2) and _pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1)
            and not pool.ceil_mode and not pool.return_indices and native.ops() is not None)


def _takes(h: torch.Tensor) -> bool:
    return (h.device.type == "cpu" and h.dtype == torch.bfloat16 and h.dim() == 4
            and h.is_contiguous(memory_format=torch.channels_last))


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class PoolReLU(torch.autograd.Function):
    """h (B, C, H, W) bf16 channels-last -> relu(max_pool2d(h, 2)) (B, C, H // 2, W // 2), channels-last."""

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        if not _takes(h):
            raise ValueError(f"PoolReLU takes a CPU bfloat16 channels-last (B, C, H, W) tensor, got {h.dtype} "
                             f"{tuple(h.shape)} strides {h.stride()} on {h.device}")
        hh, ww = h.shape[2:]
        out, arg = native.ops().pool_relu_forward(h.permute(0, 2, 3, 1))  # (B, H, W, C): contiguous here
        ctx.save_for_backward(arg)
        ctx.in_hw = (hh, ww)
        return out.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (arg,) = ctx.saved_tensors
        g = grad.to(torch.bfloat16).permute(0, 2, 3, 1).contiguous()  # (B, Ho, Wo, C)
        return native.ops().pool_relu_backward(g, arg, *ctx.in_hw).permute(0, 3, 1, 2)
