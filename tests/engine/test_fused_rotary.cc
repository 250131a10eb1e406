// The rotary families' fused CUDA path (--fused-kernels, engine/rotary_fused.h): each kernel against ATen written as
// transformers writes it, on odd sizes; the fused block against the HF block (LLaMA, Qwen3's q/k norms, Mistral, GQA);
// and on the CPU, where the knob must change nothing, bitwise equality. GPU cases skip without a GPU.
// Tolerances (normwise relative error): fp32 1e-5 against the HF path; fp16/bf16 1e-2 against an fp32 reference
// computed from the same (rounded) weights, the HF half path's own distance from it printed beside.
#include "catch_aten.h"

#include <ATen/ATen.h>

#include <random>
#include <string>
#include <vector>

#include "core/slab_layout.h"
#include "engine/cuda_glue.h"
#include "engine/executor.h"
#include "engine/llama_forward.h"
#include "engine/model_forward.h"
#include "engine/opt_model.h"
#include "engine/rotary_fused.h"
#include "engine/rotary_kernels.h"
#include "engine/zo_engine.h"
#include "test_util.h"

using namespace zo2;

namespace {

const std::vector<std::string> kRotaryFamilies{"llama", "qwen3", "mistral"};

struct Case {
  DType dtype;
  c10::ScalarType type;
  double tolerance;  // against the reference of each test below
};
const std::vector<Case> kDtypes{{DType::f32, at::kFloat, 1e-5}, {DType::f16, at::kHalf, 1e-2},
                                {DType::bf16, at::kBFloat16, 1e-2}};

at::TensorOptions cuda_options(c10::ScalarType t) { return at::TensorOptions().dtype(t).device(at::kCUDA); }

// transformers' LlamaRMSNorm in ATen (the HF path's rms_norm, written again: the test's own reference).
at::Tensor hf_rms_norm(const at::Tensor& w, const at::Tensor& x, double eps) {
  at::Tensor h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, true) + eps);
  return w * h.to(x.scalar_type());
}

at::Tensor hf_rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rot = at::cat({at::neg(x.narrow(-1, half, half)), x.narrow(-1, 0, half)}, -1);
  return x * cos + rot * sin;
}

// A block of `shape` on the GPU (or `device`) in `dtype`: matrices normal(0, 0.02) (as HF initialises), norms near 1.
ParamSlab random_block(const ModelShape& shape, DType dtype, c10::Device device) {
  ParamSlab p = ParamSlab::allocate(block_layout(shape, 0, dtype), device);
  for (size_t i = 0; i < p.views.size(); ++i) {
    at::Tensor& v = p.views[i];
    if (p.layout.entries[i].init == TensorInit::ones) v.copy_(1.0 + 0.1 * at::randn(v.sizes(), at::kFloat));
    else v.copy_(0.02 * at::randn(v.sizes(), at::kFloat));  // biases too: non-zero so they count
  }
  return p;
}

// The same weights in another dtype (layouts differ in padding, so view by view).
ParamSlab convert(const ModelShape& shape, const ParamSlab& src, DType dtype) {
  ParamSlab p = ParamSlab::allocate(block_layout(shape, 0, dtype), src.flat.device());
  for (size_t i = 0; i < p.views.size(); ++i) p.views[i].copy_(src.views[i]);
  return p;
}

// A random small shape of a rotary family; half of them with hidden 128, where every weight's rows fill whole
// 256-byte lines, so q|k|v and gate|up sit back to back and the joint GEMMs run.
ModelShape rotary_shape(std::mt19937_64& rng, const std::string& family, bool aligned) {
  ModelShape s = test::random_small_shape(rng, family);
  if (aligned) {
    s.kv_heads = 1 + rng() % 2;
    s.heads = s.kv_heads << (rng() % 3);  // GQA two times in three; heads divide 128
    s.hidden = s.word_embed_proj_dim = 128;
    s.head_size = (family != "llama" && rng() % 2) ? 2 * (1 + rng() % 40) : 0;  // head_dim free of hidden / heads
    s.ffn = 64 * (1 + rng() % 3);
    s.attention_bias = false;
    s.validate("rotary_shape");
  }
  return s;
}

}  // namespace

