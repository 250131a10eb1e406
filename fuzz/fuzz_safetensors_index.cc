// libFuzzer target: a sharded checkpoint's model.safetensors.index.json, opened as SafetensorsCheckpoint opens a
// model directory, beside two real shards (written once by the project's writer, named as transformers names them,
// then kept in memory so each input costs no file system work).
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "core/model_family.h"
#include "engine/io/safetensors_checkpoint.h"
#include "engine/io/safetensors_write.h"
#include "fuzz/fuzz_input.h"

namespace {

const std::filesystem::path kDir = "fuzz-model";

std::map<std::filesystem::path, std::vector<char>> make_shards() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "zo2-fuzz-index-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) std::abort();
  const std::filesystem::path tmp(tmpl);
  const float a[2] = {1, 2}, b[3] = {3, 4, 5};
  const uint16_t c[4] = {0x3c00, 0x4000, 0x4200, 0x4400};
  using zo2::io::TensorToWrite;
  const std::map<std::string, std::vector<TensorToWrite>> shards{
      {"model-00001-of-00002.safetensors",
       {TensorToWrite{"model.decoder.embed_tokens.weight", "F32", {2}, a, sizeof a},
        TensorToWrite{"model.decoder.layers.0.fc1.weight", "F32", {3}, b, sizeof b}}},
      {"model-00002-of-00002.safetensors", {TensorToWrite{"lm_head.weight", "F16", {2, 2}, c, sizeof c}}}};
  std::map<std::filesystem::path, std::vector<char>> bytes;
  for (const auto& [name, tensors] : shards) {
    zo2::io::write_safetensors(tmp / name, tensors, zo2::io::pytorch_metadata());
    std::ifstream in(tmp / name, std::ios::binary);
    bytes[kDir / name].assign(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::remove_all(tmp);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto shards = make_shards();
  const zo2::io::SafetensorsCheckpoint::ShardOpener open = [](const std::filesystem::path& path) {
    auto it = shards.find(path);
    return it == shards.end() ? nullptr
                              : std::make_unique<zo2::io::SafetensorsFile>(
                                    reinterpret_cast<const std::byte*>(it->second.data()), it->second.size(), path);
  };
  return zo2::fuzz::expect_clean([&] {
    const zo2::io::SafetensorsCheckpoint ckpt(kDir, zo2::fuzz::text(data, size), open);
    size_t bytes = 0;
    for (const auto& name : ckpt.names()) bytes += ckpt.at(name).bytes + ckpt.file_of(name).string().size();
    volatile size_t sink = bytes;
    (void)sink;
    // Every family's key prefixes (core/family_*.cc), as the loader tries them.
    for (const auto* family : zo2::model_families())
      zo2::fuzz::expect_clean(
          [&] { zo2::io::find_decoder_prefix(ckpt, {"embed_tokens.weight"}, family->checkpoint_prefixes()); });
  });
}
