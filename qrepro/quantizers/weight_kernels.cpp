// Fused CPU kernels for the weight quantizers but APoT's (that one is in cpu_kernels.cpp; see cpu_kernels.py).
//
// A weight tensor is small (ResNet-20's largest has 36,864 values), so eager PyTorch spends a weight quantizer's
// time in operator overhead and in the slow paths of boolean masks (a comparison, a product with a mask, a where:
// 15 to 30 microseconds each here, against 4 for a float product). Each function below is one quantizer's forward or
// backward: the statistics it needs (means, sums, the standard deviation, maxima) are ATen's own reductions, called
// on the same tensors as in the eager code, so they are the same values bit for bit; everything element-wise is one
// loop evaluating the eager code's float32 operations in its order (build flags: -ffp-contract=off; and
// -fno-trapping-math, which lets comparisons become vector selects and changes no value). The
// straight-through quantizers' outputs are q + (w - w), as ste.straight_through computes them.
// Weights arrive dense (contiguous, or channels-last 4-D) and equally strided: output filter n is then the block
// [n fan_in, (n + 1) fan_in) of memory in either layout, which is all the per-filter loops need.
// BWN, TWN and TTQ (and APoT's weights, in cpu_kernels.cpp) are C++ autograd functions (at the end of this file): a
// training step then runs no Python for them beyond the module's call, which on a tensor this small is a third of
// the cost. A gradient that reaches them in another memory order than the weight's takes the eager code's formula
// in ATen operators, whose sums then run in the gradient's order as eager PyTorch's do.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "cpu_kernels.h"

namespace {

using qrepro::kGrain;

float value(const at::Tensor& scalar) { return scalar.item<float>(); }

at::Tensor filters(const at::Tensor& w) { return w.reshape({w.size(0), -1}); }

// The values of a per-filter statistic (out x 1), one float per output filter.
std::vector<float> per_filter(const at::Tensor& statistic) {
  const at::Tensor flat = statistic.reshape(-1).contiguous();
  return std::vector<float>(flat.const_data_ptr<float>(), flat.const_data_ptr<float>() + flat.numel());
}

// body(first, last) over element ranges (rows == 1), or over whole rows of fan_in elements, in parallel.
template <typename Body>
void over_rows(int64_t rows, int64_t fan_in, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, kGrain / fan_in);
  at::parallel_for(0, rows, grain, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) body(row, row * fan_in, (row + 1) * fan_in);
  });
}

template <typename Body>
void over_elements(int64_t n, const Body& body) {
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) { body(begin, end); });
}

QREPRO_CLONES void bwn_range(const float* w, float alpha, float* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) out[i] = (w[i] >= 0.f ? alpha : -alpha) + (w[i] - w[i]);
}

// |w|, and |w - mean| where wanted (as w.abs() and (w - mean).abs() compute them).
QREPRO_CLONES void magnitudes_range(const float* w, float mean, bool deviations, float* magnitude, float* deviation,
                                    int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) magnitude[i] = std::fabs(w[i]);
  for (int64_t i = begin; deviations && i < end; ++i) deviation[i] = std::fabs(w[i] - mean);
}

// |w| 1[|w| > delta] (the product, as w.abs() * kept computes it); returns the count kept.
QREPRO_CLONES int64_t twn_kept_range(const float* magnitude, float delta, float* kept, int64_t begin, int64_t end) {
  int32_t count = 0;  // as wide as a float, so that the loop vectorizes (a range is far below 2^31 elements)
  for (int64_t i = begin; i < end; ++i) {
    kept[i] = magnitude[i] * (magnitude[i] > delta ? 1.f : 0.f);  // a float select: a bool's conversion does not
    count += magnitude[i] > delta ? 1 : 0;                        // vectorize
  }
  return count;
}

// The largest bit pattern of |w| over a range (the sign bit cleared). For floats >= 0 the order of the bit patterns
// is the order of the values, so this integer maximum, exact in any order, is max|w|; a NaN's pattern is above every
// number's, so a NaN anywhere comes out as a NaN, as from torch.max.
QREPRO_CLONES uint32_t max_magnitude_bits_range(const float* w, int64_t begin, int64_t end) {
  uint32_t top = 0;
  for (int64_t i = begin; i < end; ++i) {
    uint32_t bits;
    std::memcpy(&bits, w + i, sizeof bits);
    bits &= 0x7fffffffu;
    top = bits > top ? bits : top;
  }
  return top;
}

