// Fused CPU kernels for the APoT and DoReFa quantizers: the activation quantizers that sit on every convolution's
// input, and APoT's weights, which share the activations' table lookup (see cpu_kernels.py; the other weight
// quantizers are in weight_kernels.cpp).
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
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "cpu_kernels.h"

namespace {

using qrepro::kGrain;

// APoT forward (LevelGrid.cell, then lookup), scalar: cell = trunc(clamp(x * scale + offset, 0, top)), the offset
// added only where it is nonzero (signed level sets: weights), as LevelGrid.cell; q = values[cell]. A NaN has no cell.
QREPRO_CLONES bool apot_forward_range(const float* x, float* q, const float* values, float scale, float offset,
                                      float top, int64_t begin, int64_t end) {
  bool nan = false;
  for (int64_t i = begin; i < end; ++i) {
    float v = x[i] * scale;
    if (offset != 0.f) v = v + offset;
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
                                                             float scale, float offset, float top, int64_t begin,
                                                             int64_t end) {
  const __m256 vscale = _mm256_set1_ps(scale), voffset = _mm256_set1_ps(offset), vzero = _mm256_setzero_ps();
  const __m256 vtop = _mm256_set1_ps(top);
  const bool in_register = top < 8.f;  // a table of at most 8 cells (2-bit levels) is looked up in a register
  float padded[8] = {0.f};
  for (int c = 0; in_register && c <= static_cast<int>(top); ++c) padded[c] = values[c];
  const __m256 table = _mm256_loadu_ps(padded);
  __m256 nan = _mm256_setzero_ps();
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vscale);
    if (offset != 0.f) v = _mm256_add_ps(v, voffset);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, vzero), vtop);  // a NaN lane becomes 0 here (and is reported)
    const __m256i cell = _mm256_cvttps_epi32(v);
    _mm256_storeu_ps(q + i, in_register ? _mm256_permutevar8x32_ps(table, cell)
                                        : _mm256_i32gather_ps(values, cell, 4));
  }
  return apot_forward_range(x, q, values, scale, offset, top, i, end) || _mm256_movemask_ps(nan) != 0;
}

constexpr int kRegisterCells = 128;  // the largest table the sixteen-lane loop keeps in registers

// The same with sixteen lanes, for a table of at most kRegisterCells cells (up to 4-bit levels: 96 cells) held in
// registers: each two-register permute looks up 32 cells by a cell's low five bits, and the block of 32 its higher
// bits pick is blended in (a gathered load from memory took three times as long on the AMD EPYC we measure on).
__attribute__((target("avx512f"))) bool apot_forward_range_avx512(const float* x, float* q, const float* values,
                                                                 float scale, float offset, float top, int64_t begin,
                                                                 int64_t end) {
  const __m512 vscale = _mm512_set1_ps(scale), voffset = _mm512_set1_ps(offset), vzero = _mm512_setzero_ps();
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
    if (offset != 0.f) v = _mm512_add_ps(v, voffset);
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
  return apot_forward_range(x, q, values, scale, offset, top, i, end) || nan != 0;
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

// q = values[trunc(clamp(x * scale + offset, 0, cells - 1))] into q; whether any x * scale + offset was NaN.
bool apot_lookup(const at::Tensor& x, double scale, double offset, const float* vp, int64_t cells, at::Tensor& q) {
  const float* xp = x.const_data_ptr<float>();
  float* qp = q.data_ptr<float>();
  const float s = static_cast<float>(scale), shift = static_cast<float>(offset), top = static_cast<float>(cells - 1);
  const int width = loops.load();
  std::atomic<bool> nan{false};
  at::parallel_for(0, x.numel(), kGrain, [&](int64_t begin, int64_t end) {
#if defined(QREPRO_X86)
    const bool found = width == 2 && cells <= kRegisterCells
                           ? apot_forward_range_avx512(xp, qp, vp, s, shift, top, begin, end)
                       : width >= 1 ? apot_forward_range_avx2(xp, qp, vp, s, shift, top, begin, end)
                                    : apot_forward_range(xp, qp, vp, s, shift, top, begin, end);
#else
    const bool found = apot_forward_range(xp, qp, vp, s, shift, top, begin, end);
#endif
    if (found) nan = true;
  });
  return nan.load();
}

// w_hat = (w - mean) / sd, element by element.
QREPRO_CLONES void standardize_range(const float* w, float mean, float sd, float* w_hat, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) w_hat[i] = (w[i] - mean) / sd;
}

