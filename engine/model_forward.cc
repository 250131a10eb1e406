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

at::Tensor model_block(const ModelShape& s, const ParamSlab& p, const at::Tensor& hidden) {
  return family_forward(s.family).block(s, p, hidden);
}

at::Tensor model_logits(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden) {
  return family_forward(s.family).logits(s, r, hidden);
}

at::Tensor causal_lm_loss(const ModelShape& s, const ParamSlab& r, const at::Tensor& hidden,
                          const at::Tensor& input_ids) {
  const int64_t T = hidden.size(1);
  at::Tensor logits = model_logits(s, r, hidden.narrow(1, 0, T - 1));
  at::Tensor labels = input_ids.narrow(1, 1, T - 1).reshape({-1});
  if (logits.is_cuda()) {
    // One pass over the compute-format logits (engine/cross_entropy.cu): no fp32 copy, no log-softmax tensor.
    const at::Tensor rows = logits.reshape({-1, logits.size(-1)}).contiguous();
    const at::Tensor label_rows = labels.contiguous();
    at::Tensor loss = at::empty({rows.size(0)}, rows.options().dtype(at::kFloat));
    cross_entropy_rows_cuda(rows.data_ptr(), from_scalar_type(rows.scalar_type()), rows.size(0), rows.size(1),
                            rows.stride(0), label_rows.data_ptr<int64_t>(), loss.data_ptr<float>(),
                            current_cuda_stream());
    return loss.mean();
  }
  return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}), labels);
}

}  // namespace zo2
