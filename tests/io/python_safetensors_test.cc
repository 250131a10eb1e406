// safetensors against the reference library: files written here load with safetensors.torch / safetensors.numpy,
// and files the reference writes (bf16 via torch) are read here with the same bytes.
#include <algorithm>
#include <cstring>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "engine/io/safetensors_checkpoint.h"
#include "engine/io/safetensors_write.h"
#include "io_test_util.h"
#include "random_tensors.h"

using namespace zo2::io;
using namespace zo2::io::test;

namespace {

// A manifest of name, dtype, shape and a raw .bin file per tensor, for the python side to compare against.
void write_manifest(const TempDir& dir, const std::vector<OwnedTensor>& tensors) {
  nlohmann::json m = nlohmann::json::array();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto bin = dir / ("t" + std::to_string(i) + ".bin");
    write_bytes(bin, tensors[i].bytes);
    m.push_back({{"name", tensors[i].name}, {"dtype", tensors[i].dtype}, {"shape", tensors[i].shape},
                 {"bin", bin.string()}});
  }
  zo2::write_json_file_atomic(dir / "manifest.json", m);
}

// Loads `file` with safetensors.torch.load_file and checks every tensor's dtype, shape and bytes against the manifest.
constexpr const char* kCheckWithTorch = R"(
import sys, json, torch
from safetensors import safe_open
from safetensors.torch import load_file
files, manifest = sys.argv[1].split(','), json.load(open(sys.argv[2]))
want_meta = json.loads(sys.argv[3])
dtypes = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64,
          'I64': torch.int64, 'U8': torch.uint8}
loaded = {}
for f in files:
    part = load_file(f)
    assert not (set(part) & set(loaded)), 'tensor in two shards'
    loaded.update(part)
    with safe_open(f, framework='pt') as fh:
        assert (fh.metadata() or {}) == want_meta, (fh.metadata(), want_meta)
assert set(loaded) == {t['name'] for t in manifest}, (sorted(loaded), [t['name'] for t in manifest])
for t in manifest:
    x = loaded[t['name']]
    assert x.dtype == dtypes[t['dtype']] and list(x.shape) == t['shape'], (t, x.dtype, x.shape)
    raw = x.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if x.numel() else b''
    assert raw == open(t['bin'], 'rb').read(), t['name']
)";

}  // namespace

TEST_CASE("safetensors written here load with safetensors.torch, bf16 included", "[safetensors][python]") {
  ZO2_REQUIRE_PYTHON("torch, safetensors.torch");
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  const auto tensors = random_tensors(rng, 10);
  write_manifest(dir, tensors);
  const auto path = dir / "model.safetensors";
  write_safetensors(path, views(tensors), pytorch_metadata());
  ZO2_REQUIRE_PYTHON_OK(
      run_python(kCheckWithTorch, {path.string(), (dir / "manifest.json").string(), R"({"format": "pt"})"}));
}

TEST_CASE("sharded safetensors written here load shard by shard in safetensors.torch", "[checkpoint][python]") {
  ZO2_REQUIRE_PYTHON("torch, safetensors.torch");
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  const auto tensors = random_tensors(rng, 12, {"F32", "BF16", "F16"}, /*allow_empty=*/false);
  write_manifest(dir, tensors);
  uint64_t total = 0;
  for (const auto& t : tensors) total += t.bytes.size();
  const auto out = dir / "ckpt";
  // Below a third of the total: at least two shards.
  const auto written = write_safetensors_sharded(out, views(tensors), total / 3, pytorch_metadata());
  REQUIRE(written.back().filename() == "model.safetensors.index.json");
  std::string shards;
  for (size_t i = 0; i + 1 < written.size(); ++i) shards += (i ? "," : "") + written[i].string();
  ZO2_REQUIRE_PYTHON_OK(
      run_python(kCheckWithTorch, {shards, (dir / "manifest.json").string(), R"({"format": "pt"})"}));
  // The index as transformers reads it: total_size is the sum of tensor bytes, every name maps to an existing shard.
  ZO2_REQUIRE_PYTHON_OK(run_python(R"(
import sys, json, os
from safetensors import safe_open
d = sys.argv[1]
index = json.load(open(os.path.join(d, 'model.safetensors.index.json')))
total = 0
for name, shard in index['weight_map'].items():
    with safe_open(os.path.join(d, shard), framework='pt') as fh:
        assert name in fh.keys()
        total += fh.get_tensor(name).nbytes
assert index['metadata']['total_size'] == total, (index['metadata'], total)
)",
                                   {out.string()}));
}

