// Fused CPU kernels for the APoT and DoReFa activation quantizers, which sit on every convolution's input (see
// cpu_kernels.py and ops.py: the only quantizers whose kernels pay on a training step).
//
// Each kernel is one pass over memory and evaluates, element by element, the same IEEE float32 operations in the
// same order as the eager PyTorch code it replaces (apot.py, dorefa.py), so its results are equal bit for bit;
// build flags keep the compiler from contracting a multiply and an add into one rounding (-ffp-contract=off).
// Tensors arrive dense (contiguous or channels-last) with equal strides, so an element is the same offset in each.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <tuple>

#include "cpu_kernels.h"

namespace {

using qrepro::kGrain;

// APoT forward (LevelGrid.cell of an unsigned level set, then lookup), scalar: cell = trunc(clamp(x * scale, 0, top));
// q = values[cell]. A NaN has no cell.
QREPRO_CLONES bool apot_forward_range(const float* x, float* q, const float* values, float scale, float top,
                                      int64_t begin, int64_t end) {
  bool nan = false;
  for (int64_t i = begin; i < end; ++i) {
    float v = x[i] * scale;
    nan |= v != v;
    v = v < 0.f ? 0.f : v;
    v = v > top ? top : v;
    q[i] = values[v == v ? static_cast<int32_t>(v) : 0];
  }
  return nan;
}

#if defined(QREPRO_X86)
// The same with eight lanes and a gathered table lookup (the lookup is what a plain loop does not vectorize).
__attribute__((target("avx2"))) bool apot_forward_range_avx2(const float* x, float* q, const float* values,
                                                             float scale, float top, int64_t begin, int64_t end) {
  const __m256 vscale = _mm256_set1_ps(scale), vzero = _mm256_setzero_ps();
  const __m256 vtop = _mm256_set1_ps(top);
  const bool in_register = top < 8.f;  // a table of at most 8 cells (2-bit levels) is looked up in a register
  float padded[8] = {0.f};
  for (int c = 0; in_register && c <= static_cast<int>(top); ++c) padded[c] = values[c];
  const __m256 table = _mm256_loadu_ps(padded);
  __m256 nan = _mm256_setzero_ps();
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vscale);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, vzero), vtop);  // a NaN lane becomes 0 here (and is reported)
    const __m256i cell = _mm256_cvttps_epi32(v);
    _mm256_storeu_ps(q + i, in_register ? _mm256_permutevar8x32_ps(table, cell)
                                        : _mm256_i32gather_ps(values, cell, 4));
  }
  return apot_forward_range(x, q, values, scale, top, i, end) || _mm256_movemask_ps(nan) != 0;
}

constexpr int kRegisterCells = 128;  // the largest table the sixteen-lane loop keeps in registers

// The same with sixteen lanes, for a table of at most kRegisterCells cells (up to 4-bit levels: 96 cells) held in
// registers: each two-register permute looks up 32 cells by a cell's low five bits, and the block of 32 its higher
// bits pick is blended in (a gathered load from memory took three times as long on the AMD EPYC we measure on).
__attribute__((target("avx512f"))) bool apot_forward_range_avx512(const float* x, float* q, const float* values,
                                                                 float scale, float top, int64_t begin, int64_t end) {
  const __m512 vscale = _mm512_set1_ps(scale), vzero = _mm512_setzero_ps();
  const __m512 vtop = _mm512_set1_ps(top);
  const int cells = static_cast<int>(top) + 1, blocks = (cells + 31) / 32;
  float padded[kRegisterCells] = {0.f};
  std::copy(values, values + cells, padded);
  __m512 low[kRegisterCells / 32], high[kRegisterCells / 32];
  for (int b = 0; b < blocks; ++b) {
    low[b] = _mm512_loadu_ps(padded + 32 * b);
    high[b] = _mm512_loadu_ps(padded + 32 * b + 16);
  }
  __mmask16 nan = 0;
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vscale);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    v = _mm512_min_ps(_mm512_max_ps(v, vzero), vtop);  // a NaN lane becomes 0 here (and is reported)
    const __m512i cell = _mm512_cvttps_epi32(v);
    __m512 looked_up = _mm512_permutex2var_ps(low[0], cell, high[0]);
    for (int b = 1; b < blocks; ++b) {
      const __mmask16 in_block = _mm512_cmpge_epi32_mask(cell, _mm512_set1_epi32(32 * b));
      looked_up = _mm512_mask_blend_ps(in_block, looked_up, _mm512_permutex2var_ps(low[b], cell, high[b]));
    }
    _mm512_storeu_ps(q + i, looked_up);
  }
  return apot_forward_range(x, q, values, scale, top, i, end) || nan != 0;
}
#endif