QREPRO_CLONES void twn_range(const float* w, const float* magnitude, float delta, float alpha, float* out,
                             int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float q = magnitude[i] > delta ? alpha * (w[i] > 0.f ? 1.f : -1.f) : 0.f;  // where(kept, alpha sign(w), 0)
    out[i] = q + (w[i] - w[i]);
  }
}

QREPRO_CLONES void ttq_forward_range(const float* w, float delta, float positive_scale, float negative_scale,
                                     float* out, int64_t begin, int64_t end) {
  const float minus_delta = -delta, minus_negative = -negative_scale;
  for (int64_t i = begin; i < end; ++i) {
    const float p = static_cast<float>(w[i] > delta), n = static_cast<float>(w[i] < minus_delta);
    out[i] = p * positive_scale + n * minus_negative;  // (positive * W_p).addcmul_(negative, -W_n)
  }
}

QREPRO_CLONES void ttq_backward_range(const float* g, const float* w, float delta, float positive_scale,
                                      float negative_scale, float* grad_w, float* on_positive, float* on_negative,
                                      int64_t begin, int64_t end) {
  const float minus_delta = -delta;
  for (int64_t i = begin; i < end; ++i) {
    const float p = static_cast<float>(w[i] > delta), n = static_cast<float>(w[i] < minus_delta);
    float scale = 1.f - p;  // (1 - positive).sub_(negative).addcmul_(positive, W_p).addcmul_(negative, W_n)
    scale = scale - n;
    scale = scale + p * positive_scale;
    scale = scale + n * negative_scale;
    grad_w[i] = g[i] * scale;
    on_positive[i] = g[i] * p;
    on_negative[i] = g[i] * n;
  }
}

QREPRO_CLONES void uniform_forward_range(const float* w, float scale, float steps, float* out, int64_t begin,
                                         int64_t end) {
  for (int64_t i = begin; i < end; ++i) out[i] = std::nearbyint(w[i] / scale * steps) / steps * scale;
}

QREPRO_CLONES void uniform_backward_range(const float* g, float scale, float steps, float* grad_w, int64_t begin,
                                          int64_t end) {
  for (int64_t i = begin; i < end; ++i) grad_w[i] = g[i] * scale / steps * steps / scale;
}

// DoReFa weights at k bits: E (2 round((t / d + 1/2) steps) / steps - 1), d = 2 top; at 32 bits: (E t) / top.
QREPRO_CLONES void dorefa_weight_forward_range(const float* t, float scale, float top, float steps, bool full,
                                               float* out, int64_t begin, int64_t end) {
  const float twice_top = top * 2.f;
  for (int64_t i = begin; i < end; ++i) {
    out[i] = full ? (scale * t[i]) / top
                  : scale * ((std::nearbyint((t[i] / twice_top + 0.5f) * steps) / steps) * 2.f - 1.f);
  }
}

// The backward of one DoReFa weight as autograd differentiates it, up to the two sums over the tensor (see
// dorefa_weight_backward): through = the gradient reaching t by the division t / d, and away = the terms of
// dL/dd (-grad * ((x / d) / d), autograd's formula, with x = t or E t).
QREPRO_CLONES void dorefa_weight_backward_range(const float* g, const float* t, float scale, float top, float steps,
                                                bool full, float* through, float* away, int64_t begin, int64_t end) {
  const float twice_top = top * 2.f;
  for (int64_t i = begin; i < end; ++i) {
    if (full) {
      through[i] = (g[i] / top) * scale;
      away[i] = -g[i] * (((scale * t[i]) / top) / top);
    } else {
      const float grad_x = (((g[i] * scale) * 2.f) / steps) * steps;  // through E *, 2 *, / steps, round, * steps
      through[i] = grad_x / twice_top;
      away[i] = -grad_x * ((t[i] / twice_top) / twice_top);
    }
  }
}

// dL/dt = through + 1[|t| = max|t|] (dL/dmax / ties) sgn t: the max's gradient shared by its ties, the abs, and
// the sum of t's two gradients.
QREPRO_CLONES void dorefa_weight_grad_t_range(const float* t, const float* through, float top_abs, bool nan_top,
                                              float per_tie, float* grad_t, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float magnitude = std::fabs(t[i]);
    const bool tie = nan_top ? magnitude != magnitude : magnitude == top_abs;
    const float sign = static_cast<float>(t[i] > 0.f) - static_cast<float>(t[i] < 0.f);
    grad_t[i] = through[i] + (tie ? per_tie : 0.f) * sign;
  }
}

