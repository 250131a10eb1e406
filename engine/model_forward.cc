// The forward registry (one entry per line of core/model_families.def) and the family-independent loss.
#include "engine/model_forward.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "engine/cross_entropy.h"
#include "engine/cuda_glue.h"

namespace zo2 {

#define ZO2_FAMILY(name) const FamilyForward& name##_family_forward();
#include "core/model_families.def"
#undef ZO2_FAMILY

const FamilyForward& family_forward(const std::string& family) {
  static const std::vector<std::pair<std::string, const FamilyForward*>> kForwards{
#define ZO2_FAMILY(name) {#name, &name##_family_forward()},
#include "core/model_families.def"
#undef ZO2_FAMILY
  };
  for (const auto& [name, forward] : kForwards)
    if (name == family) return *forward;
  throw std::invalid_argument(fmt::format("model family '{}' has no forward in the engine", family));
}

at::Tensor model_embed(const ModelShape& s, const ParamSlab& r, const at::Tensor& input_ids) {
  return family_forward(s.family).embed(s, r, input_ids);
}

at::Tensor model_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden, const ForwardOptions& o) {
  return family_forward(s.family).block(s, p, hidden, o);
}

at::Tensor model_logits(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden) {
  return family_forward(s.family).logits(s, r, hidden);
}

namespace {

// Per-row cross-entropy of [rows, vocab] logits against labels [rows], fp32. On the GPU one pass over the
// compute-format logits (engine/cross_entropy.cu): no fp32 copy, no log-softmax tensor.
at::Tensor cross_entropy_rows_cuda_aten(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor rows = logits.reshape({-1, logits.size(-1)}).contiguous();
  const at::Tensor label_rows = labels.contiguous();
  at::Tensor loss = at::empty({rows.size(0)}, rows.options().dtype(at::kFloat));
  cross_entropy_rows_cuda(rows.data_ptr(), from_scalar_type(rows.scalar_type()), rows.size(0), rows.size(1),
                          rows.stride(0), label_rows.data_ptr<int64_t>(), loss.data_ptr<float>(),
                          current_cuda_stream());
  return loss;
}

}  // namespace

at::Tensor causal_lm_loss(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden,
                          const at::Tensor& input_ids, const at::Tensor& loss_mask) {
  const int64_t T = hidden.size(1);
  at::Tensor logits = model_logits(s, r, hidden.narrow(1, 0, T - 1));
  at::Tensor labels = input_ids.narrow(1, 1, T - 1).reshape({-1});
  if (!loss_mask.defined()) {
    if (logits.is_cuda()) return cross_entropy_rows_cuda_aten(logits, labels).mean();
    return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}), labels);
  }
  const at::Tensor target = loss_mask.narrow(1, 1, T - 1).reshape({-1});
  if (logits.is_cuda()) {
    // The same kernel over every row; unmarked rows (valid ids, finite losses) are dropped from the mean.
    const at::Tensor rows = cross_entropy_rows_cuda_aten(logits, labels);
    return at::where(target, rows, at::zeros({}, rows.options())).sum() / target.sum().to(at::kFloat);
  }
  // HF's own computation: unmarked labels become -100, which cross_entropy ignores in its mean.
  const at::Tensor masked = at::where(target, labels, at::full({}, int64_t(-100), labels.options()));
  return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}), masked, {},
                                at::Reduction::Mean, /*ignore_index=*/-100);
}

at::Tensor causal_lm_token_nll(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden,
                               const at::Tensor& input_ids) {
  const int64_t B = hidden.size(0), T = hidden.size(1);
  at::Tensor logits = model_logits(s, r, hidden.narrow(1, 0, T - 1));
  at::Tensor labels = input_ids.narrow(1, 1, T - 1).reshape({-1});
  at::Tensor rows = logits.is_cuda()
                        ? cross_entropy_rows_cuda_aten(logits, labels)
                        : at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}), labels, {},
                                                 at::Reduction::None);
  return rows.view({B, T - 1});
}

}  // namespace zo2
