"""Max-pool 2 x 2 then ReLU for blocks 2..n of the fast encoder, one bf16 pass each way, torch's values.

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

from .c_library import BF16_C, CLibrary

SOURCE = BF16_C + r"""

/* x (B, H, W, C) bf16 bits -> out (B, H/2, W/2, C) = relu(max of each 2 x 2 window), arg (same shape). */
void pool_relu_forward(const uint16_t* restrict x, int B, int H, int W, int C, uint16_t* restrict out,
                       uint8_t* restrict arg, int threads) {
    const int Ho = H / 2, Wo = W / 2;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long bi = 0; bi < (long)B * Ho; bi++) {
        const int b = (int)(bi / Ho), i = (int)(bi % Ho);
        const uint16_t* r0 = x + (((long)b * H + 2 * i) * W) * C;
        const uint16_t* r1 = r0 + (long)W * C;
        for (int j = 0; j < Wo; j++) {
            const uint16_t* a0 = r0 + (long)2 * j * C;
            const uint16_t* a1 = r1 + (long)2 * j * C;
            uint16_t* o = out + (((long)b * Ho + i) * Wo + j) * C;
            uint8_t* g = arg + (((long)b * Ho + i) * Wo + j) * C;
            #pragma omp simd
            for (int c = 0; c < C; c++) {
                const float v0 = bf16_value(a0[c]), v1 = bf16_value(a0[C + c]);
                const float v2 = bf16_value(a1[c]), v3 = bf16_value(a1[C + c]);
                float best = v0;
                int k = 0;
                if (v1 > best || v1 != v1) { best = v1; k = 1; }
                if (v2 > best || v2 != v2) { best = v2; k = 2; }
                if (v3 > best || v3 != v3) { best = v3; k = 3; }
                const float r = best < 0.0f ? 0.0f : best;
                o[c] = bf16_bits(r);
                g[c] = (uint8_t)(k + (r <= 0.0f ? 4 : 0));
            }
        }
    }
}

/* grad_out (B, H/2, W/2, C) bf16 bits and arg -> grad_in (B, H, W, C) bf16 bits (every element written). */
void pool_relu_backward(const uint16_t* restrict gout, const uint8_t* restrict arg, int B, int H, int W, int C,
                        uint16_t* restrict gin, int threads) {
    const int Ho = H / 2, Wo = W / 2;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long br = 0; br < (long)B * H; br++) {  /* input rows: a row pair per output row, odd last row zeroed */
        const int b = (int)(br / H), r = (int)(br % H);
        uint16_t* row = gin + (((long)b * H + r) * W) * C;
        memset(row, 0, sizeof(uint16_t) * W * C);
        const int i = r / 2, di = r % 2;
        if (i >= Ho) continue;
        for (int j = 0; j < Wo; j++) {
            const uint16_t* g = gout + (((long)b * Ho + i) * Wo + j) * C;
            const uint8_t* a = arg + (((long)b * Ho + i) * Wo + j) * C;
            uint16_t* d0 = row + (long)2 * j * C;
            uint16_t* d1 = d0 + C;
            #pragma omp simd
            for (int c = 0; c < C; c++) {
                const int k = a[c] & 3;
                const int pass = !(a[c] & 4) && (k >> 1) == di;
                const uint16_t v = bf16_bits(0.0f + bf16_value(g[c]));
                d0[c] = pass && (k & 1) == 0 ? v : 0;
                d1[c] = pass && (k & 1) == 1 ? v : 0;
            }
        }
    }
}
"""

_LIB = CLibrary("pool", SOURCE, {"pool_relu_forward": "p i i i i p p i", "pool_relu_backward": "p p i i i i p i"})


def load():
    return _LIB.load()


def error() -> str | None:
    return _LIB.error()


def usable(h: torch.Tensor, pool: nn.Module) -> bool:
    """Whether ``PoolReLU`` computes ``F.relu(pool(h))`` here: a CPU bf16 channels-last (B, C, H, W) tensor
    and a plain 2 x 2, stride-2 max-pool."""
    return (_takes(h) and isinstance(pool, nn.MaxPool2d) and _pair(pool.kernel_size) == (2, 2)
            and _pair(pool.stride) == (2, 2) and _pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1)
            and not pool.ceil_mode and not pool.return_indices and load() is not None)


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
        b, c, hh, ww = h.shape
        x = h.permute(0, 2, 3, 1)  # (B, H, W, C), contiguous for a channels-last h
        out = torch.empty(b, hh // 2, ww // 2, c, dtype=torch.bfloat16)
        arg = torch.empty(b, hh // 2, ww // 2, c, dtype=torch.uint8)
        _LIB.load().pool_relu_forward(x.data_ptr(), b, hh, ww, c, out.data_ptr(), arg.data_ptr(),
                                      torch.get_num_threads())
        ctx.save_for_backward(arg)
        ctx.in_hw = (hh, ww)
        return out.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (arg,) = ctx.saved_tensors
        b, ho, wo, c = arg.shape
        hh, ww = ctx.in_hw
        g = grad.to(torch.bfloat16).permute(0, 2, 3, 1).contiguous()  # (B, Ho, Wo, C)
        gin = torch.empty(b, hh, ww, c, dtype=torch.bfloat16)
        _LIB.load().pool_relu_backward(g.data_ptr(), arg.data_ptr(), b, hh, ww, c, gin.data_ptr(),
                                       torch.get_num_threads())
        return gin.permute(0, 3, 1, 2)
