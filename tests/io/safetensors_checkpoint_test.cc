// SafetensorsCheckpoint over single-file and sharded directories, the sharded writer, and the key-prefix helper.
#include <cstring>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "engine/io/safetensors_checkpoint.h"
#include "engine/io/safetensors_write.h"
#include "io_test_util.h"
#include "random_tensors.h"

using namespace zo2::io;
using namespace zo2::io::test;
using Catch::Matchers::ContainsSubstring;

namespace {

void check_all(const SafetensorsCheckpoint& ckpt, const std::vector<OwnedTensor>& tensors) {
  REQUIRE(ckpt.names().size() == tensors.size());
  for (const auto& t : tensors) {
    INFO("tensor " << t.name);
    const TensorInfo& info = ckpt.at(t.name);
    CHECK(info.dtype == t.dtype);
    CHECK(info.shape == t.shape);
    REQUIRE(info.bytes == t.bytes.size());
    CHECK(std::memcmp(info.data, t.bytes.data(), info.bytes) == 0);
  }
}

size_t count_files(const std::filesystem::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("checkpoint: single model.safetensors", "[checkpoint]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  const auto tensors = random_tensors(rng, 6);
  const auto written = write_safetensors_sharded(dir.path(), views(tensors), uint64_t(1) << 40, pytorch_metadata());
  REQUIRE(written == std::vector<std::filesystem::path>{dir / "model.safetensors"});
  CHECK(count_files(dir.path()) == 1);
  SafetensorsCheckpoint ckpt(dir.path());
  CHECK_FALSE(ckpt.sharded());
  CHECK(ckpt.files().front()->metadata().at("format") == "pt");
  check_all(ckpt, tensors);
}

TEST_CASE("checkpoint: sharded writer packs greedily and the reader finds every tensor", "[checkpoint]") {
  const uint64_t seed = fresh_seed();
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  const auto tensors = random_tensors(rng, 20, {"F32", "BF16", "F16"});
  uint64_t total = 0, largest = 0;
  for (const auto& t : tensors) {
    total += t.bytes.size();
    largest = std::max<uint64_t>(largest, t.bytes.size());
  }
  const uint64_t max_bytes = std::max<uint64_t>(1, largest / 2 + rng() % (largest + 1));  // some tensors exceed it
  INFO("max shard bytes " << max_bytes << ", total " << total);
  const auto written = write_safetensors_sharded(dir.path(), views(tensors), max_bytes, pytorch_metadata());

  // Reference packing: a new shard when the next tensor would overflow a non-empty one.
  std::vector<std::vector<std::string>> expected(1);
  uint64_t current = 0;
  for (const auto& t : tensors) {
    if (current > 0 && current + t.bytes.size() > max_bytes) {
      expected.emplace_back();
      current = 0;
    }
    expected.back().push_back(t.name);
    current += t.bytes.size();
  }
  if (expected.size() == 1) {
    CHECK(written == std::vector<std::filesystem::path>{dir / "model.safetensors"});
  } else {
    const size_t n = expected.size();
    REQUIRE(written.size() == n + 1);
    CHECK(written.back() == dir / "model.safetensors.index.json");
    const nlohmann::json index = zo2::read_json_file(written.back());
    CHECK(index["metadata"]["total_size"].get<uint64_t>() == total);
    CHECK(index["weight_map"].size() == tensors.size());
    for (size_t s = 0; s < n; ++s) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, n);
      CHECK(written[s] == dir / name);
      SafetensorsFile shard(written[s]);
      CHECK(shard.tensors().size() == expected[s].size());
      for (const auto& t : expected[s]) CHECK(index["weight_map"][t].get<std::string>() == name);
    }
    CHECK(count_files(dir.path()) == n + 1);
  }
  SafetensorsCheckpoint ckpt(dir.path());
  CHECK(ckpt.sharded() == (expected.size() > 1));
  check_all(ckpt, tensors);
  if (ckpt.sharded()) CHECK(ckpt.file_of(tensors.back().name) == written[written.size() - 2]);
}

TEST_CASE("checkpoint: saving again in another layout removes the stale files", "[checkpoint]") {
  TempDir dir;
  std::mt19937_64 rng(fresh_seed());
  // Non-empty, so that a one-byte limit makes one shard each.
  const auto tensors = random_tensors(rng, 4, {"F32"}, /*allow_empty=*/false);
  write_safetensors_sharded(dir.path(), views(tensors), 1, {});
  CHECK(count_files(dir.path()) == 5);
  write_safetensors_sharded(dir.path(), views(tensors), uint64_t(1) << 40, {});
  CHECK(count_files(dir.path()) == 1);
  check_all(SafetensorsCheckpoint(dir.path()), tensors);
  write_safetensors(dir / "model.safetensors", {}, {});  // a stale single file would shadow a new index
  write_bytes(dir / "config.json", "{}");                 // not ours: kept
  write_safetensors_sharded(dir.path(), views(tensors), 1, {});
  CHECK_FALSE(std::filesystem::exists(dir / "model.safetensors"));
  CHECK(std::filesystem::exists(dir / "config.json"));
  SafetensorsCheckpoint ckpt(dir.path());
  CHECK(ckpt.sharded());
  check_all(ckpt, tensors);
}