TEST_CASE("safetensors written by the reference library are read here", "[safetensors][python]") {
  ZO2_REQUIRE_PYTHON("torch, numpy, safetensors.torch, safetensors.numpy");
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  TempDir dir;
  ZO2_REQUIRE_PYTHON_OK(run_python(R"(
import sys, json, torch, numpy as np
from safetensors.torch import save_file as save_torch
from safetensors.numpy import save_file as save_numpy
d, seed = sys.argv[1], int(sys.argv[2])
g = torch.Generator().manual_seed(seed)
rng = np.random.default_rng(seed)
def shape():
    return [int(x) for x in rng.integers(0, 7, size=int(rng.integers(0, 4)))]
tt = {
    'model.decoder.embed_tokens.weight': torch.randn(shape(), generator=g).to(torch.bfloat16),
    'model.decoder.layers.0.fc1.weight': torch.randn(shape(), generator=g).to(torch.float16),
    'model.decoder.layers.0.fc1.bias': torch.randn(shape(), generator=g),
    'model.decoder.final_layer_norm.weight': torch.randn(shape(), generator=g).to(torch.float64),
    'position_ids': torch.randint(-2**62, 2**62, shape(), generator=g),
}
save_torch(tt, f'{d}/torch.safetensors', metadata={'format': 'pt', 'seed': str(seed)})
nt = {'a': rng.standard_normal(shape()).astype(np.float32), 'b': rng.standard_normal(shape()).astype(np.float16),
      'c': rng.integers(-9, 9, size=shape()).astype(np.int64)}
save_numpy(nt, f'{d}/numpy.safetensors')
names = {torch.bfloat16: 'BF16', torch.float16: 'F16', torch.float32: 'F32', torch.float64: 'F64', torch.int64: 'I64'}
manifest = []
for i, (k, v) in enumerate(tt.items()):
    v.contiguous().reshape(-1).view(torch.uint8).numpy().tofile(f'{d}/torch{i}.bin') if v.numel() else open(f'{d}/torch{i}.bin', 'wb').close()
    manifest.append({'file': 'torch', 'name': k, 'dtype': names[v.dtype], 'shape': list(v.shape), 'bin': f'{d}/torch{i}.bin'})
for i, (k, v) in enumerate(nt.items()):
    v.tofile(f'{d}/numpy{i}.bin')
    manifest.append({'file': 'numpy', 'name': k, 'dtype': {'float32': 'F32', 'float16': 'F16', 'int64': 'I64'}[str(v.dtype)],
                     'shape': list(v.shape), 'bin': f'{d}/numpy{i}.bin'})
json.dump(manifest, open(f'{d}/manifest.json', 'w'))
)",
                                   {dir.path().string(), std::to_string(seed % (uint64_t(1) << 62))}));
  const SafetensorsFile torch_file(dir / "torch.safetensors"), numpy_file(dir / "numpy.safetensors");
  CHECK(torch_file.metadata().at("format") == "pt");
  CHECK(torch_file.metadata().at("seed") == std::to_string(seed % (uint64_t(1) << 62)));
  CHECK(torch_file.tensors().size() == 5);
  CHECK(numpy_file.tensors().size() == 3);
  for (const auto& t : zo2::read_json_file(dir / "manifest.json")) {
    const auto name = t["name"].get<std::string>();
    INFO("tensor " << name);
    const SafetensorsFile& f = t["file"] == "torch" ? torch_file : numpy_file;
    const TensorInfo& info = f.at(name);
    CHECK(info.dtype == t["dtype"].get<std::string>());
    CHECK(info.shape == t["shape"].get<std::vector<int64_t>>());
    const std::string raw = read_bytes(t["bin"].get<std::string>());
    REQUIRE(info.bytes == raw.size());
    CHECK(std::memcmp(info.data, raw.data(), raw.size()) == 0);
  }
  // The reference library writes a directory checkpoint that the checkpoint reader opens too.
  std::filesystem::create_directories(dir / "ckpt");
  std::filesystem::copy_file(dir / "torch.safetensors", dir / "ckpt" / "model.safetensors");
  SafetensorsCheckpoint ckpt(dir / "ckpt");
  CHECK(find_decoder_prefix(ckpt, {"embed_tokens.weight", "layers.0.fc1.weight"}, {"model.decoder.", "decoder."}) == "model.decoder.");
}

TEST_CASE("safetensors written here are byte-identical to the reference writer's", "[safetensors][python]") {
  ZO2_REQUIRE_PYTHON("numpy, safetensors.numpy");
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  // The reference orders tensors by dtype, then name; with one dtype and sorted names, the order given is the same.
  auto tensors = random_tensors(rng, 1 + static_cast<int>(rng() % 9), {"F32"});
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  const auto path = dir / "ours.safetensors";
  write_safetensors(path, views(tensors), pytorch_metadata());
  ZO2_REQUIRE_PYTHON_OK(run_python(R"(
import sys
from safetensors.numpy import load_file, save_file
ours = sys.argv[1]
save_file(load_file(ours), sys.argv[2], metadata={'format': 'pt'})
a, b = open(ours, 'rb').read(), open(sys.argv[2], 'rb').read()
assert a == b, (a[:300], b[:300])
)",
                                   {path.string(), (dir / "theirs.safetensors").string()}));
}