// chosen as bytes (a bool is one byte, 0 or 1) and both inputs read: the loop is then a vector select
QREPRO_CLONES void select_range(const uint8_t* chosen, const float* a, const float* b, float* out, int64_t begin,
                                int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float x = a[i], y = b[i];
    out[i] = chosen[i] != 0 ? x : y;
  }
}

QREPRO_CLONES void select_backward_range(const uint8_t* chosen, const float* g, float* grad_a, float* grad_b,
                                         int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float x = g[i];
    if (grad_a != nullptr) grad_a[i] = chosen[i] != 0 ? x : 0.f;
    grad_b[i] = chosen[i] != 0 ? 0.f : x;
  }
}

}  // namespace

// BWN (binary.py): alpha_n sign(w) per output filter, sign(0) = +1, alpha_n = mean|W_n|.
at::Tensor bwn_forward(const at::Tensor& w) {
  const std::vector<float> alpha = per_filter(filters(w).abs().mean(1, true));
  at::Tensor out = at::empty_like(w);
  const float* wp = w.const_data_ptr<float>();
  float* op = out.data_ptr<float>();
  over_rows(w.size(0), w.numel() / w.size(0),
            [&](int64_t row, int64_t begin, int64_t end) { bwn_range(wp, alpha[row], op, begin, end); });
  return out;
}

// TWN (ternary.py): alpha sign(w) 1[|w| > Delta] with Delta = factor mean|W| and one alpha ("paper"), or
// Delta = factor mean|W - mean W| and one alpha per output filter ("official"); alpha = sum of the kept |w| over
// their count (at least 1), a float32 division as sum / count.clamp_min(1).
at::Tensor twn_forward(const at::Tensor& w, bool per_filter_scale, double delta_factor) {
  at::Tensor magnitude = at::empty_like(w), deviation = per_filter_scale ? at::empty_like(w) : magnitude;
  const float* wp = w.const_data_ptr<float>();
  const float mean = per_filter_scale ? value(w.mean()) : 0.f;
  float *mp = magnitude.data_ptr<float>(), *dp = deviation.data_ptr<float>();
  over_elements(w.numel(), [&](int64_t begin, int64_t end) {
    magnitudes_range(wp, mean, per_filter_scale, mp, dp, begin, end);
  });
  const float delta = value(deviation.mean().mul(delta_factor));  // the mean of |W - mean W|, or of |W|
  at::Tensor kept = at::empty_like(magnitude);
  const int64_t rows = per_filter_scale ? w.size(0) : 1, fan_in = w.numel() / rows;
  float* kp = kept.data_ptr<float>();
  std::vector<int64_t> count(rows, 0);
  if (per_filter_scale) {
    over_rows(rows, fan_in, [&](int64_t row, int64_t begin, int64_t end) {
      count[row] = twn_kept_range(mp, delta, kp, begin, end);
    });
  } else {
    count[0] = at::parallel_reduce(0, w.numel(), kGrain, int64_t{0}, [&](int64_t begin, int64_t end, int64_t sum) {
      return sum + twn_kept_range(mp, delta, kp, begin, end);
    }, std::plus<int64_t>());
  }
  const std::vector<float> sums = per_filter(per_filter_scale ? filters(kept).sum(1, true) : kept.sum().reshape(1));
  std::vector<float> alpha(rows);
  for (int64_t row = 0; row < rows; ++row) {
    alpha[row] = sums[row] / static_cast<float>(std::max<int64_t>(count[row], 1));
  }
  at::Tensor out = at::empty_like(w);
  float* op = out.data_ptr<float>();
  if (per_filter_scale) {
    over_rows(rows, fan_in, [&](int64_t row, int64_t begin, int64_t end) {
      twn_range(wp, mp, delta, alpha[row], op, begin, end);
    });
  } else {
    over_elements(w.numel(), [&](int64_t begin, int64_t end) { twn_range(wp, mp, delta, alpha[0], op, begin, end); });
  }
  return out;
}