TEST_CASE("the fused RMSNorm kernel equals transformers' RMSNorm in ATen on odd sizes (GPU)", "[fused][gpu]") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  // Odd lengths (scalar path), multiples of the 16-byte vector (vector path), and a row longer than the kernel keeps
  // in registers (256 threads x 4 vectors).
  const std::vector<int64_t> cols{1, 3, 7, 33, 127, 200, 8 * 256 * 4 + 8, 4096 + 3, int64_t(1 + rng() % 5000)};
  for (const Case& c : kDtypes)
    for (int64_t n : cols) {
      const int64_t rows = 1 + int64_t(rng() % 37), pad = (rng() % 2) ? int64_t(rng() % 9) : 0;
      const double eps = 1e-6 * double(1 + rng() % 10);
      INFO("dtype " << dtype_name(c.dtype) << " rows " << rows << " cols " << n << " row padding " << pad);
      const at::Tensor wide = 3.0 * at::randn({rows, n + pad}, cuda_options(c.type));
      const at::Tensor x = wide.narrow(1, 0, n);  // rows `pad` elements apart: the kernel's row stride
      const at::Tensor w = 1.0 + 0.1 * at::randn({n}, cuda_options(c.type));
      at::Tensor y = at::empty({rows, n}, cuda_options(c.type));
      rms_norm_cuda(x.data_ptr(), n + pad, w.data_ptr(), y.data_ptr(), c.dtype, rows, n, float(eps),
                    current_cuda_stream());
      CHECK(test::rel_error(y, hf_rms_norm(w, x, eps)) < c.tolerance);
      CHECK(test::rel_error(fused_rms_norm(w, x, eps), hf_rms_norm(w, x, eps)) < c.tolerance);
    }
}

TEST_CASE("the fused q/k rotary kernel equals transformers' rotary (and Qwen3's q/k norms) in ATen (GPU)",
          "[fused][gpu]") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  ModelShape shape = model_preset("llama-2-7b");
  for (const Case& c : kDtypes)
    for (int64_t d : {2, 6, 64, 66, 130, 256, 512}) {
      const int64_t B = 1 + rng() % 3, T = 1 + rng() % 19, hk = 1 + rng() % 3, hq = hk * (1 + rng() % 3);
      const bool norm = rng() % 2, packed = rng() % 2;
      shape.head_size = d;
      shape.rope_theta = std::pow(10.0, 2.0 + double(rng() % 1000) / 250.0);
      INFO("dtype " << dtype_name(c.dtype) << " B " << B << " T " << T << " heads " << hq << "/" << hk << " d " << d
                    << " norm " << norm << " packed " << packed);
      // packed: q and k columns of one [B, T, (hq + 2 hk) d] tensor, as the joint q|k|v GEMM leaves them.
      const int64_t width = packed ? (hq + 2 * hk) * d : 0;
      const at::Tensor qkv = packed ? at::randn({B, T, width}, cuda_options(c.type)) : at::Tensor();
      const at::Tensor q = packed ? qkv.narrow(-1, 0, hq * d) : at::randn({B, T, hq * d}, cuda_options(c.type));
      const at::Tensor k = packed ? qkv.narrow(-1, hq * d, hk * d) : at::randn({B, T, hk * d}, cuda_options(c.type));
      const at::Tensor qn = 1.0 + 0.1 * at::randn({d}, cuda_options(c.type));
      const at::Tensor kn = 1.0 + 0.1 * at::randn({d}, cuda_options(c.type));
      const auto [cos, sin] = rotary_cos_sin(shape, T, q);
      at::Tensor q_out = at::empty({B, T, hq, d}, cuda_options(c.type));
      at::Tensor k_out = at::empty({B, T, hk, d}, cuda_options(c.type));
      QkRotaryArgs a;
      a.q = q.data_ptr();
      a.k = k.data_ptr();
      a.q_token_stride = packed ? width : hq * d;
      a.k_token_stride = packed ? width : hk * d;
      if (norm) {
        a.q_norm = qn.data_ptr();
        a.k_norm = kn.data_ptr();
        a.eps = 1e-6f;
      }
      a.cos = cos.data_ptr();
      a.sin = sin.data_ptr();
      a.q_out = q_out.data_ptr();
      a.k_out = k_out.data_ptr();
      a.tokens = B * T;
      a.seq = T;
      a.q_heads = hq;
      a.k_heads = hk;
      a.head_dim = d;
      qk_rotary_cuda(a, c.dtype, current_cuda_stream());
      // HF: [B, T, heads, d], the norm over d, transposed to [B, heads, T, d], rotated with cos/sin [1, 1, T, d].
      auto reference = [&](const at::Tensor& x, int64_t heads, const at::Tensor& w) {
        at::Tensor h = x.reshape({B, T, heads, d});
        if (norm) h = hf_rms_norm(w, h, 1e-6);
        return hf_rotate(h.transpose(1, 2), cos.unsqueeze(1), sin.unsqueeze(1)).transpose(1, 2);
      };
      CHECK(test::rel_error(q_out, reference(q, hq, qn)) < c.tolerance);
      CHECK(test::rel_error(k_out, reference(k, hk, kn)) < c.tolerance);
    }
  QkRotaryArgs odd;
  odd.head_dim = 7;
  odd.tokens = odd.seq = 1;
  CHECK_THROWS_AS(qk_rotary_cuda(odd, DType::f16, current_cuda_stream()), std::invalid_argument);
}

