// The one-pass cross-entropy kernel against ATen's upcast + cross_entropy_loss (HuggingFace's arithmetic), on fresh
// random logits and labels: every dtype, vocab sizes with and without whole 16-byte vectors, strided rows, and the
// OPT loss end to end on the GPU against the same loss computed on the CPU.
#include "catch_aten.h"

#include <ATen/ATen.h>

#include "engine/cross_entropy.h"
#include "engine/cuda_glue.h"
#include "engine/model_forward.h"
#include "engine/opt_model.h"
#include "test_util.h"

using namespace zo2;

namespace {

// Per-row losses in double from fp32-upcast logits: the reference the kernel must match.
at::Tensor reference_rows(const at::Tensor& logits, const at::Tensor& labels) {
  return at::cross_entropy_loss(logits.to(at::kDouble).cpu(), labels.cpu(), {}, at::Reduction::None);
}

}  // namespace

TEST_CASE("the cross-entropy kernel matches upcast + cross_entropy_loss row by row") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  std::mt19937_64 rng(test::fresh_seed());
  const std::pair<at::ScalarType, double> cases[] = {{at::kFloat, 1e-5}, {at::kHalf, 1e-5}, {at::kBFloat16, 1e-5}};
  for (const auto& [type, tol] : cases) {
    for (int trial = 0; trial < 4; ++trial) {
      // A vocab that is a multiple of 8 takes the vector path, any other the scalar one; a padded row stride too.
      const int64_t rows = 1 + int64_t(rng() % 300), vocab = trial % 2 ? 50272 : 1 + int64_t(rng() % 5000);
      const int64_t stride = vocab + (trial >= 2 ? int64_t(rng() % 16) : 0);
      at::manual_seed(rng());
      // Logits up to about +-30: exp overflows fp32 without the running max, so this checks it is kept.
      at::Tensor storage = (at::randn({rows, stride}, at::kFloat) * 10.0).to(type).cuda();
      at::Tensor logits = storage.narrow(1, 0, vocab);
      at::Tensor labels = at::randint(vocab, {rows}, at::TensorOptions().dtype(at::kLong)).cuda();
      at::Tensor loss = at::empty({rows}, storage.options().dtype(at::kFloat));
      cross_entropy_rows_cuda(storage.data_ptr(), from_scalar_type(type), rows, vocab, stride,
                              labels.data_ptr<int64_t>(), loss.data_ptr<float>(), current_cuda_stream());
      const at::Tensor ref = reference_rows(logits, labels);
      INFO("dtype " << c10::toString(type) << " rows " << rows << " vocab " << vocab << " stride " << stride);
      CHECK(test::rel_error(loss, ref) < tol);
      CHECK((loss.cpu().to(at::kDouble) - ref).abs().max().item<double>() < 1e-4);
    }
  }
}

TEST_CASE("a label outside the vocabulary gives NaN for its row only") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  at::Tensor logits = at::randn({3, 64}, at::kFloat).cuda();
  at::Tensor labels = at::tensor(std::vector<int64_t>{5, 64, -1}).cuda();
  at::Tensor loss = at::empty({3}, logits.options());
  cross_entropy_rows_cuda(logits.data_ptr(), DType::f32, 3, 64, 64, labels.data_ptr<int64_t>(), loss.data_ptr<float>(),
                          current_cuda_stream());
  const at::Tensor l = loss.cpu();
  CHECK(std::isfinite(l[0].item<float>()));
  CHECK(std::isnan(l[1].item<float>()));
  CHECK(std::isnan(l[2].item<float>()));
}

TEST_CASE("the OPT loss on the GPU (one-pass kernel) equals the CPU loss (ATen) on the same fp32 model") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  std::mt19937_64 rng(test::fresh_seed());
  for (int trial = 0; trial < 3; ++trial) {
    const ModelShape shape = test::random_small_shape(rng);
    OptModel cpu = OptModel::allocate(shape, DType::f32, at::kCPU);
    cpu.init_random(rng());
    OptModel gpu = OptModel::allocate(shape, DType::f32, at::kCUDA);
    gpu.resident.flat.copy_(cpu.resident.flat);
    const int64_t B = 1 + rng() % 3, T = 2 + rng() % 30;
    at::manual_seed(rng());
    at::Tensor ids = at::randint(shape.vocab_size, {B, T}, at::TensorOptions().dtype(at::kLong));
    // Hidden states from the CPU, so only the head and the loss differ between the two.
    at::Tensor hidden = at::randn({B, T, shape.hidden}, at::kFloat);
    const double want = causal_lm_loss(shape, cpu.resident, hidden, ids).item<double>();
    const double got = causal_lm_loss(shape, gpu.resident, hidden.cuda(), ids.cuda()).item<double>();
    INFO("B " << B << " T " << T << " vocab " << shape.vocab_size << " hidden " << shape.hidden);
    CHECK(std::abs(got - want) <= 1e-5 * std::abs(want));
  }
}