// max|w| (see max_magnitude_bits_range).
float max_magnitude(const at::Tensor& w) {
  const float* wp = w.const_data_ptr<float>();
  const uint32_t bits = at::parallel_reduce(0, w.numel(), kGrain, uint32_t{0},
      [&](int64_t begin, int64_t end, uint32_t top) { return std::max(top, max_magnitude_bits_range(wp, begin, end)); },
      [](uint32_t a, uint32_t b) { return std::max(a, b); });
  float top;
  std::memcpy(&top, &bits, sizeof top);
  return top;
}

// TTQ (ternary.py), forward: w^t = p W_p + n (-W_n), p = 1[w > Delta], n = 1[w < -Delta], Delta = t max|W| (a float32
// product, as torch multiplies a float32 tensor by a Python number). Returns w^t and Delta.
std::tuple<at::Tensor, at::Tensor> ttq_forward(const at::Tensor& w, const at::Tensor& positive_scale,
                                               const at::Tensor& negative_scale, double threshold) {
  const float d = max_magnitude(w) * static_cast<float>(threshold);
  const float wp_ = value(positive_scale), wn_ = value(negative_scale);
  at::Tensor out = at::empty_like(w);
  const float* wp = w.const_data_ptr<float>();
  float* op = out.data_ptr<float>();
  over_elements(w.numel(), [&](int64_t begin, int64_t end) { ttq_forward_range(wp, d, wp_, wn_, op, begin, end); });
  return {out, at::scalar_tensor(d, w.options())};
}

// TTQ, backward: dL/dw = g (((1 - p) - n) + p W_p + n W_n), dL/dW_p = sum g p, dL/dW_n = sign * sum g n.
std::tuple<at::Tensor, at::Tensor, at::Tensor> ttq_backward(const at::Tensor& g, const at::Tensor& w,
                                                            const at::Tensor& positive_scale,
                                                            const at::Tensor& negative_scale,
                                                            const at::Tensor& delta, double wn_sign) {
  const float d = value(delta), wp_ = value(positive_scale), wn_ = value(negative_scale);
  at::Tensor grad_w = at::empty_like(w), on_positive = at::empty_like(w), on_negative = at::empty_like(w);
  const float *gp = g.const_data_ptr<float>(), *wp = w.const_data_ptr<float>();
  float *dp = grad_w.data_ptr<float>(), *pp = on_positive.data_ptr<float>(), *np = on_negative.data_ptr<float>();
  over_elements(w.numel(), [&](int64_t begin, int64_t end) {
    ttq_backward_range(gp, wp, d, wp_, wn_, dp, pp, np, begin, end);
  });
  return {grad_w, on_positive.sum().reshape(positive_scale.sizes()),
          on_negative.sum().mul(wn_sign).reshape(negative_scale.sizes())};
}

// Symmetric uniform (uniform.py), forward: round(w / s * steps) / steps * s, s = max(max|w|, tiny); returns s too.
std::tuple<at::Tensor, at::Tensor> uniform_forward(const at::Tensor& w, int64_t steps) {
  const at::Tensor scale = w.abs().max().clamp_min(std::numeric_limits<float>::min());
  const float s = value(scale), k = static_cast<float>(steps);
  at::Tensor out = at::empty_like(w);
  const float* wp = w.const_data_ptr<float>();
  float* op = out.data_ptr<float>();
  over_elements(w.numel(), [&](int64_t begin, int64_t end) { uniform_forward_range(wp, s, k, op, begin, end); });
  return {out, scale};
}

// Symmetric uniform, backward (the rounding straight through): dL/dw = g s / steps * steps / s, in that order.
at::Tensor uniform_backward(const at::Tensor& g, const at::Tensor& scale, int64_t steps) {
  const float s = value(scale), k = static_cast<float>(steps);
  at::Tensor grad_w = at::empty_like(g);
  const float* gp = g.const_data_ptr<float>();
  float* dp = grad_w.data_ptr<float>();
  over_elements(g.numel(), [&](int64_t begin, int64_t end) { uniform_backward_range(gp, s, k, dp, begin, end); });
  return grad_w;
}

