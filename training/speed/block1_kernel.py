"""The encoder's first block in training as one fused CPU kernel: conv(1->C) + folded BN + max-pool + ReLU.

Block 1 is the widest tensor of a training step (C x F x T per clip, 25 M values for 64 clips): with
torch ops, BN, ReLU and the pool each stream it through memory. The kernel (``block1_forward`` in
training/speed/kernels.cpp, a torch op built by training.speed.native) computes each pooled output straight from
the 4 x 4 input patch (the four 3 x 3 convolutions of the 2 x 2 pool window, C channels vectorised), so
the full-resolution tensor is never written; backward recomputes nothing but the patch.
Deterministic: each clip is reduced on its own and the per-clip partial sums are added in clip order,
whatever the thread count. Where the kernels cannot be used (``available()`` is False), training runs
the module's own block (training.speed.fast_encoder).
"""

from __future__ import annotations

import torch

from . import native


def available() -> bool:
    """Whether the compiled kernels can be used here (built on first call; a failure is announced once)."""
    return native.ops() is not None


def _planes(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, F, T) -> the (B, F, T) float32 contiguous planes the C functions read (a view if it can)."""
    return x.detach().reshape(x.shape[0], x.shape[2], x.shape[3]).float().contiguous()


def patch_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mean (9,) and biased covariance (9, 9), float64, of the zero-padded 3 x 3 patches of ``x``
    (B, 1, F, T) (one per pixel), and the pixel count. Requires ``available()``."""
    x3 = _planes(x)
    b, h, w = x3.shape
    total, prod = native.ops().block1_moments(x3)
    n = b * h * w
    mean = total / n
    return mean, prod / n - torch.outer(mean, mean), n


class Block1Kernel(torch.autograd.Function):
    """x (B, 1, F, T) float32 (no gradient), wt (9, C), bias (C,) float32 ->
    relu(maxpool2(conv3x3(x, w, bias, pad 1))) as (B, F // 2, T // 2, C) (channels-last order), float32,
    or bfloat16 when ``out_dtype`` is bfloat16: the float32 result rounded as ``.bfloat16()`` rounds it, so
    under autocast the next conv sees the same input without a cast pass over the widest tensor of the
    step (and its gradient arrives in bfloat16, read as is). Gradients for wt and bias only."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, wt: torch.Tensor, bias: torch.Tensor,
                out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
        ops = native.ops()
        if ops is None:
            raise RuntimeError(f"block-1 kernel unavailable: {native.error()}")
        if out_dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"block-1 kernel writes float32 or bfloat16, not {out_dtype}")
        x3 = _planes(x)
        wt, bias = wt.detach().float().contiguous(), bias.detach().float().contiguous()
        out, arg = ops.block1_forward(x3, wt, bias, out_dtype == torch.bfloat16)
        ctx.save_for_backward(x3, arg)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x3, arg = ctx.saved_tensors
        g = (grad if grad.dtype == torch.bfloat16 else grad.float()).contiguous()
        gwt, gb = native.ops().block1_backward(x3, g, arg)
        return None, gwt, gb, None
