// CPU kernels of the fast training encoder (training/speed/fast_encoder.py), registered as torch ops
// (torch.ops.slicer_embed_train.*) and built by torch.utils.cpp_extension (training/speed/native.py).
//
// - block1_*: the encoder's first block (conv 1->C 3x3, pad 1, BN folded in, 2x2 max-pool, ReLU) computed
//   from each pooled output's 4x4 input patch, so the full-resolution tensor is never written; its
//   backward (weight and bias gradients only: the input is the log-mel) and the moments of the input's
//   3x3 patches from which the BN batch statistics follow (training/speed/block1_kernel.py).
// - pool_relu_*: relu(max_pool2d(h, 2)) of a channels-last bf16 tensor and its gradient, one pass each
//   way with a one-byte record per output (training/speed/pool_kernel.py).
//
// Threads: at::parallel_for (torch's intra-op pool, torch.set_num_threads). Results do not depend on
// the thread count: every output element is computed by one thread, and sums over clips are taken
// per clip, then added in clip order. Rounding is written out: built with -ffp-contract=off, so no
// a * b + c becomes an FMA, and no loop reassociates a sum (no -ffast-math); the instruction set the
// compiler targets changes the speed only, never a bit of the results.

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/BFloat16.h>
#include <torch/library.h>

#include <cstdint>
#include <cstring>
#include <tuple>

