// libFuzzer target: one .npy file (magic, version, header dict literal, data), read as read_npy reads a file.
#include "engine/io/npy.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return zo2::fuzz::expect_clean([&] {
    const auto a = zo2::io::read_npy_bytes(zo2::fuzz::text(data, size), "fuzz.npy");
    // What was read must be what the header promised and inside the input.
    if (a.data.size() != static_cast<size_t>(a.header.numel()) * a.header.item_bytes ||
        a.header.data_offset + a.data.size() > size)
      __builtin_trap();
  });
}