TEST_CASE("checkpoint: errors name the directory, index, shard and tensor", "[checkpoint][errors]") {
  TempDir dir;
  const auto missing_dir = dir / "nowhere";
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(missing_dir),
                      ContainsSubstring(missing_dir.string()) && ContainsSubstring("not a directory"));
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(dir.path()),
                      ContainsSubstring(dir.path().string()) && ContainsSubstring("neither model.safetensors nor "
                                                                                  "model.safetensors.index.json"));

  const float v[4] = {1, 2, 3, 4};
  const auto index = dir / "model.safetensors.index.json";
  write_safetensors(dir / "model-00001-of-00002.safetensors", {{"decoder.a", "F32", {2}, v, 8}}, {});

  write_bytes(index, R"({"metadata": {}})");
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(dir.path()),
                      ContainsSubstring(index.string()) && ContainsSubstring("field 'weight_map'"));
  write_bytes(index, R"({"weight_map": {"decoder.a": 3}})");
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(dir.path()),
                      ContainsSubstring(index.string()) && ContainsSubstring("tensor 'decoder.a'"));
  write_bytes(index, R"({"weight_map": {"decoder.a": "model-00001-of-00002.safetensors", )"
                     R"("decoder.b": "model-00002-of-00002.safetensors"}})");
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(dir.path()),
                      ContainsSubstring(index.string()) &&
                          ContainsSubstring("shard 'model-00002-of-00002.safetensors' (holding tensor 'decoder.b') "
                                            "is missing"));
  write_safetensors(dir / "model-00002-of-00002.safetensors", {{"decoder.c", "F32", {2}, v + 2, 8}}, {});
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(dir.path()),
                      ContainsSubstring((dir / "model-00002-of-00002.safetensors").string()) &&
                          ContainsSubstring("tensor 'decoder.b' is listed in") && ContainsSubstring(index.string()));
  write_bytes(index, R"({"weight_map": {"decoder.a": "model-00001-of-00002.safetensors", )");
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(dir.path()),
                      ContainsSubstring(index.string()) && ContainsSubstring("not valid JSON"));

  // A corrupt shard is reported with the shard's own path.
  write_bytes(index, R"({"weight_map": {"decoder.a": "model-00001-of-00002.safetensors"}})");
  write_bytes(dir / "model-00001-of-00002.safetensors", "oops");
  REQUIRE_THROWS_WITH(SafetensorsCheckpoint(dir.path()),
                      ContainsSubstring((dir / "model-00001-of-00002.safetensors").string()) &&
                          ContainsSubstring("shorter than the 8-byte header length"));

  write_safetensors(dir / "model-00001-of-00002.safetensors", {{"decoder.a", "F32", {2}, v, 8}}, {});
  SafetensorsCheckpoint ok(dir.path());
  REQUIRE_THROWS_WITH(ok.at("decoder.c"),  // in a shard but not in the index: not part of the checkpoint
                      ContainsSubstring(dir.path().string()) && ContainsSubstring("no tensor named 'decoder.c'"));
}

TEST_CASE("checkpoint: model.safetensors wins over an index, as in transformers", "[checkpoint]") {
  TempDir dir;
  const float v[2] = {1, 2};
  write_safetensors(dir / "model.safetensors", {{"x", "F32", {2}, v, 8}}, {});
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"y": "missing.safetensors"}})");
  SafetensorsCheckpoint ckpt(dir.path());
  CHECK_FALSE(ckpt.sharded());
  CHECK(ckpt.contains("x"));
}

TEST_CASE("find_decoder_prefix finds model.decoder. or decoder., and names both when neither fits", "[checkpoint]") {
  const std::vector<std::string> wanted{"embed_tokens.weight", "layers.0.fc1.weight", "final_layer_norm.bias"};
  const std::vector<std::string> opt_prefixes{"model.decoder.", "decoder."};  // OPT's (core/family_opt.cc)
  const float v[1] = {0};
  for (const std::string prefix : {"model.decoder.", "decoder."}) {
    TempDir dir;
    std::vector<TensorToWrite> tensors;
    for (const auto& w : wanted) tensors.push_back({prefix + w, "F32", {1}, v, 4});
    tensors.push_back({"lm_head.weight", "F32", {1}, v, 4});
    write_safetensors(dir / "model.safetensors", tensors, {});
    CHECK(find_decoder_prefix(SafetensorsCheckpoint(dir.path()), wanted, opt_prefixes) == prefix);
  }
  TempDir dir;
  write_safetensors(dir / "model.safetensors",
                    {{"decoder.embed_tokens.weight", "F32", {1}, v, 4}, {"transformer.h.0.w", "F32", {1}, v, 4}}, {});
  SafetensorsCheckpoint ckpt(dir.path());
  REQUIRE_THROWS_WITH(find_decoder_prefix(ckpt, wanted, opt_prefixes),
                      ContainsSubstring(dir.path().string()) &&
                          ContainsSubstring("'model.decoder.' (0 of 3 found, first missing "
                                            "'model.decoder.embed_tokens.weight')") &&
                          ContainsSubstring("'decoder.' (1 of 3 found, first missing 'decoder.layers.0.fc1.weight')"));
  CHECK(find_decoder_prefix(ckpt, {"h.0.w"}, {"model.", "transformer."}) == "transformer.");
}