namespace {

using c10::BFloat16;

// bfloat16 <-> float32 as c10::BFloat16 converts, written as plain bit operations that the compiler
// vectorises (c10's conversions, called per element, kept these loops scalar: 3-5x slower). to_bf16_bits
// rounds to nearest even and maps NaN to 0x7FC0, as c10::BFloat16(float); to_bf16_bits_finite skips the
// NaN test where the value cannot be NaN.
inline float widen(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t to_bf16_bits_finite(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline uint16_t to_bf16_bits(float f) { return f != f ? static_cast<uint16_t>(0x7FC0u) : to_bf16_bits_finite(f); }

inline void store(float* o, float v) { *o = v; }
inline void store(BFloat16* o, float v) { o->x = to_bf16_bits_finite(v); }  // block 1's output: never NaN (the ReLU)
inline float load(float v) { return v; }
inline float load(BFloat16 v) { return widen(v.x); }

// The 4 x 4 input patch of output pixel (i, j) of clip xb (H x W), zero outside: rows 2i-1..2i+2.
inline void load_patch(const float* __restrict xb, int64_t H, int64_t W, int64_t i, int64_t j,
                       float* __restrict P) {
  for (int u = 0; u < 4; u++) {
    const int64_t r = 2 * i + u - 1;
    for (int v = 0; v < 4; v++) {
      const int64_t s = 2 * j + v - 1;
      P[u * 4 + v] = (r >= 0 && r < H && s >= 0 && s < W) ? xb[r * W + s] : 0.0f;
    }
  }
}

// Rows [begin, end) of (B * Ho) of block1_forward; T is float or BFloat16 (the float result rounded to
// nearest even, as torch's cast rounds it).
template <typename T>
void block1_forward_rows(const float* __restrict x, int64_t H, int64_t W, const float* __restrict wt,
                         const float* __restrict bias, int64_t C, T* __restrict out, uint8_t* __restrict arg,
                         int64_t begin, int64_t end) {
  const int64_t Ho = H / 2, Wo = W / 2;
  for (int64_t bi = begin; bi < end; bi++) {
    const int64_t b = bi / Ho, i = bi % Ho;
    const float* xb = x + b * H * W;
    for (int64_t j = 0; j < Wo; j++) {
      float P[16];
      load_patch(xb, H, W, i, j, P);
      const int64_t base = ((b * Ho + i) * Wo + j) * C;
      T* o = out + base;
      uint8_t* a = arg + base;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        float p0 = bias[c], p1 = bias[c], p2 = bias[c], p3 = bias[c];
#define TAP(u, v)                                                                                  \
  {                                                                                                \
    const float wk = wt[((u)*3 + (v)) * C + c];                                                    \
    p0 += wk * P[(u)*4 + (v)];                                                                     \
    p1 += wk * P[(u)*4 + (v) + 1];                                                                 \
    p2 += wk * P[((u) + 1) * 4 + (v)];                                                             \
    p3 += wk * P[((u) + 1) * 4 + (v) + 1];                                                         \
  }
        TAP(0, 0) TAP(0, 1) TAP(0, 2) TAP(1, 0) TAP(1, 1) TAP(1, 2) TAP(2, 0) TAP(2, 1) TAP(2, 2)
#undef TAP
        // argmax of the 2 x 2 window, the first on ties (as max_pool2d)
        const int s01 = p1 > p0, s23 = p3 > p2;
        const float m01 = s01 ? p1 : p0, m23 = s23 ? p3 : p2;
        const int s = m23 > m01;
        const float best = s ? m23 : m01;
        const int on = best > 0.0f;
        store(o + c, on ? best : 0.0f);
        a[c] = static_cast<uint8_t>(s * (2 + s23) + (1 - s) * s01 + 4 * (1 - on));
      }
    }
  }
}

void check_cpu(const at::Tensor& t, c10::ScalarType dtype, int64_t dim, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == dtype && t.dim() == dim && t.is_contiguous(), name,
              ": expected a contiguous CPU ", c10::toString(dtype), " tensor of ", dim, " dimensions, got ",
              t.scalar_type(), " ", t.sizes(), " on ", t.device());
}

// x (B, H, W) float32; wt (9, C) float32 (tap-major); bias (C,) ->
// out (B, H/2, W/2, C) = relu(max over the 2x2 window of conv3x3(x, pad 1)), float32 or bfloat16;
// arg (same shape, uint8): the winning phase (bits 0-1), 4 if the ReLU zeroed it.
std::tuple<at::Tensor, at::Tensor> block1_forward(const at::Tensor& x, const at::Tensor& wt,
                                                  const at::Tensor& bias, bool out_bf16) {
  check_cpu(x, at::kFloat, 3, "block1_forward x");
  check_cpu(wt, at::kFloat, 2, "block1_forward wt");
  check_cpu(bias, at::kFloat, 1, "block1_forward bias");
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = wt.size(1);
  TORCH_CHECK(wt.size(0) == 9 && bias.size(0) == C, "block1_forward: wt (9, C) and bias (C,), got ", wt.sizes(),
              " and ", bias.sizes());
  const int64_t Ho = H / 2, Wo = W / 2;
  at::Tensor out = at::empty({B, Ho, Wo, C}, x.options().dtype(out_bf16 ? at::kBFloat16 : at::kFloat));
  at::Tensor arg = at::empty({B, Ho, Wo, C}, x.options().dtype(at::kByte));
  const float *xp = x.data_ptr<float>(), *wp = wt.data_ptr<float>(), *bp = bias.data_ptr<float>();
  uint8_t* ap = arg.data_ptr<uint8_t>();
  at::parallel_for(0, B * Ho, 1, [&](int64_t begin, int64_t end) {
    if (out_bf16)
      block1_forward_rows(xp, H, W, wp, bp, C, out.data_ptr<BFloat16>(), ap, begin, end);
    else
      block1_forward_rows(xp, H, W, wp, bp, C, out.data_ptr<float>(), ap, begin, end);
  });
  return {out, arg};
}

// One clip's gradient partial sums (acc: 10C floats: [0, 9C) taps, [9C, 10C) bias) of block1_forward;
// G (float or BFloat16, widened exactly) is a template parameter, so each dtype gets its own vectorised loop.
template <typename G>
void block1_backward_clip(const float* __restrict xb, int64_t H, int64_t W, const G* __restrict gout,
                          const uint8_t* __restrict argb, int64_t C, float* __restrict acc) {
  const int64_t Ho = H / 2, Wo = W / 2;
  std::memset(acc, 0, sizeof(float) * 10 * C);
  for (int64_t i = 0; i < Ho; i++) {
    for (int64_t j = 0; j < Wo; j++) {
      float P[16];
      load_patch(xb, H, W, i, j, P);
      const int64_t base = (i * Wo + j) * C;
      const G* g = gout + base;
      const uint8_t* a = argb + base;
#pragma omp simd
      for (int64_t c = 0; c < C; c++) {
        const float gin = load(g[c]);
        const float gc = a[c] & 4 ? 0.0f : gin;
        const int k = a[c] & 3;
        const float g0 = k == 0 ? gc : 0.0f, g1 = k == 1 ? gc : 0.0f;
        const float g2 = k == 2 ? gc : 0.0f, g3 = k == 3 ? gc : 0.0f;
#define TAP(u, v)                                                                                  \
  acc[((u)*3 + (v)) * C + c] += g0 * P[(u)*4 + (v)] + g1 * P[(u)*4 + (v) + 1] +                    \
                                g2 * P[((u) + 1) * 4 + (v)] + g3 * P[((u) + 1) * 4 + (v) + 1];
        TAP(0, 0) TAP(0, 1) TAP(0, 2) TAP(1, 0) TAP(1, 1) TAP(1, 2) TAP(2, 0) TAP(2, 1) TAP(2, 2)
#undef TAP
        acc[9 * C + c] += gc;
      }
    }
  }
}

// Gradients of block1_forward w.r.t. wt (9, C) and bias (C,), given x (B, H, W), grad_out
// (B, H/2, W/2, C) float32 or bfloat16 and arg: per-clip partial sums, then added in clip order.
std::tuple<at::Tensor, at::Tensor> block1_backward(const at::Tensor& x, const at::Tensor& grad,
                                                   const at::Tensor& arg) {
  check_cpu(x, at::kFloat, 3, "block1_backward x");
  check_cpu(arg, at::kByte, 4, "block1_backward arg");
  const bool g_bf16 = grad.scalar_type() == at::kBFloat16;
  check_cpu(grad, g_bf16 ? at::kBFloat16 : at::kFloat, 4, "block1_backward grad");
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = arg.size(3);
  TORCH_CHECK(grad.sizes() == arg.sizes() && arg.size(0) == B && arg.size(1) == H / 2 && arg.size(2) == W / 2,
              "block1_backward: grad ", grad.sizes(), " and arg ", arg.sizes(), " do not match x ", x.sizes());
  const int64_t per_clip = (H / 2) * (W / 2) * C;
  at::Tensor part = at::empty({B, 10 * C}, x.options());
  const float* xp = x.data_ptr<float>();
  const uint8_t* ap = arg.data_ptr<uint8_t>();
  float* pp = part.data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b++) {
      if (g_bf16)
        block1_backward_clip(xp + b * H * W, H, W, grad.data_ptr<BFloat16>() + b * per_clip, ap + b * per_clip, C,
                             pp + b * 10 * C);
      else
        block1_backward_clip(xp + b * H * W, H, W, grad.data_ptr<float>() + b * per_clip, ap + b * per_clip, C,
                             pp + b * 10 * C);
    }
  });
  at::Tensor gwt = at::empty({9, C}, x.options()), gbias = at::empty({C}, x.options());
  float *gw = gwt.data_ptr<float>(), *gb = gbias.data_ptr<float>();
  std::memset(gw, 0, sizeof(float) * 9 * C);
  std::memset(gb, 0, sizeof(float) * C);
  for (int64_t b = 0; b < B; b++) {
    const float* acc = pp + b * 10 * C;
    for (int64_t t = 0; t < 9 * C; t++) gw[t] += acc[t];
    for (int64_t c = 0; c < C; c++) gb[c] += acc[9 * C + c];
  }
  return {gwt, gbias};
}