// DoReFa weights (dorefa.py dorefa_weight), forward: t = tanh W, max|t|, E = mean|W| (torch's own tanh and mean),
// then one pass. Returns the weights, t, E and max|t| (the backward's inputs).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> dorefa_weight_forward(const at::Tensor& w, int64_t steps,
                                                                                 bool full) {
  const at::Tensor scale = w.abs().mean(), t = w.tanh(), top_abs = t.abs().max();
  const float top = std::max(value(top_abs), std::numeric_limits<float>::min());  // clamp_min(tiny)
  at::Tensor out = at::empty_like(w);
  const float* tp = t.const_data_ptr<float>();
  float* op = out.data_ptr<float>();
  const float e = value(scale), k = static_cast<float>(steps);
  over_elements(w.numel(), [&](int64_t begin, int64_t end) {
    dorefa_weight_forward_range(tp, e, top, k, full, op, begin, end);
  });
  return {out, t, scale, top_abs};
}

// DoReFa weights, backward, as autograd differentiates the eager formula: dL/dtop = sum(away) (times 2 at k bits,
// d = 2 top), kept where max|t| > tiny (clamp_min's gradient), shared evenly among the elements with |t| = max|t|.
at::Tensor dorefa_weight_backward(const at::Tensor& g, const at::Tensor& t, const at::Tensor& scale,
                                  const at::Tensor& top_abs, int64_t steps, bool full) {
  const float top_ = value(top_abs), tiny = std::numeric_limits<float>::min(), top = std::max(top_, tiny);
  const bool nan_top = top_ != top_;
  at::Tensor through = at::empty_like(g), away = at::empty_like(g);
  const float *gp = g.const_data_ptr<float>(), *tp = t.const_data_ptr<float>();
  float *hp = through.data_ptr<float>(), *ap = away.data_ptr<float>();
  const float e = value(scale), k = static_cast<float>(steps);
  over_elements(g.numel(), [&](int64_t begin, int64_t end) {
    dorefa_weight_backward_range(gp, tp, e, top, k, full, hp, ap, begin, end);
  });
  float grad_top = value(away.sum());
  if (!full) grad_top = grad_top * 2.f;
  const float grad_max = top_ > tiny ? grad_top : 0.f;
  const at::Tensor magnitude = t.abs();
  const int64_t ties = (nan_top ? magnitude.isnan() : magnitude.eq(top_abs)).sum().item<int64_t>();
  const float per_tie = grad_max / static_cast<float>(ties);
  over_elements(g.numel(), [&](int64_t begin, int64_t end) {  // dL/dt, over the buffer of dL/dt's first part
    dorefa_weight_grad_t_range(tp, hp, top_, nan_top, per_tie, hp, begin, end);
  });
  return at::tanh_backward(through, t);  // torch's own (its vector loop may fuse 1 - t t into one rounding)
}

// where(chosen, a, b), chosen one boolean per unit of unit_size consecutive elements (an output filter; or 1, the
// mask in b's memory order): INQ/ELQ's frozen weights, SQ's quantized units (select.py).
at::Tensor select_units(const at::Tensor& chosen, int64_t unit_size, const at::Tensor& a, const at::Tensor& b) {
  const uint8_t* cp = reinterpret_cast<const uint8_t*>(chosen.const_data_ptr<bool>());
  const float *ap = a.const_data_ptr<float>(), *bp = b.const_data_ptr<float>();
  at::Tensor out = at::empty_like(b);
  float* op = out.data_ptr<float>();
  if (unit_size == 1) {
    over_elements(b.numel(), [&](int64_t begin, int64_t end) { select_range(cp, ap, bp, op, begin, end); });
  } else {
    over_rows(b.numel() / unit_size, unit_size, [&](int64_t unit, int64_t begin, int64_t end) {
      const float* from = cp[unit] ? ap : bp;
      std::copy(from + begin, from + end, op + begin);
    });
  }
  return out;
}

// The gradients of where(chosen, a, b): where(chosen, g, 0) (undefined unless want_a) and where(chosen, 0, g).
std::tuple<at::Tensor, at::Tensor> select_units_backward(const at::Tensor& chosen, int64_t unit_size,
                                                         const at::Tensor& g, bool want_a) {
  const uint8_t* cp = reinterpret_cast<const uint8_t*>(chosen.const_data_ptr<bool>());
  const float* gp = g.const_data_ptr<float>();
  at::Tensor grad_a = want_a ? at::empty_like(g) : at::Tensor(), grad_b = at::empty_like(g);
  float *ap = want_a ? grad_a.data_ptr<float>() : nullptr, *bp = grad_b.data_ptr<float>();
  if (unit_size == 1) {
    over_elements(g.numel(), [&](int64_t begin, int64_t end) { select_backward_range(cp, gp, ap, bp, begin, end); });
  } else {
    over_rows(g.numel() / unit_size, unit_size, [&](int64_t unit, int64_t begin, int64_t end) {
      float* to = cp[unit] ? ap : bp;  // the gradient goes to one input, the other gets zeros
      float* zero = cp[unit] ? bp : ap;
      if (to != nullptr) std::copy(gp + begin, gp + end, to + begin);
      if (zero != nullptr) std::fill(zero + begin, zero + end, 0.f);
    });
  }
  return {grad_a, grad_b};
}