QREPRO_CLONES void apot_backward_range(const float* g, const float* x, const float* q, float alpha, float* dx,
                                       float* residual, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float inside = x[i] <= alpha ? 1.f : 0.f;
    residual[i] = q[i] + (-1.f * x[i]) * inside;  // torch.addcmul(q, x, inside, value=-1)
    dx[i] = g[i] * inside;
  }
}

#if defined(QREPRO_X86)
bool aligned(const float* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

// The same with sixteen lanes, and non-temporal stores: dx and the residual go to memory without first being read
// into the cache (what an ordinary store of a line not in the cache costs), which makes the loop a third faster.
__attribute__((target("avx512f"))) void apot_backward_range_avx512(const float* g, const float* x, const float* q,
                                                                  float alpha, float* dx, float* residual,
                                                                  int64_t begin, int64_t end) {
  // the stores need 64-byte aligned addresses: torch allocates so, and a range starts at a multiple of kGrain
  if (!aligned(dx + begin) || !aligned(residual + begin)) {
    return apot_backward_range(g, x, q, alpha, dx, residual, begin, end);
  }
  int64_t i = begin;
  const __m512 valpha = _mm512_set1_ps(alpha), one = _mm512_set1_ps(1.f), zero = _mm512_setzero_ps();
  const __m512 minus_one = _mm512_set1_ps(-1.f);
  for (; i + 16 <= end; i += 16) {
    const __m512 xv = _mm512_loadu_ps(x + i);
    const __m512 inside = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(xv, valpha, _CMP_LE_OQ), zero, one);
    _mm512_stream_ps(residual + i, _mm512_add_ps(_mm512_loadu_ps(q + i), _mm512_mul_ps(_mm512_mul_ps(minus_one, xv),
                                                                                        inside)));
    _mm512_stream_ps(dx + i, _mm512_mul_ps(_mm512_loadu_ps(g + i), inside));
  }
  _mm_sfence();  // the streamed lines are in memory before this thread's part of the loop is reported done
  apot_backward_range(g, x, q, alpha, dx, residual, i, end);
}
#endif

QREPRO_CLONES void dorefa_forward_range(const float* a, float* q, float steps, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float v = a[i];
    v = v < 0.f ? 0.f : v;  // clamp(a, 0, 1), NaN and -0 kept as torch.clamp keeps them
    v = v > 1.f ? 1.f : v;
    q[i] = std::nearbyint(v * steps) / steps;  // round half to even, as torch.round
  }
}

#if defined(QREPRO_X86)
// The same with eight lanes (a plain loop calls the C library's nearbyint per element).
__attribute__((target("avx2"))) void dorefa_forward_range_avx2(const float* a, float* q, float steps, int64_t begin,
                                                               int64_t end) {
  const __m256 vsteps = _mm256_set1_ps(steps), vzero = _mm256_setzero_ps(), vone = _mm256_set1_ps(1.f);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    // max/min return their second operand on a NaN or a tie, so NaN and -0 pass through as in the scalar loop
    __m256 v = _mm256_min_ps(vone, _mm256_max_ps(vzero, _mm256_loadu_ps(a + i)));
    v = _mm256_round_ps(_mm256_mul_ps(v, vsteps), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_ps(q + i, _mm256_div_ps(v, vsteps));
  }
  dorefa_forward_range(a, q, steps, i, end);
}
#endif

QREPRO_CLONES void dorefa_backward_range(const float* g, const float* a, float steps, float* dx, int64_t begin,
                                         int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float through = (g[i] / steps) * steps;  // the division and product around the rounding
    dx[i] = (a[i] <= 0.f || a[i] >= 1.f) ? 0.f : through;  // hardtanh_backward(., a, 0, 1)
  }
}

#if defined(QREPRO_X86)
// The same with eight lanes (the scalar loop's branch does not vectorize).
__attribute__((target("avx2"))) void dorefa_backward_range_avx2(const float* g, const float* a, float steps,
                                                                float* dx, int64_t begin, int64_t end) {
  const __m256 vsteps = _mm256_set1_ps(steps), vzero = _mm256_setzero_ps(), vone = _mm256_set1_ps(1.f);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 through = _mm256_mul_ps(_mm256_div_ps(_mm256_loadu_ps(g + i), vsteps), vsteps);
    const __m256 av = _mm256_loadu_ps(a + i);
    const __m256 outside = _mm256_or_ps(_mm256_cmp_ps(av, vzero, _CMP_LE_OQ), _mm256_cmp_ps(av, vone, _CMP_GE_OQ));
    _mm256_storeu_ps(dx + i, _mm256_andnot_ps(outside, through));  // +0 outside, as the scalar loop
  }
  dorefa_backward_range(g, a, steps, dx, i, end);
}
#endif