// Moments of the zero-padded 3x3 patches of x (B, H, W) (one patch per pixel): sum (9,) and sum of
// products (9, 9), float64. Each of the 90 accumulators adds one term per pixel, row by row in pixel
// order, a row's total then added to the clip's, clip totals in clip order. The products are
// vectorised across k (lanes 0-7 of q, q8 apart) for each l, which keeps every accumulator's order.
typedef double v8d __attribute__((vector_size(64)));

void moments_clip(const float* __restrict xb, int64_t H, int64_t W, double* __restrict xp, double* __restrict acc) {
  const int64_t Wp = W + 2;
  std::memset(acc, 0, sizeof(double) * 90);
  std::memset(xp, 0, sizeof(double) * (H + 2) * Wp);  // the clip, zero-padded by one pixel, in float64
  for (int64_t r = 0; r < H; r++)
    for (int64_t s = 0; s < W; s++) xp[(r + 1) * Wp + s + 1] = xb[r * W + s];
  for (int64_t r = 0; r < H; r++) {
    v8d a[9], a8 = {0}, sv = {0};  // a[l][k] += q[k] q[l] (k < 8); a8[l] += q8 q[l] (l < 8)
    double s8 = 0.0, a88 = 0.0;
    for (int l = 0; l < 9; l++) a[l] = v8d{0};
    const double* r0 = xp + r * Wp;
    const double* r1 = r0 + Wp;
    const double* r2 = r1 + Wp;
    for (int64_t s = 0; s < W; s++) {
      const double q[9] = {r0[s], r0[s + 1], r0[s + 2], r1[s], r1[s + 1], r1[s + 2], r2[s], r2[s + 1], r2[s + 2]};
      const v8d qv = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7]};
      sv += qv;
      s8 += q[8];
      for (int l = 0; l < 9; l++) a[l] += qv * q[l];
      a8 += qv * q[8];
      a88 += q[8] * q[8];
    }
    double row[90];
    for (int k = 0; k < 8; k++) row[k] = sv[k];
    row[8] = s8;
    for (int k = 0; k < 8; k++)
      for (int l = 0; l < 9; l++) row[9 + k * 9 + l] = a[l][k];
    for (int l = 0; l < 8; l++) row[9 + 8 * 9 + l] = a8[l];
    row[9 + 80] = a88;
    for (int t = 0; t < 90; t++) acc[t] += row[t];
  }
}