// The sum of (w - mean)^2 in double over a range, in eight independent lanes (a vector loop).
QREPRO_CLONES double squared_deviations_range(const float* w, double mean, int64_t begin, int64_t end) {
  double lanes[8] = {0.0};
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    for (int lane = 0; lane < 8; ++lane) {
      const double deviation = static_cast<double>(w[i + lane]) - mean;
      lanes[lane] += deviation * deviation;
    }
  }
  double sum = 0.0;
  for (; i < end; ++i) sum += (static_cast<double>(w[i]) - mean) * (static_cast<double>(w[i]) - mean);
  for (const double lane : lanes) sum += lane;
  return sum;
}

float rounded_std(double sum, int64_t n) { return static_cast<float>(std::sqrt(sum / static_cast<double>(n - 1))); }

// torch.std(w) (unbiased) of a float32 CPU tensor whose float32 mean is `mean`. Torch sums the squared deviations from
// that mean in double, one after another (a chain of dependent additions: 38 us on 36,864 values), divides by n - 1,
// takes the square root and rounds it to float32. Any other order of the same sum differs from torch's by less than
// 2 n u of it (u = 2^-53), far below a float32 step, and every later step is monotone: where the whole interval
// sum (1 +- 4 (n + 8) u) rounds to one float32, that float32 is torch's result. This sums in eight lanes and returns
// it; where the interval straddles a rounding boundary (or a value is not finite, or n < 2), it calls torch.std.
float std_of(const at::Tensor& w, float mean) {
  const int64_t n = w.numel();
  const float* wp = w.const_data_ptr<float>();
  const double sum = at::parallel_reduce(0, n, kGrain, 0.0, [&](int64_t begin, int64_t end, double partial) {
    return partial + squared_deviations_range(wp, mean, begin, end);
  }, std::plus<double>());
  const double margin = 4.0 * static_cast<double>(n + 8) * std::ldexp(1.0, -53) * sum;
  const float low = rounded_std(sum - margin, n), high = rounded_std(sum + margin, n);
  return n >= 2 && low == high ? rounded_std(sum, n) : w.std().item<float>();
}

// residual = q - w_hat 1[|w_hat| <= alpha]; dL/dw = g / sd (straight through w_hat = (w - mean) / sd).
QREPRO_CLONES void apot_weight_backward_range(const float* g, const float* w_hat, const float* q, float alpha,
                                              float sd, float* grad_w, float* residual, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float inside = std::fabs(w_hat[i]) <= alpha ? 1.f : 0.f;
    residual[i] = q[i] + (-1.f * w_hat[i]) * inside;  // torch.addcmul(q, w_hat, inside, value=-1)
    grad_w[i] = g[i] / sd;
  }
}

// sum(u * v) as apot._sum_of_products computes it for two tensors of one dense layout: torch.dot in memory order.
at::Tensor sum_of_products(const at::Tensor& u, const at::Tensor& v) {
  if (u.is_contiguous()) return at::dot(u.reshape(-1), v.reshape(-1));
  return at::dot(u.permute({0, 2, 3, 1}).reshape(-1), v.permute({0, 2, 3, 1}).reshape(-1));  // channels-last
}

// q = values[trunc(clamp(x * scale, 0, cells - 1))]; also whether any x * scale was NaN.
std::tuple<at::Tensor, bool> apot_activation_forward(const at::Tensor& x, double scale, const at::Tensor& values,
                                                     int64_t cells) {
  at::Tensor q = at::empty_like(x);
  const bool nan = apot_lookup(x, scale, 0.0, values.const_data_ptr<float>(), cells, q);
  return {q, nan};
}

// APoT weights (apot.py APoTWeight): w_hat = (w - mean W) / std W, then the lookup on the grid (offset, cells) scaled
// by alpha: scale = resolution / alpha as Python computes it (alpha.reciprocal() * resolution), values = table * alpha.
// Returns q, w_hat, std W and whether any cell was NaN (the caller raises).
std::tuple<at::Tensor, at::Tensor, at::Tensor, bool> apot_weight_forward(const at::Tensor& w, const at::Tensor& alpha,
                                                                        const at::Tensor& table, int64_t resolution,
                                                                        double offset, int64_t cells) {
  const float mean = w.mean().item<float>(), sd_ = std_of(w, mean);
  const at::Tensor sd = at::scalar_tensor(sd_, w.options());
  at::Tensor w_hat = at::empty_like(w), q = at::empty_like(w);
  const float* wp = w.const_data_ptr<float>();
  float* hp = w_hat.data_ptr<float>();
  at::parallel_for(0, w.numel(), kGrain, [&](int64_t begin, int64_t end) {
    standardize_range(wp, mean, sd_, hp, begin, end);
  });
  // resolution / alpha and table * alpha, as float32 products as torch computes them (its resolution / alpha is
  // alpha.reciprocal() * resolution)
  const float a = alpha.item<float>(), scale = (1.f / a) * static_cast<float>(resolution);
  const at::Tensor levels = table.contiguous();
  std::vector<float> values(levels.const_data_ptr<float>(), levels.const_data_ptr<float>() + levels.numel());
  for (float& level : values) level = level * a;
  const bool nan = apot_lookup(w_hat, scale, offset, values.data(), cells, q);
  return {q, w_hat, sd, nan};
}

