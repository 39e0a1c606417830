"""Dropout in one pass, with exactly the numbers of ``x * (torch.rand(x.shape) >= p) * (1 / (1 - p))``.

The fast encoder draws its dropout masks with ``torch.rand`` from torch's global CPU generator (a
Mersenne Twister, MT19937). torch fills the uniforms one at a time (a serial kernel: 3 ms for one
(64, 12, 2048) mask here), then the comparison, the cast and two multiplications stream the tensor
four more times; a ``--preset cpu`` step does this four times forward and twice backward, ~20 ms in
all. This kernel reads the generator's state (``torch.get_rng_state()``), runs the same MT19937 and the
same uniform transform (the low 24 bits of each 32-bit draw times 2**-24, as ``at::uniform_real_
distribution<float>``), and writes the output, the keep mask for backward and the advanced state
(``torch.set_rng_state``) in one pass: the same values bit for bit, and the generator left where
``torch.rand`` would leave it, so resumed runs and every later draw are unchanged.

The rounding is torch's: for bfloat16 the product with the keep flag (exact), then the product with
the scale as ``float32(1 / (1 - p))``, rounded to nearest even; backward the gradient times the scale,
rounded, times the flag. tests/test_train_dropout_kernel.py compares outputs, gradients and the
generator state with the torch ops.
"""

from __future__ import annotations

import functools

import torch

from .c_library import BF16_C, CLibrary

SOURCE = BF16_C + r"""

#define MT_N 624
#define MT_M 397

/* torch.get_rng_state() bytes (CPUGeneratorImplState): int32 left at offset 8, uint64 next at 16,
   uint64 state[624] (each word holding a uint32) at 24. */
#define OFF_LEFT 8
#define OFF_NEXT 16
#define OFF_STATE 24

static inline uint32_t twist(uint32_t u, uint32_t v) {
    return (((u & 0x80000000u) | (v & 0x7fffffffu)) >> 1) ^ ((0u - (v & 1u)) & 0x9908b0dfu);
}

/* at::mt19937::next_state */
static void mt_next_state(uint32_t* restrict s) {
    int j;
    for (j = 0; j < MT_N - MT_M; j++) s[j] = s[j + MT_M] ^ twist(s[j], s[j + 1]);
    for (; j < MT_N - 1; j++) s[j] = s[j + MT_M - MT_N] ^ twist(s[j], s[j + 1]);
    s[MT_N - 1] = s[MT_M - 1] ^ twist(s[MT_N - 1], s[0]);
}

static inline uint32_t temper(uint32_t y) {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* n draws of torch.rand >= p from the generator state in buf (advanced in place), applied to x:
   out = x * keep * scale with torch's rounding (bf16 when is_bf16, else float32); keep (n bytes) written
   when not NULL. */
void dropout_forward(uint8_t* restrict buf, long n, float p, float scale, const void* restrict x_,
                     void* restrict out_, uint8_t* restrict keep, int is_bf16) {
    uint32_t s[MT_N];
    int32_t left;
    uint64_t next64;
    memcpy(&left, buf + OFF_LEFT, 4);
    memcpy(&next64, buf + OFF_NEXT, 8);
    for (int k = 0; k < MT_N; k++) {
        uint64_t w;
        memcpy(&w, buf + OFF_STATE + 8 * k, 8);
        s[k] = (uint32_t)w;
    }
    long next = (long)next64;
    const uint16_t* x16 = (const uint16_t*)x_;
    const float* x32 = (const float*)x_;
    uint16_t* o16 = (uint16_t*)out_;
    float* o32 = (float*)out_;
    long i = 0;
    while (i < n) {
        if (left == 1) {  /* the next draw's --left reaches 0: next_state, then draw state[0] */
            mt_next_state(s);
            left = MT_N + 1;
            next = 0;
        }
        long k = left - 1;
        if (k > n - i) k = n - i;
        const uint32_t* src = s + next;
        #pragma omp simd
        for (long t = 0; t < k; t++) {
            const float r = (float)(temper(src[t]) & 0xFFFFFFu) * 5.9604644775390625e-08f;  /* 2^-24 */
            const float kf = r >= p ? 1.0f : 0.0f;
            if (keep) keep[i + t] = (uint8_t)(r >= p);
            if (is_bf16) {
                const uint16_t a = bf16_bits(bf16_value(x16[i + t]) * kf);
                o16[i + t] = bf16_bits(bf16_value(a) * scale);
            } else {
                o32[i + t] = (x32[i + t] * kf) * scale;
            }
        }
        next += k;
        left -= (int32_t)k;
        i += k;
    }
    next64 = (uint64_t)next;
    memcpy(buf + OFF_LEFT, &left, 4);
    memcpy(buf + OFF_NEXT, &next64, 8);
    for (int k = 0; k < MT_N; k++) {
        const uint64_t w = s[k];
        memcpy(buf + OFF_STATE + 8 * k, &w, 8);
    }
}

/* grad_x = (grad * scale) * keep, rounded as torch's two multiplications round */
void dropout_backward(long n, float scale, const void* restrict g_, const uint8_t* restrict keep,
                      void* restrict gx_, int is_bf16) {
    const uint16_t* g16 = (const uint16_t*)g_;
    const float* g32 = (const float*)g_;
    uint16_t* o16 = (uint16_t*)gx_;
    float* o32 = (float*)gx_;
    #pragma omp simd
    for (long i = 0; i < n; i++) {
        const float kf = keep[i] ? 1.0f : 0.0f;
        if (is_bf16) {
            const uint16_t a = bf16_bits(bf16_value(g16[i]) * scale);
            o16[i] = bf16_bits(bf16_value(a) * kf);
        } else {
            o32[i] = (g32[i] * scale) * kf;
        }
    }
}
"""