TEST_CASE("the fused SwiGLU kernel equals silu(gate) * up in ATen on odd sizes (GPU)", "[fused][gpu]") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (const Case& c : kDtypes)
    for (int64_t f : std::vector<int64_t>{1, 5, 8, 40, 1000, 4096 + 8, int64_t(1 + rng() % 3000)}) {
      const int64_t rows = 1 + int64_t(rng() % 70);
      const bool packed = rng() % 2;
      INFO("dtype " << dtype_name(c.dtype) << " rows " << rows << " cols " << f << " packed " << packed);
      // packed: gate then up in one [rows, 2f] tensor, as the joint gate|up GEMM leaves them.
      const at::Tensor both = 4.0 * at::randn({rows, 2 * f}, cuda_options(c.type));
      const at::Tensor gate = packed ? both.narrow(1, 0, f) : both.narrow(1, 0, f).contiguous();
      const at::Tensor up = packed ? both.narrow(1, f, f) : both.narrow(1, f, f).contiguous();
      at::Tensor y = at::empty({rows, f}, cuda_options(c.type));
      swiglu_cuda(gate.data_ptr(), up.data_ptr(), packed ? 2 * f : f, y.data_ptr(), c.dtype, rows, f,
                  current_cuda_stream());
      CHECK(test::rel_error(y, at::silu(gate) * up) < c.tolerance);
    }
}

