// .npy round trips, numpy's exact header layout, and every reader error on hand-made files.
#include <cstring>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "engine/io/npy.h"
#include "io_test_util.h"

using namespace zo2::io;
using namespace zo2::io::test;
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::Equals;

namespace {

std::vector<int64_t> random_shape(std::mt19937_64& rng) {
  std::vector<int64_t> shape(rng() % 4);
  for (auto& d : shape) d = (rng() % 10 == 0) ? 0 : 1 + static_cast<int64_t>(rng() % 9);
  return shape;
}

size_t numel(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (auto d : shape) n *= static_cast<size_t>(d);
  return n;
}

// A version 1.0 file with the header text exactly as given (no padding added) followed by `data`.
std::string npy_v1(const std::string& header, const std::string& data) {
  std::string s("\x93NUMPY\x01\x00", 8);
  s.push_back(static_cast<char>(header.size() & 0xFF));
  s.push_back(static_cast<char>(header.size() >> 8));
  return s + header + data;
}

void expect_read_error(const TempDir& dir, const std::string& bytes, const std::string& what) {
  const auto path = dir / "bad.npy";
  write_bytes(path, bytes);
  INFO("expected message containing: " << what);
  REQUIRE_THROWS_WITH(read_npy(path), ContainsSubstring(path.string()) && ContainsSubstring(what));
}

}  // namespace

TEST_CASE("npy round trip of float32 and int64 arrays", "[npy]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  for (int trial = 0; trial < 20; ++trial) {
    const auto shape = random_shape(rng);
    std::vector<float> f(numel(shape));
    std::vector<int64_t> i(numel(shape));
    std::normal_distribution<float> nd(0.f, 3.f);
    for (auto& x : f) x = nd(rng);
    for (auto& x : i) x = static_cast<int64_t>(rng());
    write_npy_float32(dir / "f.npy", f.data(), shape);
    write_npy_int64(dir / "i.npy", i.data(), shape);
    const auto rf = read_npy_float32(dir / "f.npy");
    const auto ri = read_npy_int64(dir / "i.npy");
    CHECK(rf.shape == shape);
    CHECK(ri.shape == shape);
    CHECK(std::memcmp(rf.values.data(), f.data(), f.size() * 4) == 0);
    CHECK(ri.values == i);
    // numpy's layout: version 1.0, data at a 64-byte multiple, header ending in a newline.
    const auto h = read_npy_header(dir / "f.npy");
    CHECK(h.major == 1);
    CHECK(h.data_offset % 64 == 0);
    CHECK(read_bytes(dir / "f.npy")[h.data_offset - 1] == '\n');
  }
}