_LIB = CLibrary("dropout", SOURCE, {"dropout_forward": "p l f f p p p i", "dropout_backward": "l f p p p i"})
STATE_BYTES = 5056  # torch.get_rng_state() of the CPU generator (CPUGeneratorImplState)


@functools.cache
def _known_generator_layout() -> bool:
    return torch.get_rng_state().numel() == STATE_BYTES


def load():
    """The compiled kernel, or None (no compiler, ``SLICER_EMBED_NO_KERNEL=1``, another generator layout)."""
    return _LIB.load() if _known_generator_layout() else None


def error() -> str | None:
    return _LIB.error()


def usable(x: torch.Tensor) -> bool:
    """Whether ``DropoutKernel`` can take ``x`` (a CPU float32 / bfloat16 tensor) here."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.bfloat16) and load() is not None


class DropoutKernel(torch.autograd.Function):
    """x (any shape, CPU, float32 or bfloat16) -> x * (torch.rand(x.shape) >= p) * (1 / (1 - p)), same dtype,
    drawing from (and advancing) torch's global CPU generator exactly as ``torch.rand`` does."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float) -> torch.Tensor:
        x = x.contiguous()
        scale = 1.0 / (1.0 - p)
        state = torch.get_rng_state()
        out = torch.empty_like(x)
        keep = torch.empty(x.shape, dtype=torch.uint8) if ctx.needs_input_grad[0] else None
        # torch compares its float32 uniforms with p as float32 and scales by float32(1 / (1 - p))
        _LIB.load().dropout_forward(state.data_ptr(), x.numel(), p, scale, x.data_ptr(), out.data_ptr(),
                                    None if keep is None else keep.data_ptr(), int(x.dtype == torch.bfloat16))
        torch.set_rng_state(state)
        if keep is not None:
            ctx.save_for_backward(keep)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (keep,) = ctx.saved_tensors
        grad = grad.contiguous()
        gx = torch.empty_like(grad)
        _LIB.load().dropout_backward(grad.numel(), ctx.scale, grad.data_ptr(), keep.data_ptr(), gx.data_ptr(),
                                     int(grad.dtype == torch.bfloat16))
        return gx, None
