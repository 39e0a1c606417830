"""A fused CPU kernel for the encoder's first block in training: conv(1->C) + folded BN + max-pool + ReLU.

Block 1 is the widest tensor of a training step (C x F x T per clip, 25 M values for 64 clips): with
torch ops, BN, ReLU and the pool each stream it through memory, which costs ~40% of a CPU step while
the block holds 3% of the FLOPs. This kernel computes each pooled output straight from the 4 x 4 input
patch (the four 3 x 3 convolutions of the 2 x 2 pool window, C channels vectorised), so the full
resolution tensor is never written; backward recomputes nothing but the patch.

It is plain C (no torch headers), compiled once per machine (training.c_library) and called through
ctypes, which releases the GIL. No compiler, or a failed build: ``load()`` returns None and training
uses the torch-ops path (``training.fast_encoder``). Deterministic: each clip is reduced on its own and the
per-clip partial sums are added in clip order, whatever the thread count.
"""

from __future__ import annotations

import ctypes

import torch

from .c_library import BF16_C, CLibrary

SOURCE = BF16_C + r"""
#include <stdlib.h>

/* The 4 x 4 input patch of output pixel (i, j) of clip xb (H x W), zero outside: rows 2i-1..2i+2. */
static inline void load_patch(const float* restrict xb, int H, int W, int i, int j, float* restrict P) {
    for (int u = 0; u < 4; u++) {
        const int r = 2 * i + u - 1;
        for (int v = 0; v < 4; v++) {
            const int s = 2 * j + v - 1;
            P[u * 4 + v] = (r >= 0 && r < H && s >= 0 && s < W) ? xb[(long)r * W + s] : 0.0f;
        }
    }
}

/* x (B, H, W) fp32; wt (9, C) fp32 (tap-major: wt[k*C + c]); bias (C,).
   out (B, H/2, W/2, C) = relu(max over the 2x2 window of conv3x3(x, pad 1)), float32, or bfloat16 bits when
   out_bf16 (the value autocast would cast it to); arg: winning phase (bits 0-1), 4 if the ReLU zeroed it. */
void block1_forward(const float* restrict x, int B, int H, int W, const float* restrict wt, const float* restrict bias, int C,
                    void* restrict out_, int out_bf16, uint8_t* restrict arg, int threads) {
    const int Ho = H / 2, Wo = W / 2;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (long bi = 0; bi < (long)B * Ho; bi++) {
        const int b = (int)(bi / Ho), i = (int)(bi % Ho);
        const float* xb = x + (long)b * H * W;
        for (int j = 0; j < Wo; j++) {
            float P[16];
            load_patch(xb, H, W, i, j, P);
            const long base = (((long)b * Ho + i) * Wo + j) * C;
            float* o = (float*)out_ + base;
            uint16_t* o16 = (uint16_t*)out_ + base;
            uint8_t* a = arg + base;
            #pragma omp simd
            for (int c = 0; c < C; c++) {
                float p0 = bias[c], p1 = bias[c], p2 = bias[c], p3 = bias[c];
#define TAP(u, v) { const float wk = wt[((u) * 3 + (v)) * C + c]; \
                    p0 += wk * P[(u) * 4 + (v)]; p1 += wk * P[(u) * 4 + (v) + 1]; \
                    p2 += wk * P[((u) + 1) * 4 + (v)]; p3 += wk * P[((u) + 1) * 4 + (v) + 1]; }
                TAP(0, 0) TAP(0, 1) TAP(0, 2) TAP(1, 0) TAP(1, 1) TAP(1, 2) TAP(2, 0) TAP(2, 1) TAP(2, 2)
#undef TAP
                /* argmax of the 2 x 2 window, the first on ties (as max_pool2d) */
                const int s01 = p1 > p0, s23 = p3 > p2;
                const float m01 = s01 ? p1 : p0, m23 = s23 ? p3 : p2;
                const int s = m23 > m01;
                const float best = s ? m23 : m01;
                const int on = best > 0.0f;
                const float r = on ? best : 0.0f;
                if (out_bf16) o16[c] = bf16_bits_finite(r); else o[c] = r;  /* r is never NaN: the ReLU maps it to 0 */
                a[c] = (uint8_t)(s * (2 + s23) + (1 - s) * s01 + 4 * (1 - on));
            }
        }
    }
}

/* One clip's gradient partial sums (acc: 10C floats) of block1_forward; g_bf16 is a compile-time constant at
   each call, so each dtype gets its own vectorised loop (a runtime test inside the loop kept the bf16 one
   scalar: 25 ms against 7 ms per 64 clips). */
static inline void backward_clip(const float* restrict xb, int H, int W, const void* restrict gout_, const int g_bf16,
                                 const uint8_t* restrict argb, int C, float* restrict acc) {
    const int Ho = H / 2, Wo = W / 2;
    memset(acc, 0, sizeof(float) * 10 * C);
    for (int i = 0; i < Ho; i++) {
        for (int j = 0; j < Wo; j++) {
            float P[16];
            load_patch(xb, H, W, i, j, P);
            const long base = ((long)i * Wo + j) * C;
            const float* g = (const float*)gout_ + base;
            const uint16_t* g16 = (const uint16_t*)gout_ + base;
            const uint8_t* a = argb + base;
            #pragma omp simd
            for (int c = 0; c < C; c++) {
                const float gin = g_bf16 ? bf16_value(g16[c]) : g[c];
                const float gc = a[c] & 4 ? 0.0f : gin;
                const int k = a[c] & 3;
                const float g0 = k == 0 ? gc : 0.0f, g1 = k == 1 ? gc : 0.0f;
                const float g2 = k == 2 ? gc : 0.0f, g3 = k == 3 ? gc : 0.0f;
#define TAP(u, v) acc[((u) * 3 + (v)) * C + c] += g0 * P[(u) * 4 + (v)] + g1 * P[(u) * 4 + (v) + 1] \
                        + g2 * P[((u) + 1) * 4 + (v)] + g3 * P[((u) + 1) * 4 + (v) + 1];
                TAP(0, 0) TAP(0, 1) TAP(0, 2) TAP(1, 0) TAP(1, 1) TAP(1, 2) TAP(2, 0) TAP(2, 1) TAP(2, 2)
#undef TAP
                acc[9 * C + c] += gc;
            }
        }
    }
}

/* Gradients of block1_forward w.r.t. wt (9, C) and bias (C,), given grad_out (B, H/2, W/2, C) in float32,
   or in bfloat16 bits when g_bf16 (widened exactly). Partial sums per clip (part: B x 10C floats,
   caller-allocated), then added in clip order. */
void block1_backward(const float* restrict x, int B, int H, int W, const void* restrict gout_, int g_bf16,
                     const uint8_t* restrict arg, int C, float* restrict gwt,
                     float* restrict gbias, float* restrict part, int threads) {
    const long per_clip = (long)(H / 2) * (W / 2) * C;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < B; b++) {
        const float* xb = x + (long)b * H * W;
        float* acc = part + (long)b * 10 * C;  /* [0, 9C): taps, [9C, 10C): bias */
        if (g_bf16)
            backward_clip(xb, H, W, (const uint16_t*)gout_ + b * per_clip, 1, arg + b * per_clip, C, acc);
        else
            backward_clip(xb, H, W, (const float*)gout_ + b * per_clip, 0, arg + b * per_clip, C, acc);
    }
    memset(gwt, 0, sizeof(float) * 9 * C);
    memset(gbias, 0, sizeof(float) * C);
    for (int b = 0; b < B; b++) {
        const float* acc = part + (long)b * 10 * C;
        for (int t = 0; t < 9 * C; t++) gwt[t] += acc[t];
        for (int c = 0; c < C; c++) gbias[c] += acc[9 * C + c];
    }
}
/* Moments of the zero-padded 3x3 patches of x (B, H, W) (one patch per pixel): sum (9) and sum of
   products (9 x 9), float64, per clip into part (B x 90 doubles), then added in clip order. Each of the 90
   accumulators adds one term per pixel, row by row in pixel order, a row's total then added to the clip's:
   the products are vectorised across k (lanes 0-7 of q, q8 apart) for each l, which keeps every
   accumulator's order and rounding (pad: B x (H+2) x (W+2) doubles of scratch, caller-allocated). */
typedef double v8d __attribute__((vector_size(64)));

void block1_moments(const float* restrict x, int B, int H, int W, double* restrict sum,
                    double* restrict prod, double* restrict part, double* restrict pad, int threads) {
    const int Wp = W + 2;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int b = 0; b < B; b++) {
        double* acc = part + (long)b * 90;
        memset(acc, 0, sizeof(double) * 90);
        const float* xb = x + (long)b * H * W;
        double* xp = pad + (long)b * (H + 2) * Wp;  /* the clip, zero-padded by one pixel, in float64 */
        memset(xp, 0, sizeof(double) * (H + 2) * Wp);
        for (int r = 0; r < H; r++)
            for (int s = 0; s < W; s++) xp[(long)(r + 1) * Wp + s + 1] = xb[(long)r * W + s];
        for (int r = 0; r < H; r++) {
            v8d a[9], a8 = {0}, sv = {0};  /* a[l][k] += q[k] q[l] (k < 8); a8[l] += q8 q[l] (l < 8) */
            double s8 = 0.0, a88 = 0.0;
            for (int l = 0; l < 9; l++) a[l] = (v8d){0};
            const double* r0 = xp + (long)r * Wp;
            const double* r1 = r0 + Wp;
            const double* r2 = r1 + Wp;
            for (int s = 0; s < W; s++) {
                const double q[9] = {r0[s], r0[s + 1], r0[s + 2], r1[s], r1[s + 1], r1[s + 2],
                                     r2[s], r2[s + 1], r2[s + 2]};
                const v8d qv = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]};
                sv += qv;
                s8 += q[8];
                for (int l = 0; l < 9; l++) a[l] += qv * q[l];
                a8 += qv * q[8];
                a88 += q[8] * q[8];
            }
            double rowacc[90];
            for (int k = 0; k < 8; k++) rowacc[k] = sv[k];
            rowacc[8] = s8;
            for (int k = 0; k < 8; k++)
                for (int l = 0; l < 9; l++) rowacc[9 + k * 9 + l] = a[l][k];
            for (int l = 0; l < 8; l++) rowacc[9 + 8 * 9 + l] = a8[l];
            rowacc[9 + 80] = a88;
            for (int t = 0; t < 90; t++) acc[t] += rowacc[t];
        }
    }
    memset(sum, 0, sizeof(double) * 9);
    memset(prod, 0, sizeof(double) * 81);
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < 9; k++) sum[k] += part[(long)b * 90 + k];
        for (int t = 0; t < 81; t++) prod[t] += part[(long)b * 90 + 9 + t];
    }
}
"""