// --- autograd: each quantizer is one C++ autograd function, so that a step costs no Python beyond the module call ---

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// BWN with the straight-through gradient: dL/dW = dL/dQ.
struct BWNFunction : public torch::autograd::Function<BWNFunction> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& w) { return bwn_forward(w); }
  static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0]}; }
};

// TWN with the straight-through gradient.
struct TWNFunction : public torch::autograd::Function<TWNFunction> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& w, bool per_filter_scale, double delta_factor) {
    return twn_forward(w, per_filter_scale, delta_factor);
  }
  static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0], {}, {}}; }
};

// TTQ's backward as ternary.py's eager code computes it, for a gradient in another memory order than the weight
// (where the sums' order follows the gradient's): float masks p and n, g (((1 - p) - n) + p W_p + n W_n), and the sums.
std::tuple<at::Tensor, at::Tensor, at::Tensor> ttq_backward_eager(const at::Tensor& g, const at::Tensor& w,
                                                                  const at::Tensor& positive_scale,
                                                                  const at::Tensor& negative_scale,
                                                                  const at::Tensor& delta, double wn_sign) {
  at::Tensor positive = at::empty_like(w), negative = at::empty_like(w);
  at::gt_out(positive, w, delta);
  at::lt_out(negative, w, delta.neg());
  const at::Tensor scale = at::rsub(positive, 1).sub_(negative).addcmul_(positive, positive_scale)
                               .addcmul_(negative, negative_scale);
  return {g * scale, (g * positive).sum().reshape(positive_scale.sizes()),
          (g * negative).sum().mul(wn_sign).reshape(negative_scale.sizes())};
}

// TTQ: w^t and its gradients for w, W_p and W_n (ternary.py).
struct TTQFunction : public torch::autograd::Function<TTQFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& w, const at::Tensor& positive_scale,
                            const at::Tensor& negative_scale, double threshold, double wn_sign) {
    auto [out, delta] = ttq_forward(w, positive_scale, negative_scale, threshold);
    ctx->save_for_backward({w, positive_scale, negative_scale, delta});
    ctx->saved_data["wn_sign"] = wn_sign;
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const variable_list saved = ctx->get_saved_variables();
    const double wn_sign = ctx->saved_data["wn_sign"].toDouble();
    const auto [grad_w, grad_positive, grad_negative] =
        grad[0].strides() == saved[0].strides()
            ? ttq_backward(grad[0], saved[0], saved[1], saved[2], saved[3], wn_sign)
            : ttq_backward_eager(grad[0], saved[0], saved[1], saved[2], saved[3], wn_sign);
    return {grad_w, grad_positive, grad_negative, {}, {}};
  }
};

at::Tensor bwn(const at::Tensor& w) { return BWNFunction::apply(w); }

at::Tensor twn(const at::Tensor& w, bool per_filter_scale, double delta_factor) {
  return TWNFunction::apply(w, per_filter_scale, delta_factor);
}

at::Tensor ttq(const at::Tensor& w, const at::Tensor& positive_scale, const at::Tensor& negative_scale,
               double threshold, double wn_sign) {
  return TTQFunction::apply(w, positive_scale, negative_scale, threshold, wn_sign);
}

void register_weight_kernels(pybind11::module& m) {
  m.def("bwn", &bwn);
  m.def("twn", &twn);
  m.def("ttq", &ttq);
  m.def("uniform_forward", &uniform_forward);
  m.def("uniform_backward", &uniform_backward);
  m.def("dorefa_weight_forward", &dorefa_weight_forward);
  m.def("dorefa_weight_backward", &dorefa_weight_backward);
  m.def("select_units", &select_units);
  m.def("select_units_backward", &select_units_backward);
}
