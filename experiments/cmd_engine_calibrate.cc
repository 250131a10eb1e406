// zo2 calibrate: measure this GPU machine into a hardware profile (simulator/README.md's schema), written atomically.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/json_file.h"
#include "core/policy.h"
#include "experiments/commands.h"
#include "simulator/calibration_profile.h"
#include "simulator/profile.h"
#ifdef ZO2_HAVE_CUDA
#include "engine/calibrate.h"
#endif

namespace zo2::cli {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

[[maybe_unused]] std::vector<int64_t> parse_sizes(const std::string& text, const char* flag) {
  std::vector<int64_t> out;
  for (const auto& item : split_list(text)) out.push_back(parse_bytes(item, flag));
  if (out.empty()) throw std::invalid_argument(fmt::format("{}: expected a comma-separated list of sizes", flag));
  return out;
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  struct Args {
    std::string out, name, models = "opt-1.3b,opt-6.7b,opt-13b,opt-30b", dtype = "fp16", alloc_field = "engine";
    std::string copy_sizes = "1MiB,4MiB,16MiB,64MiB,256MiB,1GiB", alloc_sizes = "1MiB,16MiB,256MiB,1GiB";
    std::string concurrent_bytes = "1GiB";
    int64_t batch = 1, seq = 2048, gemm_size = 8192;
    double resident_seconds = 2.0;
    int repeats = 7, warmup = 2;
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "measure this GPU machine (copies, allocation, GEMM, the engine's block forward and ZO passes) into "
                   "a hardware profile JSON for zo2 simulate --profile");
  cmd->add_option("--out", args->out, "profile JSON to write (atomically), e.g. simulator/profiles/h100.json")->required();
  cmd->add_option("--name", args->name, "the profile's name (default: the --out file's stem)");
  cmd->add_option("--models", args->models, "OPT or LLaMA presets whose block shapes are timed (comma-separated)")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "batch size of the block timings")->capture_default_str();
  cmd->add_option("--seq", args->seq, "sequence length of the block timings")->capture_default_str();
  cmd->add_option("--dtype", args->dtype, "compute format of the block timings: fp16, bf16 or fp32")->capture_default_str();
  cmd->add_option("--repeats", args->repeats, "timed repeats per quantity (the median is kept)")->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "untimed runs before each quantity")->capture_default_str();
  cmd->add_option("--copy-sizes", args->copy_sizes, "host<->device copy sizes (comma-separated, 1MiB, 1GB, bytes)")
      ->capture_default_str();
  cmd->add_option("--concurrent-bytes", args->concurrent_bytes, "copy size of the both-directions measurement")
      ->capture_default_str();
  cmd->add_option("--alloc-sizes", args->alloc_sizes, "allocation sizes (each model's block size is added)")
      ->capture_default_str();
  cmd->add_option("--gemm-size", args->gemm_size, "N of the NxNxN GEMM rate measurement")->capture_default_str();
  cmd->add_option("--alloc-field", args->alloc_field,
                  "what malloc_free_seconds holds: engine (the engine's --slots alloc cost: caching allocator, no "
                  "fill) or cudamalloc (a raw cudaMalloc + cudaFree pair); both are kept under 'calibration'")
      ->capture_default_str();
  cmd->add_option("--resident-seconds", args->resident_seconds,
                  "timed seconds of the resident block loop per model (every block of the model in its own slab, "
                  "back to back, zo= folded as --fold-update runs it: block_timings[].resident_block_seconds, "
                  "resident_loop \"folded\"); 0 skips it")
      ->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "no progress lines on stderr");
  cmd->callback([args] {
#ifdef ZO2_HAVE_CUDA
    CalibrateOptions o;
    o.name = args->name.empty() ? std::filesystem::path(args->out).stem().string() : args->name;
    o.models = split_list(args->models);
    o.batch = args->batch;
    o.seq = args->seq;
    o.dtype = parse_dtype(args->dtype, "--dtype");
    o.repeats = args->repeats;
    o.warmup = args->warmup;
    o.copy_sizes = parse_sizes(args->copy_sizes, "--copy-sizes");
    o.alloc_sizes = parse_sizes(args->alloc_sizes, "--alloc-sizes");
    o.concurrent_bytes = parse_bytes(args->concurrent_bytes, "--concurrent-bytes");
    o.gemm_size = args->gemm_size;
    o.alloc_field = args->alloc_field;
    o.resident_seconds = args->resident_seconds;
    o.verbose = !args->quiet;
    const nlohmann::json profile = calibration_profile_json(measure_hardware(o));
    // What calibrate writes must load in the simulator: check with its own loader before anything is written.
    sim::parse_profile(profile, args->out);
    write_json_file_atomic(args->out, profile);
    fmt::print("wrote {} ({} block timings)\n", args->out, profile["block_timings"].size());
#else
    throw std::runtime_error(
        "zo2 calibrate measures a GPU and needs a CUDA build: this zo2 was built without CUDA (ZO2_WITH_CUDA=OFF or a "
        "CPU-only LibTorch); build with CUDA on the GPU machine");
#endif
  });
}

}  // namespace zo2::cli