TEST_CASE("the fused rotary block equals the HF block: LLaMA, Qwen3 (q/k norms), Mistral, GQA (GPU)",
          "[fused][gpu]") {
  if (!cuda_available()) SKIP("no GPU on this machine");
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (const std::string& family : kRotaryFamilies)
    for (int trial = 0; trial < 4; ++trial) {
      const ModelShape shape = rotary_shape(rng, family, trial % 2 == 0);
      const RotaryBlockOptions hf{family == "qwen3", false}, fused{family == "qwen3", true};
      const int64_t B = 1 + rng() % 2, T = 1 + rng() % 24;
      INFO(family << " hidden " << shape.hidden << " heads " << shape.heads << "/" << shape.key_value_heads()
                  << " head_dim " << shape.head_dim() << " ffn " << shape.ffn << " bias " << shape.attention_bias
                  << " B " << B << " T " << T);
      const ParamSlab p32 = random_block(shape, DType::f32, at::kCUDA);
      const at::Tensor h32 = at::randn({B, T, shape.hidden}, cuda_options(at::kFloat));
      const bool joint = adjacent_weights(p32, {"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                                "self_attn.v_proj.weight"}).defined();
      INFO("joint q|k|v GEMM (fp32) " << joint);
      if (trial % 2 == 0) CHECK(joint);  // the aligned shapes do run the joint GEMMs
      for (const Case& c : kDtypes) {
        INFO("dtype " << dtype_name(c.dtype));
        const ParamSlab p = convert(shape, p32, c.dtype);
        const at::Tensor h = h32.to(c.type);
        const at::Tensor got = rotary_block(shape, p, h, fused);
        REQUIRE(got.scalar_type() == c.type);
        REQUIRE(got.sizes() == h.sizes());
        if (c.dtype == DType::f32) {
          CHECK(test::rel_error(got, rotary_block(shape, p, h, hf)) < c.tolerance);
          continue;
        }
        // fp32 from the same rounded weights and input: what both half paths approximate.
        const at::Tensor ref = rotary_block(shape, convert(shape, p, DType::f32), h.to(at::kFloat), hf);
        const double fused_error = test::rel_error(got, ref);
        const double hf_error = test::rel_error(rotary_block(shape, p, h, hf), ref);
        INFO("fused " << fused_error << " HF path " << hf_error << " from the fp32 reference");
        CHECK(fused_error < c.tolerance);
      }
    }
}

TEST_CASE("joint weights are views of adjacent slab entries, and refused when padding or a bias separates them",
          "[fused]") {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (const std::string& family : kRotaryFamilies)
    for (const DType dtype : {DType::f32, DType::bf16}) {
      const ModelShape shape = rotary_shape(rng, family, rng() % 2);
      const ParamSlab p = random_block(shape, dtype, at::kCPU);
      auto expect_adjacent = [&](const std::vector<std::string>& names) {
        const SlabEntry* prev = nullptr;
        for (const auto& n : names)
          for (const auto& e : p.layout.entries)
            if (e.name == n) {
              if (prev != nullptr && e.offset != prev->offset + prev->numel) return false;
              prev = &e;
            }
        return true;
      };
      const std::vector<std::string> qkv{"self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                         "self_attn.v_proj.weight"};
      const std::vector<std::string> gu{"mlp.gate_proj.weight", "mlp.up_proj.weight"};
      INFO(family << " " << dtype_name(dtype) << " hidden " << shape.hidden << " bias " << shape.attention_bias);
      const at::Tensor joint_qkv = adjacent_weights(p, {qkv[0], qkv[1], qkv[2]});
      const at::Tensor joint_gu = adjacent_weights(p, {gu[0], gu[1]});
      CHECK(joint_qkv.defined() == (expect_adjacent(qkv) && !shape.attention_bias));
      CHECK(joint_gu.defined() == expect_adjacent(gu));
      if (joint_qkv.defined()) {
        CHECK(joint_qkv.data_ptr() == p.view(qkv[0]).data_ptr());  // a view, not a copy
        CHECK(at::equal(joint_qkv, at::cat({p.view(qkv[0]), p.view(qkv[1]), p.view(qkv[2])}, 0)));
      }
      if (joint_gu.defined()) CHECK(at::equal(joint_gu, at::cat({p.view(gu[0]), p.view(gu[1])}, 0)));
      CHECK(!adjacent_weights(p, {qkv[0], "no_such.weight"}).defined());
    }
}

TEST_CASE("fused kernels (--fused-kernels on) change nothing on the CPU: blocks and ZO steps are bitwise the HF path", "[fused]") {
  const uint64_t seed = test::fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  at::manual_seed(seed);
  for (const std::string& family : kRotaryFamilies) {
    const ModelShape shape = rotary_shape(rng, family, rng() % 2);
    INFO(family);
    for (const DType dtype : {DType::f32, DType::bf16}) {
      const ParamSlab p = random_block(shape, dtype, at::kCPU);
      const at::Tensor h = at::randn({2, 9, shape.hidden}).to(to_scalar_type(dtype));
      CHECK(at::equal(model_block(shape, p, h, ForwardOptions{true}), model_block(shape, p, h, ForwardOptions{false})));
    }
    // Whole steps through the plan's policy (the op that reads the knob), fp32, every block resident.
    std::vector<double> losses[2];
    const ZoHyper hyper{/*lr=*/1e-3f, /*eps=*/1e-2f, /*weight_decay=*/0.0f, /*seed=*/rng()};
    const at::Tensor ids = at::randint(shape.vocab_size, {2, 10}, at::kLong);
    for (int on = 0; on < 2; ++on) {
      PolicyOptions o;
      o.offload = "none";
      o.dtype = "fp32";
      o.fused_kernels = on ? "on" : "off";
      const Policy policy = resolve_policy(o, shape.layers);
      REQUIRE(policy.fused_kernels == bool(on));
      OptModel m = OptModel::allocate(shape, DType::f32, at::kCPU, policy.offload);
      m.init_random(hyper.seed);
      ZoEngine engine(m, policy, hyper, 2, 10, make_cpu_executor(hyper.seed, /*max_delay_us=*/0));
      for (int step = 0; step < 2; ++step) {
        const StepResult r = engine.step(ids);
        losses[on].push_back(r.loss_plus);
        losses[on].push_back(r.loss_minus);
      }
    }
    CHECK(losses[0] == losses[1]);
  }
}
