// Inputs found by the fuzz targets (fuzz/, tests/data/fuzz/) for the .npy and safetensors readers: each now gets a
// clear error naming the file, where it ran into undefined behaviour or escaped as another exception type.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "engine/io/npy.h"
#include "engine/io/safetensors.h"

using Catch::Matchers::ContainsSubstring;

namespace {
const std::filesystem::path kData = ZO2_FUZZ_DATA_DIR;
}

TEST_CASE("a .npy shape whose element count overflows is refused even with a zero item size") {
  // '<f0' items take no bytes, so the byte count never overflowed; numel() then did (signed overflow, UBSan).
  const auto path = kData / "npy_zero_item_count_overflow.npy";
  CHECK_THROWS_AS(zo2::io::read_npy(path), std::runtime_error);
  CHECK_THROWS_WITH(zo2::io::read_npy(path), ContainsSubstring(path.string()) && ContainsSubstring("'shape'") &&
                                                 ContainsSubstring("overflows"));
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  CHECK_THROWS_WITH(zo2::io::read_npy_bytes(bytes, "mem.npy"), ContainsSubstring("mem.npy") &&
                                                                   ContainsSubstring("overflows"));
  // An item size whose digits would wrap a 64-bit count is refused by name.
  std::string wrapped = bytes;
  const auto at = wrapped.find("<f0");
  wrapped.replace(at, 3, "<f99999999999999999999");
  CHECK_THROWS_WITH(zo2::io::read_npy_bytes(wrapped, "mem.npy"), ContainsSubstring("'descr'"));
}

TEST_CASE("a safetensors header holding a number beyond a double is 'not valid JSON', naming the file") {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}})";
  std::string file(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(file.data(), &n, 8);
  file += header + std::string(4, '\0');
  auto open = [&] { zo2::io::SafetensorsFile f(reinterpret_cast<const std::byte*>(file.data()), file.size(), "x.st"); };
  CHECK_THROWS_AS(open(), std::runtime_error);
  CHECK_THROWS_WITH(open(), ContainsSubstring("x.st") && ContainsSubstring("not valid JSON"));
}
