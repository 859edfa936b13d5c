// Fused CPU kernels for the activation quantizers that sit on every convolution's input (see cpu_kernels.py).
//
// Each kernel is one pass over memory and evaluates, element by element, the same IEEE float32 operations in the
// same order as the eager PyTorch code it replaces (apot.py, dorefa.py), so its results are equal bit for bit;
// build flags keep the compiler from contracting a multiply and an add into one rounding (-ffp-contract=off).
// Tensors arrive dense (contiguous or channels-last) with equal strides, so an element is the same offset in each.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <tuple>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define QREPRO_X86 1
#endif
#if defined(QREPRO_X86) && defined(__linux__)
#define QREPRO_CLONES __attribute__((target_clones("avx2", "default")))  // one AVX2 build, one portable
#else
#define QREPRO_CLONES
#endif

namespace {

constexpr int64_t kGrain = 32768;  // elements per task, as ATen's element-wise kernels

// APoT activation forward, scalar: cell = trunc(clamp(x * scale, 0, top)); q = values[cell]. A NaN has no cell.
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
  const __m256 vscale = _mm256_set1_ps(scale), vzero = _mm256_setzero_ps(), vtop = _mm256_set1_ps(top);
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
#endif

QREPRO_CLONES void apot_backward_range(const float* g, const float* x, const float* q, float alpha, float* dx,
                                       float* residual, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float inside = x[i] <= alpha ? 1.f : 0.f;
    residual[i] = q[i] + (-1.f * x[i]) * inside;  // torch.addcmul(q, x, inside, value=-1)
    dx[i] = g[i] * inside;
  }
}

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

bool has_avx2() {
#if defined(QREPRO_X86)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

std::atomic<bool> vector_path{has_avx2()};  // the eight-lane loops where the CPU has them; tests switch it off

}  // namespace

// q = values[trunc(clamp(x * scale, 0, top))], top = cells - 1; also whether any x * scale was NaN.
std::tuple<at::Tensor, bool> apot_activation_forward(const at::Tensor& x, double scale, const at::Tensor& values,
                                                     int64_t cells) {
  at::Tensor q = at::empty_like(x);
  const float* xp = x.const_data_ptr<float>();
  const float* vp = values.const_data_ptr<float>();
  float* qp = q.data_ptr<float>();
  const float s = static_cast<float>(scale), top = static_cast<float>(cells - 1);
  const bool avx2 = vector_path.load();
  std::atomic<bool> nan{false};
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
#if defined(QREPRO_X86)
    const bool found = avx2 ? apot_forward_range_avx2(xp, qp, vp, s, top, begin, end)
                            : apot_forward_range(xp, qp, vp, s, top, begin, end);
#else
    const bool found = apot_forward_range(xp, qp, vp, s, top, begin, end);
#endif
    if (found) nan = true;
  });
  return {q, nan.load()};
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
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
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
  const bool avx2 = vector_path.load();
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
  const bool avx2 = vector_path.load();
  at::parallel_for(0, a.numel(), kGrain, [&](int64_t begin, int64_t end) {
#if defined(QREPRO_X86)
    if (avx2) return dorefa_backward_range_avx2(gp, ap, s, dp, begin, end);
#endif
    dorefa_backward_range(gp, ap, s, dp, begin, end);
  });
  return dx;
}

// Use the eight-lane loops (where the CPU has AVX2) or the portable ones; returns whether the eight-lane ones run.
bool use_vector_path(bool on) {
  vector_path = on && has_avx2();
  return vector_path.load();
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("use_vector_path", &use_vector_path);
  m.def("apot_activation_forward", &apot_activation_forward);
  m.def("apot_activation_backward", &apot_activation_backward);
  m.def("dorefa_activation_forward", &dorefa_activation_forward);
  m.def("dorefa_activation_backward", &dorefa_activation_backward);
}
