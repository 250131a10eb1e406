// libFuzzer target: one .safetensors file (8-byte length, JSON header, data region) read and every tensor's bytes
// touched, so a header that points outside the data is caught by ASan.
#include <cstring>

#include "engine/io/half_convert.h"
#include "engine/io/safetensors.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return zo2::fuzz::expect_clean([&] {
    const zo2::io::SafetensorsFile file(reinterpret_cast<const std::byte*>(data), size, "fuzz.safetensors");
    volatile float sink = 0;
    for (const auto& [name, info] : file.tensors()) {
      if (info.numel() * 0 != 0 || file.at(name).data != info.data) __builtin_trap();
      // Read every byte as the model loader's conversions do (copy, then widen 16-bit floats).
      for (size_t i = 0; i + 2 <= info.bytes; i += 2) {
        uint16_t h;
        std::memcpy(&h, info.data + i, 2);
        sink = sink + (info.dtype == "BF16" ? zo2::io::bf16_bits_to_float(h) : zo2::io::half_bits_to_float(h));
      }
      if (info.bytes % 2) sink = sink + static_cast<float>(info.data[info.bytes - 1]);
    }
    for (const auto& [k, v] : file.metadata()) sink = sink + static_cast<float>(k.size() + v.size());
  });
}
