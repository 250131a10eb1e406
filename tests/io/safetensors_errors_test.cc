// SafetensorsFile on hand-made corrupt files: every error names the file, the tensor or field, and what was expected.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "engine/io/safetensors.h"
#include "engine/io/safetensors_write.h"
#include "io_test_util.h"

using namespace zo2::io;
using namespace zo2::io::test;
using Catch::Matchers::ContainsSubstring;

namespace {

// 8-byte little-endian header length, the header text as given, then `data_bytes` zero bytes.
std::string st_file(const std::string& header, size_t data_bytes) {
  return le_u64(header.size()) + header + std::string(data_bytes, '\0');
}

void expect_open_error(const TempDir& dir, const std::string& bytes, const std::vector<std::string>& parts) {
  const auto path = dir / "bad.safetensors";
  write_bytes(path, bytes);
  INFO("file bytes: " << bytes.substr(0, 200));
  for (const auto& p : parts) {
    INFO("expected message containing: " << p);
    REQUIRE_THROWS_WITH(SafetensorsFile(path), ContainsSubstring(path.string()) && ContainsSubstring(p));
  }
}

}  // namespace

TEST_CASE("safetensors: file too short or header length beyond the file", "[safetensors][errors]") {
  TempDir dir;
  expect_open_error(dir, "", {"0 bytes, shorter than the 8-byte header length"});
  expect_open_error(dir, "abcde", {"5 bytes, shorter than the 8-byte header length"});
  expect_open_error(dir, le_u64(1000) + "{}", {"header length 1000", "beyond the file size 10"});
  expect_open_error(dir, le_u64(~uint64_t(0)) + "{}", {"beyond the file size"});
}

TEST_CASE("safetensors: header that is not a JSON object", "[safetensors][errors]") {
  TempDir dir;
  expect_open_error(dir, st_file("{\"a\": {\"dtype\": ", 0), {"header (16 bytes) is not valid JSON"});
  expect_open_error(dir, st_file("[1, 2]  ", 0), {"header: expected a JSON object, got array"});
  expect_open_error(dir, st_file("{\"a\": 5}", 0), {"tensor 'a': expected a JSON object"});
  expect_open_error(dir, st_file("{\"__metadata__\": {\"format\": 1}}", 0),
                    {"'__metadata__' key 'format': expected a string"});
  expect_open_error(dir, st_file("{\"__metadata__\": []}", 0), {"'__metadata__': expected an object"});
}

TEST_CASE("safetensors: missing or mistyped tensor fields", "[safetensors][errors]") {
  TempDir dir;
  expect_open_error(dir, st_file(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", 8),
                    {"tensor 'w' field 'dtype': expected a dtype string"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}})", 8),
                    {"tensor 'w' field 'dtype': unknown dtype 'F33'", "F32, F16, BF16"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", 8),
                    {"tensor 'w' field 'shape': expected an array of non-negative integers"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", 8),
                    {"tensor 'w' field 'shape': expected non-negative integers, got [-2]"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", 8),
                    {"tensor 'w' field 'shape'"});
  expect_open_error(dir,
                    st_file(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})", 8),
                    {"tensor 'w' field 'shape'", "overflows"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [2]}})", 8),
                    {"tensor 'w' field 'data_offsets': expected [begin, end]", "got nothing"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}})", 8),
                    {"tensor 'w' field 'data_offsets': expected [begin, end]", "got [0,4,8]"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8),
                    {"tensor 'w' field 'data_offsets': end 0 is before begin 8"});
}

TEST_CASE("safetensors: data_offsets that do not match shape × dtype size", "[safetensors][errors]") {
  TempDir dir;
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 24),
                    {"tensor 'w' field 'data_offsets'", "spans 20 bytes, expected 24", "[2,3]", "4 bytes for F32"});
  expect_open_error(dir, st_file(R"({"w": {"dtype": "BF16", "shape": [], "data_offsets": [0, 4]}})", 4),
                    {"tensor 'w'", "spans 4 bytes, expected 2"});
}

TEST_CASE("safetensors: overlapping tensors", "[safetensors][errors]") {
  TempDir dir;
  expect_open_error(dir,
                    st_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                            R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                            12),
                    {"tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]"});
  // Gaps and empty tensors are not overlaps.
  const auto ok = dir / "gap.safetensors";
  write_bytes(ok, st_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                          R"( "e": {"dtype": "F32", "shape": [0], "data_offsets": [2, 2]},)"
                          R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                          12));
  SafetensorsFile f(ok);
  CHECK(f.at("b").bytes == 4);
  CHECK(f.at("e").bytes == 0);
}

TEST_CASE("safetensors: truncated data region", "[safetensors][errors]") {
  TempDir dir;
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8),
                    {"truncated: tensor 'w' ends at data offset 16 but the data region holds only 8 bytes"});
  // An empty tensor placed past the end is caught too (its pointer would leave the mapping).
  expect_open_error(dir, st_file(R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [32, 32]}})", 8),
                    {"truncated: tensor 'w' ends at data offset 32"});

  // A real file cut short, at every length from the full header to one byte short.
  const float values[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto full_path = dir / "full.safetensors";
  write_safetensors(full_path, {{"a", "F32", {2}, values, 8}, {"b", "F32", {2, 3}, values + 2, 24}}, {});
  const std::string full = read_bytes(full_path);
  const size_t data_start = SafetensorsFile(full_path).data_start();
  for (size_t len = data_start; len < full.size(); ++len) {
    INFO("cut at " << len << " of " << full.size());
    expect_open_error(dir, full.substr(0, len), {"truncated: tensor '"});
  }
  for (size_t len : {size_t(0), size_t(7), size_t(8), data_start - 1}) {
    INFO("cut at " << len);
    const auto path = dir / "cut.safetensors";
    write_bytes(path, full.substr(0, len));
    REQUIRE_THROWS_WITH(SafetensorsFile(path), ContainsSubstring(path.string()));
  }
}

TEST_CASE("safetensors: missing file and unknown tensor name", "[safetensors][errors]") {
  TempDir dir;
  const auto missing = dir / "nope.safetensors";
  REQUIRE_THROWS_WITH(SafetensorsFile(missing), ContainsSubstring(missing.string()) && ContainsSubstring("cannot open"));
  const float v[1] = {1};
  write_safetensors(dir / "one.safetensors", {{"a", "F32", {1}, v, 4}}, {});
  SafetensorsFile f(dir / "one.safetensors");
  REQUIRE_THROWS_WITH(f.at("b"), ContainsSubstring((dir / "one.safetensors").string()) &&
                                     ContainsSubstring("no tensor named 'b'"));
}
