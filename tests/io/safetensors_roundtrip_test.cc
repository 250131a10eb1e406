// write_safetensors → SafetensorsFile round trips: identical bytes, shapes, dtypes, metadata and the header layout.
#include <cstring>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "engine/io/safetensors.h"
#include "engine/io/safetensors_write.h"
#include "io_test_util.h"
#include "random_tensors.h"

using namespace zo2::io;
using namespace zo2::io::test;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("safetensors round trip keeps bytes, shapes, dtypes, order and metadata", "[safetensors]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  const auto tensors = random_tensors(rng, 1 + static_cast<int>(rng() % 12));
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "seed " + std::to_string(seed)}};
  const auto path = dir / "x.safetensors";
  write_safetensors(path, views(tensors), meta);

  SafetensorsFile f(path);
  REQUIRE(f.tensors().size() == tensors.size());
  CHECK(f.metadata() == meta);
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    INFO("tensor " << t.name);
    const TensorInfo& info = f.at(t.name);
    CHECK(info.dtype == t.dtype);
    CHECK(info.shape == t.shape);
    REQUIRE(info.bytes == t.bytes.size());
    CHECK(std::memcmp(info.data, t.bytes.data(), info.bytes) == 0);
    CHECK(info.begin == offset);  // consecutive, in the order given
    offset = info.end;
  }

  // Layout as the reference writes it: 8-byte length, space-padded header to an 8-byte multiple, nothing after data.
  const std::string raw = read_bytes(path);
  CHECK(f.data_start() % 8 == 0);
  CHECK(raw.size() == f.data_start() + offset);
  const std::string header = raw.substr(8, f.data_start() - 8);
  const auto close = header.find_last_of('}');
  CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);
  CHECK(header.rfind("{\"__metadata__\":", 0) == 0);  // metadata first, compact JSON
  // The header lists the tensors in the order given.
  size_t last = 0;
  for (const auto& t : tensors) {
    const size_t at = header.find("\"" + t.name + "\":");
    REQUIRE(at != std::string::npos);
    CHECK(at > last);
    last = at;
  }

  // Moving the file object keeps the tensor pointers valid (they point into the mapping).
  SafetensorsFile moved(std::move(f));
  CHECK(std::memcmp(moved.at(tensors[0].name).data, tensors[0].bytes.data(), tensors[0].bytes.size()) == 0);
}

TEST_CASE("safetensors with no tensors and no metadata is a valid file", "[safetensors]") {
  TempDir dir;
  write_safetensors(dir / "empty.safetensors", {}, {});
  SafetensorsFile f(dir / "empty.safetensors");
  CHECK(f.tensors().empty());
  CHECK(f.metadata().empty());
  CHECK(read_bytes(dir / "empty.safetensors") == le_u64(8) + "{}      ");
}

TEST_CASE("write_safetensors rejects bad tensors naming the file and the tensor", "[safetensors][errors]") {
  TempDir dir;
  const auto path = dir / "bad.safetensors";
  const float data[6] = {1, 2, 3, 4, 5, 6};
  auto expect_error = [&](std::vector<TensorToWrite> tensors, const std::string& what) {
    INFO("expected message containing: " << what);
    REQUIRE_THROWS_WITH(write_safetensors(path, tensors, {}),
                        ContainsSubstring(path.string()) && ContainsSubstring(what));
    CHECK_FALSE(std::filesystem::exists(path));  // nothing half-written
  };
  expect_error({{"w", "F32", {2, 3}, data, 20}}, "tensor 'w': 20 bytes given, expected 24");
  expect_error({{"w", "F31", {2, 3}, data, 24}}, "tensor 'w': unknown dtype 'F31'");
  expect_error({{"w", "F32", {-2, 3}, data, 24}}, "tensor 'w': negative dimension");
  expect_error({{"w", "F32", {6}, data, 24}, {"w", "F32", {6}, data, 24}}, "tensor 'w': duplicate tensor name");
  expect_error({{"", "F32", {6}, data, 24}}, "empty tensor name");
  expect_error({{"__metadata__", "F32", {6}, data, 24}}, "reserved");
  expect_error({{"w", "F32", {6}, nullptr, 24}}, "tensor 'w': null data pointer");
}

TEST_CASE("write_safetensors replaces an existing file atomically", "[safetensors]") {
  TempDir dir;
  const auto path = dir / "m.safetensors";
  const int64_t a[2] = {1, 2}, b[3] = {3, 4, 5};
  write_safetensors(path, {{"t", "I64", {2}, a, sizeof a}}, {});
  write_safetensors(path, {{"t", "I64", {3}, b, sizeof b}}, {});
  SafetensorsFile f(path);
  CHECK(f.at("t").shape == std::vector<int64_t>{3});
  // No temporary file is left beside it.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}
