// Forward over every block, streaming offloaded ones through the same upload op a step uses.
#include "engine/whole_forward.h"

#include <ATen/ATen.h>

#include "engine/model_forward.h"
#include "engine/step_state.h"

namespace zo2 {

at::Tensor model_hidden(OptModel& m, const at::Tensor& input_ids) {
  at::Tensor h = model_embed(m.shape, m.resident, input_ids);
  StepState st;  // the upload op's buffers (and, with a wire below the compute format, its decode)
  st.model = &m;
  for (int64_t l = 0; l < m.shape.layers; ++l) {
    if (!m.offloaded[size_t(l)]) {
      h = model_block(m.shape, m.blocks[size_t(l)], h);
      continue;
    }
    Op op;
    op.layer = l;
    op.name = "forward/h2d";
    for (OpKind kind : {OpKind::alloc, OpKind::upload}) {
      op.kind = kind;
      run_op(op, st);
    }
    h = model_block(m.shape, st.block(l), h);
    op.kind = OpKind::free;  // the caching allocator hands the buffer to the next block's upload
    run_op(op, st);
  }
  return h;
}

at::Tensor model_logits(OptModel& m, const at::Tensor& input_ids) {
  return model_logits(m.shape, m.resident, model_hidden(m, input_ids)).to(at::kFloat);
}

at::Tensor model_token_logprobs(OptModel& m, const at::Tensor& input_ids) {
  const at::Tensor h = model_hidden(m, input_ids);
  const at::Tensor nll = causal_lm_token_nll(m.shape, m.resident, h, input_ids);
  return at::cat({at::zeros({nll.size(0), 1}, nll.options()), nll.neg()}, 1);
}

}  // namespace zo2