std::tuple<at::Tensor, at::Tensor> block1_moments(const at::Tensor& x) {
  check_cpu(x, at::kFloat, 3, "block1_moments x");
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2);
  const auto f64 = x.options().dtype(at::kDouble);
  at::Tensor part = at::empty({B, 90}, f64), pad = at::empty({B, (H + 2) * (W + 2)}, f64);
  const float* xp = x.data_ptr<float>();
  double *pp = part.data_ptr<double>(), *padp = pad.data_ptr<double>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; b++) moments_clip(xp + b * H * W, H, W, padp + b * (H + 2) * (W + 2), pp + b * 90);
  });
  at::Tensor sum = at::empty({9}, f64), prod = at::empty({9, 9}, f64);
  double *sp = sum.data_ptr<double>(), *qp = prod.data_ptr<double>();
  std::memset(sp, 0, sizeof(double) * 9);
  std::memset(qp, 0, sizeof(double) * 81);
  for (int64_t b = 0; b < B; b++) {
    for (int k = 0; k < 9; k++) sp[k] += pp[b * 90 + k];
    for (int t = 0; t < 81; t++) qp[t] += pp[b * 90 + 9 + t];
  }
  return {sum, prod};
}

// Rows [begin, end) of (B * Ho) of pool_relu_forward, on the bits of c10::BFloat16 (.x).
void pool_relu_forward_rows(const uint16_t* __restrict x, int64_t H, int64_t W, int64_t C, uint16_t* __restrict out,
                            uint8_t* __restrict arg, int64_t begin, int64_t end) {
  const int64_t Ho = H / 2, Wo = W / 2;
  for (int64_t bi = begin; bi < end; bi++) {
    const int64_t b = bi / Ho, i = bi % Ho;
    const uint16_t* r0 = x + ((b * H + 2 * i) * W) * C;
    const uint16_t* r1 = r0 + W * C;
    for (int64_t j = 0; j < Wo; j++) {
      const uint16_t* a0 = r0 + 2 * j * C;
      const uint16_t* a1 = r1 + 2 * j * C;
      uint16_t* o = out + ((b * Ho + i) * Wo + j) * C;
      uint8_t* g = arg + ((b * Ho + i) * Wo + j) * C;
#pragma omp simd
      for (int c = 0; c < C; c++) {
        const float v0 = widen(a0[c]), v1 = widen(a0[C + c]), v2 = widen(a1[c]), v3 = widen(a1[C + c]);
        float best = v0;
        int k = 0;
        if (v1 > best || v1 != v1) { best = v1; k = 1; }
        if (v2 > best || v2 != v2) { best = v2; k = 2; }
        if (v3 > best || v3 != v3) { best = v3; k = 3; }
        const float r = best < 0.0f ? 0.0f : best;
        o[c] = to_bf16_bits(r);
        g[c] = static_cast<uint8_t>(k + (r <= 0.0f ? 4 : 0));
      }
    }
  }
}

// x (B, H, W, C) bf16 -> out (B, H/2, W/2, C) = relu(max of each 2 x 2 window), arg (same shape, uint8):
// the winner (bits 0-1; a later element wins if greater or NaN, as max_pool2d) and bit 2 when the output
// is <= 0 (no gradient). The ReLU is torch's clamp_min(x, 0): a negative value becomes +0, -0 and NaN pass.
std::tuple<at::Tensor, at::Tensor> pool_relu_forward(const at::Tensor& x) {
  check_cpu(x, at::kBFloat16, 4, "pool_relu_forward x");
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  at::Tensor out = at::empty({B, H / 2, W / 2, C}, x.options());
  at::Tensor arg = at::empty({B, H / 2, W / 2, C}, x.options().dtype(at::kByte));
  // c10::BFloat16's bits (.x) through uint16_t pointers: GCC vectorises these loops, not struct copies
  const uint16_t* xp = &x.data_ptr<BFloat16>()->x;
  uint16_t* op = &out.data_ptr<BFloat16>()->x;
  uint8_t* ap = arg.data_ptr<uint8_t>();
  at::parallel_for(0, B * (H / 2), 1, [&](int64_t begin, int64_t end) {
    pool_relu_forward_rows(xp, H, W, C, op, ap, begin, end);
  });
  return {out, arg};
}