TEST_CASE("npy header bytes match numpy's for known shapes", "[npy]") {
  TempDir dir;
  const int64_t v[6] = {0, 1, 2, 3, 4, 5};
  write_npy_int64(dir / "a.npy", v, {2, 3});
  // np.save(f, np.arange(6).reshape(2, 3)): 10-byte prefix + 118-byte header (21-1 growth spaces, pad, newline).
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(20, ' ');
  header.append(128 - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  CHECK(read_bytes(dir / "a.npy") == npy_v1(header, std::string(reinterpret_cast<const char*>(v), sizeof v)));
  // A 0-d array holds one element, so it needs data.
  CHECK_THROWS_WITH(write_npy_float32(dir / "s.npy", nullptr, {}), ContainsSubstring("null data"));
  const float one = 1.f;
  write_npy_float32(dir / "s.npy", &one, {});
  CHECK(read_bytes(dir / "s.npy").substr(10, 60) ==
        "{'descr': '<f4', 'fortran_order': False, 'shape': (), }     ");
  CHECK(read_npy_float32(dir / "s.npy").values == std::vector<float>{1.f});
}

TEST_CASE("npy reads version 2.0 and 3.0 headers and other dtypes as raw bytes", "[npy]") {
  TempDir dir;
  for (char major : {'\x02', '\x03'}) {
    const std::string header = "{'shape': (3,), 'fortran_order': False, 'descr': '<u2'}\n";
    std::string s("\x93NUMPY", 6);
    s.push_back(major);
    s.push_back('\0');
    s += le_u64(header.size()).substr(0, 4) + header + std::string("\x01\x00\x02\x00\x03\x00", 6);
    write_bytes(dir / "v2.npy", s);
    const auto a = read_npy(dir / "v2.npy");
    CHECK(a.header.major == major);
    CHECK(a.header.descr == "<u2");
    CHECK(a.header.shape == std::vector<int64_t>{3});
    REQUIRE(a.data.size() == 6);
    CHECK(static_cast<int>(a.data[4]) == 3);
  }
}

TEST_CASE("npy reader errors name the file and what was expected", "[npy][errors]") {
  TempDir dir;
  const std::string f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
  const std::string data8(8, '\0');
  expect_read_error(dir, "", "bad magic");
  expect_read_error(dir, "PK\x03\x04 this is a zip", "bad magic: expected a NumPy .npy file");
  expect_read_error(dir, std::string("\x93NUMPY\x09\x00\x10\x00", 10), "unsupported .npy format version 9.0");
  expect_read_error(dir, std::string("\x93NUMPY\x01\x00", 8), "truncated: file ends inside the version 1.0 header");
  expect_read_error(dir, npy_v1(f4, data8).substr(0, 30), "truncated: header length");
  expect_read_error(dir, npy_v1(f4, "abc"), "truncated: shape (2) of '<f4' needs 8 data bytes, the file holds 3");
  expect_read_error(dir, npy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", data8),
                    "'fortran_order' is True");
  expect_read_error(dir, npy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", data8), "big-endian");
  expect_read_error(dir, npy_v1("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n", data8), "'descr'");
  expect_read_error(dir, npy_v1("{'descr': '|O8', 'fortran_order': False, 'shape': (2,), }\n", data8),
                    "object array");
  expect_read_error(dir,
                    npy_v1("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n", data8),
                    "structured dtypes");
  expect_read_error(dir, npy_v1("{'descr': '<f4', 'shape': (2,), }\n", data8), "missing key 'fortran_order'");
  expect_read_error(dir, npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", data8),
                    "unexpected key 'x'");
  expect_read_error(dir, npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", data8),
                    "expected a non-negative integer for 'shape'");
  expect_read_error(dir, npy_v1("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }\n", data8),
                    "expected True or False for 'fortran_order'");
  expect_read_error(dir, npy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk\n", data8),
                    "unexpected text after the dict");
  const auto missing = dir / "missing.npy";
  REQUIRE_THROWS_WITH(read_npy(missing), ContainsSubstring(missing.string()) && ContainsSubstring("cannot open"));

  // Typed readers: the dtype must be exactly what the caller needs.
  const auto path = dir / "f.npy";
  const float v[2] = {1, 2};
  write_npy_float32(path, v, {2});
  REQUIRE_THROWS_WITH(read_npy_int64(path), Equals(path.string() + ": expected int64 ('<i8'), got '<f4'"));
  const int64_t w[2] = {1, 2};
  write_npy_int64(path, w, {2});
  REQUIRE_THROWS_WITH(read_npy_float32(path), Equals(path.string() + ": expected float32 ('<f4'), got '<i8'"));
}

TEST_CASE("npy writing is atomic: a failed write leaves the old file", "[npy]") {
  TempDir dir;
  const auto path = dir / "a.npy";
  const int64_t v[2] = {7, 8};
  write_npy_int64(path, v, {2});
  CHECK_THROWS(write_npy_int64(path, v, {-1}));
  CHECK(read_npy_int64(path).values == std::vector<int64_t>{7, 8});
  CHECK_THROWS_WITH(write_npy_int64(dir / "no_such_dir" / "a.npy", v, {2}), ContainsSubstring("no_such_dir"));
}