// APoT weights, backward: (dL/dw, dL/dalpha) = (g / std W, sum(g (q - w_hat 1[|w_hat| <= alpha])) / alpha).
std::tuple<at::Tensor, at::Tensor> apot_weight_backward(const at::Tensor& g, const at::Tensor& w_hat,
                                                        const at::Tensor& q, const at::Tensor& alpha,
                                                        const at::Tensor& sd) {
  const float a = alpha.item<float>(), sd_ = sd.item<float>();
  at::Tensor grad_w = at::empty_like(g), residual = at::empty_like(g);
  const float *gp = g.const_data_ptr<float>(), *hp = w_hat.const_data_ptr<float>(), *qp = q.const_data_ptr<float>();
  float *dp = grad_w.data_ptr<float>(), *rp = residual.data_ptr<float>();
  at::parallel_for(0, g.numel(), kGrain, [&](int64_t begin, int64_t end) {
    apot_weight_backward_range(gp, hp, qp, a, sd_, dp, rp, begin, end);
  });
  const float products = sum_of_products(g, residual).item<float>();
  return {grad_w, at::scalar_tensor(products / a, alpha.options())};  // a float32 quotient, as .div(alpha)
}

// APoT weights' backward as apot.py's eager code computes it, for a gradient in another memory order than the
// weight: residual = addcmul(q, w_hat, 1[|w_hat| <= alpha], -1), then apot._sum_of_products (torch.dot where both
// share a dense layout, else the sum of the product) and g / std W.
std::tuple<at::Tensor, at::Tensor> apot_weight_backward_eager(const at::Tensor& g, const at::Tensor& w_hat,
                                                              const at::Tensor& q, const at::Tensor& alpha,
                                                              const at::Tensor& sd) {
  at::Tensor inside = at::empty_like(w_hat);
  at::le_out(inside, w_hat.abs(), alpha);
  const at::Tensor residual = at::addcmul(q, w_hat, inside, -1);
  const bool one_layout = (g.is_contiguous() && residual.is_contiguous()) ||
                          (g.dim() == 4 && g.is_contiguous(at::MemoryFormat::ChannelsLast) &&
                           residual.is_contiguous(at::MemoryFormat::ChannelsLast));
  const at::Tensor products = one_layout ? sum_of_products(g, residual) : (g * residual).sum();
  return {g / sd, products.div(alpha).reshape({})};
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// APoT weights: alpha Pi(clamp(w_hat / alpha, -1, 1)), dL/dW = g / std W, dL/dalpha as apot._RCF.
struct APoTWeightFunction : public torch::autograd::Function<APoTWeightFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& w, const at::Tensor& alpha,
                            const at::Tensor& table, int64_t resolution, double offset, int64_t cells,
                            const std::string& not_finite) {
    auto [q, w_hat, sd, nan] = apot_weight_forward(w, alpha, table, resolution, offset, cells);
    if (nan) {
      PyErr_SetString(PyExc_FloatingPointError, not_finite.c_str());
      throw pybind11::error_already_set();
    }
    ctx->save_for_backward({w_hat, alpha, q, sd});
    return q;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const variable_list saved = ctx->get_saved_variables();
    const auto [grad_w, grad_alpha] = grad[0].strides() == saved[0].strides()
                                          ? apot_weight_backward(grad[0], saved[0], saved[2], saved[1], saved[3])
                                          : apot_weight_backward_eager(grad[0], saved[0], saved[2], saved[1], saved[3]);
    return {grad_w, grad_alpha, {}, {}, {}, {}, {}};
  }
};

// APoT weights with their gradients; raises FloatingPointError(not_finite) where a weight or alpha is NaN.
at::Tensor apot_weight(const at::Tensor& w, const at::Tensor& alpha, const at::Tensor& table, int64_t resolution,
                       double offset, int64_t cells, const std::string& not_finite) {
  return APoTWeightFunction::apply(w, alpha, table, resolution, offset, cells, not_finite);
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

void register_weight_kernels(pybind11::module& m);  // weight_kernels.cpp

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  register_weight_kernels(m);
  m.def("use_loops", &use_loops);
  m.def("apot_activation_forward", &apot_activation_forward);
  m.def("apot_activation_backward", &apot_activation_backward);
  m.def("apot_weight", &apot_weight);
  m.def("dorefa_activation_forward", &dorefa_activation_forward);
  m.def("dorefa_activation_backward", &dorefa_activation_backward);
}
