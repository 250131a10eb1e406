// .npy against numpy itself: np.save files read here, files written here loaded by np.load and byte-identical to
// np.save's.
#include <cstring>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "engine/io/npy.h"
#include "io_test_util.h"

using namespace zo2::io;
using namespace zo2::io::test;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("npy files written here load in numpy and match np.save byte for byte", "[npy][python]") {
  ZO2_REQUIRE_PYTHON("numpy");
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  for (int trial = 0; trial < 8; ++trial) {
    std::vector<int64_t> shape(rng() % 4);
    size_t n = 1;
    for (auto& d : shape) n *= static_cast<size_t>(d = static_cast<int64_t>(rng() % 6 + (trial == 0 ? 0 : 1)));
    if (trial == 1) shape = {static_cast<int64_t>(rng() % 100000 + 100000)}, n = static_cast<size_t>(shape[0]);
    std::vector<float> f(n);
    std::vector<int64_t> i(n);
    std::uniform_real_distribution<float> u(-1e6f, 1e6f);
    for (auto& x : f) x = u(rng);
    for (auto& x : i) x = static_cast<int64_t>(rng());
    write_npy_float32(dir / "f.npy", f.data(), shape);
    write_npy_int64(dir / "i.npy", i.data(), shape);
    write_bytes(dir / "f.bin", std::string(reinterpret_cast<const char*>(f.data()), n * 4));
    write_bytes(dir / "i.bin", std::string(reinterpret_cast<const char*>(i.data()), n * 8));
    std::string shape_text;
    for (auto d : shape) shape_text += std::to_string(d) + ",";
    INFO("shape " << shape_text);
    ZO2_REQUIRE_PYTHON_OK(run_python(R"(
import sys, numpy as np
d, shape = sys.argv[1], tuple(int(x) for x in sys.argv[2].split(',') if x)
for name, dt in (('f', np.float32), ('i', np.int64)):
    a = np.load(f'{d}/{name}.npy')
    assert a.dtype == dt and a.shape == shape, (a.dtype, a.shape, shape)
    ref = np.fromfile(f'{d}/{name}.bin', dtype=dt).reshape(shape)
    assert np.array_equal(a, ref)
    np.save(f'{d}/{name}_np.npy', ref)
    mine, theirs = open(f'{d}/{name}.npy', 'rb').read(), open(f'{d}/{name}_np.npy', 'rb').read()
    assert mine == theirs, (mine[:128], theirs[:128])
)",
                                     {dir.path().string(), shape_text}));
  }
}

TEST_CASE("npy files numpy writes are read here; wrong dtype and Fortran order are refused", "[npy][python]") {
  ZO2_REQUIRE_PYTHON("numpy");
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  TempDir dir;
  ZO2_REQUIRE_PYTHON_OK(run_python(R"(
import sys, numpy as np
d, seed = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(seed)
ids = rng.integers(0, 50272, size=(int(rng.integers(1, 9)), int(rng.integers(1, 300))), dtype=np.int64)
x = rng.standard_normal((3, int(rng.integers(1, 50)), 7)).astype(np.float32)
np.save(f'{d}/ids.npy', ids); ids.tofile(f'{d}/ids.bin')
np.save(f'{d}/x.npy', x); x.tofile(f'{d}/x.bin')
with open(f'{d}/x_v2.npy', 'wb') as fh:
    np.lib.format.write_array(fh, x, version=(2, 0))
np.save(f'{d}/f8.npy', x.astype(np.float64))
# A 1-row or 1-column array is C-contiguous too and numpy would save it in C order: use a 2x3 one then.
f = ids if ids.shape[0] > 1 and ids.shape[1] > 1 else np.zeros((2, 3), np.int64)
np.save(f'{d}/fortran.npy', np.asfortranarray(f))
np.save(f'{d}/be.npy', ids.astype('>i8'))
np.save(f'{d}/scalar.npy', np.int64(42))
with open(f'{d}/shapes.txt', 'w') as fh:
    fh.write(' '.join(map(str, ids.shape)) + '\n' + ' '.join(map(str, x.shape)) + '\n')
)",
                                   {dir.path().string(), std::to_string(seed % (uint64_t(1) << 62))}));
  std::istringstream shapes(read_bytes(dir / "shapes.txt"));
  int64_t b, t, x0, x1, x2;
  shapes >> b >> t >> x0 >> x1 >> x2;

  const auto ids = read_npy_int64(dir / "ids.npy");
  CHECK(ids.shape == std::vector<int64_t>{b, t});
  const std::string ids_bin = read_bytes(dir / "ids.bin");
  REQUIRE(ids_bin.size() == ids.values.size() * 8);
  CHECK(std::memcmp(ids_bin.data(), ids.values.data(), ids_bin.size()) == 0);

  for (const char* name : {"x.npy", "x_v2.npy"}) {
    INFO(name);
    const auto x = read_npy_float32(dir / name);
    CHECK(x.shape == std::vector<int64_t>{x0, x1, x2});
    const std::string x_bin = read_bytes(dir / "x.bin");
    REQUIRE(x_bin.size() == x.values.size() * 4);
    CHECK(std::memcmp(x_bin.data(), x.values.data(), x_bin.size()) == 0);
  }
  CHECK(read_npy_header(dir / "x_v2.npy").major == 2);
  CHECK(read_npy_int64(dir / "scalar.npy").values == std::vector<int64_t>{42});

  const auto f8 = dir / "f8.npy";
  REQUIRE_THROWS_WITH(read_npy_float32(f8), ContainsSubstring(f8.string()) &&
                                                ContainsSubstring("expected float32 ('<f4'), got '<f8'"));
  REQUIRE_THROWS_WITH(read_npy_int64(f8), ContainsSubstring("expected int64 ('<i8'), got '<f8'"));
  const auto fortran = dir / "fortran.npy";
  REQUIRE_THROWS_WITH(read_npy_int64(fortran),
                      ContainsSubstring(fortran.string()) && ContainsSubstring("'fortran_order' is True"));
  const auto be = dir / "be.npy";
  REQUIRE_THROWS_WITH(read_npy_int64(be), ContainsSubstring(be.string()) && ContainsSubstring("big-endian"));
}
