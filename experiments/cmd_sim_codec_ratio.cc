// `zo2 codec-ratio`: the lossless wire codec's size on real blocks: random N(0, sigma) blocks of preset shapes, or
// the transformer blocks of a safetensors checkpoint. Each block is coded with a table built on itself, decoded
// back and checked bitwise; the rows (raw bytes, coded bytes, ratio, symbol entropy) go to stdout and a CSV.
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/model_shape.h"
#include "core/results_csv.h"
#include "core/slab_layout.h"
#include "core/wire_codec.h"
#include "engine/io/half_convert.h"
#include "engine/io/safetensors.h"
#include "experiments/cmd_sim_common.h"
#include "experiments/commands.h"

namespace zo2::cli {

namespace {

struct RatioArgs {
  std::vector<std::string> models;
  std::string safetensors, block_prefix = "model.layers.", dtype = "bf16", out, source;
  double sigma = 0.02;
  uint64_t seed = 0;
  int threads = 0;
};

const char* kHeader = "date,commit,machine,dtype,source,blocks,bytes_raw,bytes_coded,ratio,entropy_bits,bytes_bound";

struct Totals {
  int64_t blocks = 0, raw = 0, coded = 0, bound = 0;
  double entropy_weighted = 0;  // entropy bits times elements
  int64_t elements = 0;
};

// Codes one block with its own table and checks the round trip.
void code_block(DType dt, const std::vector<uint16_t>& words, int threads, Totals& t) {
  const int64_t n = int64_t(words.size());
  const WireCodecTable table = wire_codec_table(dt, words.data(), n);
  std::vector<uint8_t> blob(static_cast<size_t>(wire_codec_max_bytes(n)));
  const int64_t bytes = wire_codec_encode(table, words.data(), n, blob.data(), int64_t(blob.size()), threads);
  std::vector<uint16_t> back(words.size());
  wire_codec_decode(blob.data(), bytes, back.data(), n, threads);
  if (std::memcmp(back.data(), words.data(), 2 * words.size()) != 0)
    throw std::runtime_error("codec-ratio: a block did not decode to its own bits");
  t.blocks++;
  t.raw += 2 * n;
  t.coded += bytes;
  t.bound += wire_codec_max_bytes(n);
  t.entropy_weighted += wire_symbol_entropy(dt, words.data(), n) * double(n);
  t.elements += n;
}

uint16_t convert(DType dt, float x) { return dt == DType::bf16 ? io::float_to_bf16_bits(x) : io::float_to_half_bits(x); }

// A tensor's elements as `dt` words: 16-bit data of the same type as is, anything else through fp32.
void append_tensor(DType dt, const io::TensorInfo& info, const std::string& name, std::vector<uint16_t>& out) {
  const int64_t n = info.numel();
  const size_t at = out.size();
  out.resize(at + size_t(n));
  if ((info.dtype == "BF16" && dt == DType::bf16) || (info.dtype == "F16" && dt == DType::f16)) {
    std::memcpy(out.data() + at, info.data, size_t(n) * 2);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    float x;
    if (info.dtype == "F32") {
      std::memcpy(&x, info.data + 4 * i, 4);
    } else if (info.dtype == "BF16" || info.dtype == "F16") {
      uint16_t h;
      std::memcpy(&h, info.data + 2 * i, 2);
      x = info.dtype == "BF16" ? io::bf16_bits_to_float(h) : io::half_bits_to_float(h);
    } else {
      throw std::invalid_argument(fmt::format("--safetensors: tensor {} has dtype {} (expected F32, F16 or BF16)",
                                              name, info.dtype));
    }
    out[at + size_t(i)] = convert(dt, x);
  }
}

std::string machine_name() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return fmt::format("{} (cpu)", host);
}

void append_csv(const std::string& path, const std::string& row) {
  std::string text;
  if (std::ifstream in(path); in) {
    std::string first;
    std::getline(in, first);
    if (first != kHeader)
      throw std::invalid_argument(fmt::format("--out {}: its header is not the codec-ratio header ({})", path, kHeader));
    text = first + "\n";
    for (std::string line; std::getline(in, line);) text += line + "\n";
  } else {
    text = std::string(kHeader) + "\n";
  }
  AtomicFile f(path);
  f.write(text + row + "\n");
  f.commit();
}

void run(const RatioArgs& a) {
  const DType dt = parse_dtype(a.dtype, "--dtype");
  if (dt != DType::bf16 && dt != DType::f16) throw std::invalid_argument("--dtype: expected bf16 or fp16");
  if (a.models.empty() == a.safetensors.empty())
    throw std::invalid_argument("codec-ratio: give either --model (random blocks) or --safetensors (a checkpoint)");
  std::vector<std::pair<std::string, Totals>> results;
  if (!a.models.empty()) {
    const uint64_t seed = a.seed ? a.seed : std::random_device{}();
    fmt::print("seed {}\n", seed);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, float(a.sigma));
    for (const std::string& m : a.models) {
      const ModelShape shape = load_model(m);
      const SlabLayout layout = block_layout(shape, 0, dt);
      std::vector<uint16_t> words(static_cast<size_t>(layout.elements));
      for (auto& w : words) w = convert(dt, normal(rng));
      Totals t;
      code_block(dt, words, a.threads, t);
      results.push_back({fmt::format("{} block N(0,{})", m, a.sigma), t});
    }
  } else {
    const io::SafetensorsFile file(a.safetensors);
    std::map<int64_t, std::vector<std::string>> blocks;  // layer index -> tensor names, in name order
    for (const auto& [name, info] : file.tensors()) {
      if (name.rfind(a.block_prefix, 0) != 0) continue;
      const std::string rest = name.substr(a.block_prefix.size());
      const size_t dot = rest.find('.');
      if (dot == 0 || dot == std::string::npos) continue;
      blocks[std::stoll(rest.substr(0, dot))].push_back(name);
    }
    if (blocks.empty())
      throw std::invalid_argument(fmt::format("--safetensors {}: no tensor named {}<i>.* (see --block-prefix)",
                                              a.safetensors, a.block_prefix));
    Totals t;
    for (const auto& [layer, names] : blocks) {
      std::vector<uint16_t> words;
      for (const std::string& name : names) append_tensor(dt, file.at(name), name, words);
      code_block(dt, words, a.threads, t);
    }
    results.push_back({a.source.empty() ? a.safetensors : a.source, t});
  }
  const std::string date = current_date_utc(), commit = current_commit(), machine = machine_name();
  for (const auto& [source, t] : results) {
    const double ratio = double(t.coded) / double(t.raw), h = t.entropy_weighted / double(t.elements);
    fmt::print("{} {}: {} blocks, {} raw bytes -> {} coded, ratio {:.4f}, symbol entropy {:.3f} bits, bound {}\n",
               dtype_name(dt), source, t.blocks, t.raw, t.coded, ratio, h, t.bound);
    if (!a.out.empty())
      append_csv(a.out, fmt::format("{},{},\"{}\",{},\"{}\",{},{},{},{:.5f},{:.4f},{}", date, commit, machine,
                                    dtype_name(dt), source, t.blocks, t.raw, t.coded, ratio, h, t.bound));
  }
}

}  // namespace

void add_codec_ratio_command(CLI::App& app) {
  auto args = std::make_shared<RatioArgs>();
  CLI::App* cmd = app.add_subcommand("codec-ratio", "measure the lossless wire codec's compression on blocks");
  cmd->add_option("--model", args->models, "presets or config.json directories: one random block of each shape");
  cmd->add_option("--sigma", args->sigma, "standard deviation of the random blocks")->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed of the random blocks (0: a fresh one, printed)");
  cmd->add_option("--safetensors", args->safetensors, "a checkpoint: every <block-prefix><i>.* group is a block");
  cmd->add_option("--block-prefix", args->block_prefix, "tensor name prefix of the blocks")->capture_default_str();
  cmd->add_option("--source", args->source, "the source's name in the rows (default: the file's path)");
  cmd->add_option("--dtype", args->dtype, "the blocks' format: bf16 or fp16")->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads of the codec (0: all)")->capture_default_str();
  cmd->add_option("--out", args->out, "append the rows to this CSV");
  cmd->callback([args] { run(*args); });
}

}  // namespace zo2::cli