// The widest loops this CPU runs: 0 portable, 1 eight lanes (AVX2), 2 sixteen lanes (AVX-512, APoT's lookup only).
int widest_loops() {
#if defined(QREPRO_X86)
  return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
  return 0;
#endif
}

std::atomic<int> loops{widest_loops()};  // the widest loops the CPU has; tests choose narrower ones

}  // namespace

// q = values[trunc(clamp(x * scale, 0, cells - 1))] into q; whether any x * scale was NaN.
bool apot_lookup(const at::Tensor& x, double scale, const float* vp, int64_t cells, at::Tensor& q) {
  const float* xp = x.const_data_ptr<float>();
  float* qp = q.data_ptr<float>();
  const float s = static_cast<float>(scale), top = static_cast<float>(cells - 1);
  const int width = loops.load();
  std::atomic<bool> nan{false};
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
#if defined(QREPRO_X86)
    const bool found = width == 2 && cells <= kRegisterCells
                           ? apot_forward_range_avx512(xp, qp, vp, s, top, begin, end)
                       : width >= 1 ? apot_forward_range_avx2(xp, qp, vp, s, top, begin, end)
                                    : apot_forward_range(xp, qp, vp, s, top, begin, end);
#else
    const bool found = apot_forward_range(xp, qp, vp, s, top, begin, end);
#endif
    if (found) nan = true;
  });
  return nan.load();
}

// q = values[trunc(clamp(x * scale, 0, cells - 1))]; also whether any x * scale was NaN.
std::tuple<at::Tensor, bool> apot_activation_forward(const at::Tensor& x, double scale, const at::Tensor& values,
                                                     int64_t cells) {
  at::Tensor q = at::empty_like(x);
  const bool nan = apot_lookup(x, scale, values.const_data_ptr<float>(), cells, q);
  return {q, nan};
}

// dL/dx = g 1[x <= alpha], returned; residual = q - x 1[x <= alpha], written into the caller's buffer.
at::Tensor apot_activation_backward(const at::Tensor& g, const at::Tensor& x, const at::Tensor& q, double alpha,
                                    at::Tensor& residual) {
  at::Tensor dx = at::empty_like(x);
  const float* gp = g.const_data_ptr<float>();
  const float* xp = x.const_data_ptr<float>();
  const float* qp = q.const_data_ptr<float>();
  float* dp = dx.data_ptr<float>();
  float* rp = residual.data_ptr<float>();
  const float a = static_cast<float>(alpha);
  const int width = loops.load();
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
#if defined(QREPRO_X86)
    if (width == 2) return apot_backward_range_avx512(gp, xp, qp, a, dp, rp, begin, end);
#endif
    apot_backward_range(gp, xp, qp, a, dp, rp, begin, end);
  });
  return dx;
}

// round(clamp(a, 0, 1) * steps) / steps.
at::Tensor dorefa_activation_forward(const at::Tensor& a, int64_t steps) {
  at::Tensor q = at::empty_like(a);
  const float* ap = a.const_data_ptr<float>();
  float* qp = q.data_ptr<float>();
  const float s = static_cast<float>(steps);
  const bool avx2 = loops.load() >= 1;
  at::parallel_for(0, a.numel(), kGrain, [&](int64_t begin, int64_t end) {
#if defined(QREPRO_X86)
    if (avx2) return dorefa_forward_range_avx2(ap, qp, s, begin, end);
#endif
    dorefa_forward_range(ap, qp, s, begin, end);
  });
  return q;
}

// dL/da = ((g / steps) * steps) 1[0 < a < 1].
at::Tensor dorefa_activation_backward(const at::Tensor& g, const at::Tensor& a, int64_t steps) {
  at::Tensor dx = at::empty_like(a);
  const float* gp = g.const_data_ptr<float>();
  const float* ap = a.const_data_ptr<float>();
  float* dp = dx.data_ptr<float>();
  const float s = static_cast<float>(steps);
  const bool avx2 = loops.load() >= 1;
  at::parallel_for(0, a.numel(), kGrain, [&](int64_t begin, int64_t end) {
#if defined(QREPRO_X86)
    if (avx2) return dorefa_backward_range_avx2(gp, ap, s, dp, begin, end);
#endif
    dorefa_backward_range(gp, ap, s, dp, begin, end);
  });
  return dx;
}

// Use loops at most `widest` wide (0 portable, 1 AVX2, 2 AVX-512) as far as the CPU has them; returns the width now
// in use.
int use_loops(int64_t widest) {
  loops = std::min(static_cast<int>(widest), widest_loops());
  return loops.load();
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("use_loops", &use_loops);
  m.def("apot_activation_forward", &apot_activation_forward);
  m.def("apot_activation_backward", &apot_activation_backward);
  m.def("dorefa_activation_forward", &dorefa_activation_forward);
  m.def("dorefa_activation_backward", &dorefa_activation_backward);
}