// Input rows [begin, end) of (B * H) of pool_relu_backward (a row pair per output row, an odd last row zeroed).
void pool_relu_backward_rows(const uint16_t* __restrict gout, const uint8_t* __restrict arg, int64_t H, int64_t W,
                             int64_t C, uint16_t* __restrict gin, int64_t begin, int64_t end) {
  const int64_t Ho = H / 2, Wo = W / 2;
  for (int64_t br = begin; br < end; br++) {
    const int64_t b = br / H, r = br % H;
    uint16_t* row = gin + ((b * H + r) * W) * C;
    std::memset(row, 0, sizeof(uint16_t) * W * C);
    const int i = static_cast<int>(r / 2), di = static_cast<int>(r % 2);
    if (i >= Ho) continue;
    for (int64_t j = 0; j < Wo; j++) {
      const uint16_t* g = gout + ((b * Ho + i) * Wo + j) * C;
      const uint8_t* a = arg + ((b * Ho + i) * Wo + j) * C;
      uint16_t* d = row + 2 * j * C;  // the window's two elements on this row: d[c], d[C + c]
#pragma omp simd
      for (int c = 0; c < C; c++) {
        const int k = a[c];  // bits 0-1: the winner; bit 2: no gradient (k >= 4 then)
        const uint16_t v = to_bf16_bits(0.0f + widen(g[c]));
        const uint16_t left = k == 2 * di ? v : 0, right = k == 2 * di + 1 ? v : 0;
        d[c] = left;
        d[C + c] = right;
      }
    }
  }
}

// grad_out (B, H/2, W/2, C) bf16 and arg -> grad_in (B, H, W, C) bf16 (every element written): the
// gradient lands as 0 + g on the winner, as max_pool2d's backward adds it into a zeroed buffer.
at::Tensor pool_relu_backward(const at::Tensor& grad, const at::Tensor& arg, int64_t H, int64_t W) {
  check_cpu(grad, at::kBFloat16, 4, "pool_relu_backward grad");
  check_cpu(arg, at::kByte, 4, "pool_relu_backward arg");
  TORCH_CHECK(grad.sizes() == arg.sizes() && arg.size(1) == H / 2 && arg.size(2) == W / 2,
              "pool_relu_backward: grad ", grad.sizes(), " and arg ", arg.sizes(), " do not match (H, W) = (", H,
              ", ", W, ")");
  const int64_t B = arg.size(0), C = arg.size(3);
  at::Tensor gin = at::empty({B, H, W, C}, grad.options());
  const uint16_t* gp = &grad.data_ptr<BFloat16>()->x;
  const uint8_t* ap = arg.data_ptr<uint8_t>();
  uint16_t* dp = &gin.data_ptr<BFloat16>()->x;
  at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
    pool_relu_backward_rows(gp, ap, H, W, C, dp, begin, end);
  });
  return gin;
}

}  // namespace

TORCH_LIBRARY(slicer_embed_train, m) {
  m.def("block1_forward(Tensor x, Tensor wt, Tensor bias, bool out_bf16) -> (Tensor, Tensor)");
  m.def("block1_backward(Tensor x, Tensor grad, Tensor arg) -> (Tensor, Tensor)");
  m.def("block1_moments(Tensor x) -> (Tensor, Tensor)");
  m.def("pool_relu_forward(Tensor x) -> (Tensor, Tensor)");
  m.def("pool_relu_backward(Tensor grad, Tensor arg, int H, int W) -> Tensor");
}

TORCH_LIBRARY_IMPL(slicer_embed_train, CPU, m) {
  m.impl("block1_forward", &block1_forward);
  m.impl("block1_backward", &block1_backward);
  m.impl("block1_moments", &block1_moments);
  m.impl("pool_relu_forward", &pool_relu_forward);
  m.impl("pool_relu_backward", &pool_relu_backward);
}
