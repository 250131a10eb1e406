// Random named tensors with owned bytes, for safetensors round trips and cross-checks.
#pragma once
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "engine/io/safetensors_dtype.h"
#include "engine/io/safetensors_write.h"

namespace zo2::io::test {

struct OwnedTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::string bytes;  // raw little-endian elements

  TensorToWrite view() const { return {name, dtype, shape, bytes.data(), bytes.size()}; }
};

// `count` tensors with distinct names, dtypes drawn from `dtypes`, rank 0..3, dimensions 1..9 (and a zero now and
// then when `allow_empty`), random bytes (raw bytes are what the format stores, NaN patterns included).
inline std::vector<OwnedTensor> random_tensors(std::mt19937_64& rng, int count,
                                               const std::vector<std::string>& dtypes = {"F32", "F16", "BF16", "F64",
                                                                                         "I64", "U8"},
                                               bool allow_empty = true) {
  std::vector<OwnedTensor> out;
  std::uniform_int_distribution<int> rank(0, 3), dim(1, 9), pick(0, static_cast<int>(dtypes.size()) - 1),
      zero(0, 19), byte(0, 255);
  for (int i = 0; i < count; ++i) {
    OwnedTensor t;
    t.name = "model.decoder.layers." + std::to_string(i) + (i % 2 ? ".fc1.weight" : ".self_attn.q_proj.bias");
    t.dtype = dtypes[pick(rng)];
    size_t n = 1;
    for (int r = rank(rng); r > 0; --r) {
      t.shape.push_back(allow_empty && zero(rng) == 0 ? 0 : dim(rng));
      n *= static_cast<size_t>(t.shape.back());
    }
    t.bytes.resize(n * *safetensors_dtype_size(t.dtype));
    for (char& c : t.bytes) c = static_cast<char>(byte(rng));
    out.push_back(std::move(t));
  }
  return out;
}

inline std::vector<TensorToWrite> views(const std::vector<OwnedTensor>& tensors) {
  std::vector<TensorToWrite> out;
  for (const auto& t : tensors) out.push_back(t.view());
  return out;
}

}  // namespace zo2::io::test