_LIB = CLibrary("block1", SOURCE, {
    "block1_forward": "p i i i p p i p i p i",
    "block1_backward": "p i i i p i p i p p p i",
    "block1_moments": "p i i i p p p p i",
})


def load() -> ctypes.CDLL | None:
    """The compiled kernel (built on first use), or None if it cannot be built here (see ``error()``).

    ``SLICER_EMBED_NO_KERNEL=1`` disables it (the torch-ops path is used)."""
    return _LIB.load()


def error() -> str | None:
    """Why ``load()`` returned None, if it did."""
    return _LIB.error()


def _planes(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, F, T) -> the (B, F, T) float32 contiguous planes the C functions read (a view if it can)."""
    return x.detach().reshape(x.shape[0], x.shape[2], x.shape[3]).float().contiguous()


def patch_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mean (9,) and biased covariance (9, 9), float64, of the zero-padded 3 x 3 patches of ``x``
    (B, 1, F, T) (one per pixel), and the pixel count. Requires ``load()`` to succeed."""
    x3 = _planes(x)
    b, h, w = x3.shape
    total, prod = torch.empty(9, dtype=torch.float64), torch.empty(9, 9, dtype=torch.float64)
    part = torch.empty(b, 90, dtype=torch.float64)
    pad = torch.empty(b, h + 2, w + 2, dtype=torch.float64)
    load().block1_moments(x3.data_ptr(), b, h, w, total.data_ptr(), prod.data_ptr(), part.data_ptr(),
                          pad.data_ptr(), torch.get_num_threads())
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
        lib = load()
        if lib is None:
            raise RuntimeError(f"block-1 kernel unavailable: {_error}")
        if out_dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"block-1 kernel writes float32 or bfloat16, not {out_dtype}")
        x3 = _planes(x)
        wt, bias = wt.detach().float().contiguous(), bias.detach().float().contiguous()
        b, h, w = x3.shape
        c = wt.shape[1]
        out = torch.empty(b, h // 2, w // 2, c, dtype=out_dtype)
        arg = torch.empty(b, h // 2, w // 2, c, dtype=torch.uint8)
        lib.block1_forward(x3.data_ptr(), b, h, w, wt.data_ptr(), bias.data_ptr(), c, out.data_ptr(),
                           int(out_dtype == torch.bfloat16), arg.data_ptr(), torch.get_num_threads())
        ctx.save_for_backward(x3, arg)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x3, arg = ctx.saved_tensors
        b, h, w = x3.shape
        c = arg.shape[-1]
        g = (grad if grad.dtype == torch.bfloat16 else grad.float()).contiguous()
        gwt, gb = torch.empty(9, c), torch.empty(c)
        part = torch.empty(b, 10 * c)
        load().block1_backward(x3.data_ptr(), b, h, w, g.data_ptr(), int(g.dtype == torch.bfloat16),
                               arg.data_ptr(), c, gwt.data_ptr(), gb.data_ptr(), part.data_ptr(),
                               torch.get_num_threads())
        return None, gwt, gb, None
