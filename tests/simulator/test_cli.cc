// `zo2 simulate`, `zo2 plan` and `zo2 sweep` end to end (runs the binary named by $ZO2_BIN, as ctest sets it).
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

using Catch::Matchers::ContainsSubstring;

namespace {

struct Output {
  int status = 0;
  std::string text;  // stdout and stderr together
};

Output run(const std::string& args) {
  const char* bin = std::getenv("ZO2_BIN");
  Output o;
  std::FILE* p = popen((std::string(bin) + " " + args + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), int(buf.size()), p)) o.text += buf.data();
  const int st = pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

std::filesystem::path temp_dir() {
  auto d = std::filesystem::temp_directory_path() / ("zo2_test_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return d;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("zo2 simulate writes json with the documented keys and a trace", "[cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  const auto dir = temp_dir();
  const Output o = run("simulate --model opt-1.3b --profile h100-targets --prefetch 2 --writeback 4 --format json "
                       "--trace " + (dir / "t.json").string());
  REQUIRE(o.status == 0);
  const auto j = nlohmann::json::parse(o.text);
  for (const char* key : {"step_seconds", "tokens_per_second", "peak_gpu_bytes", "h2d_busy_fraction",
                          "d2h_busy_fraction", "gpu_busy_fraction", "peak_host_bytes"})
    CHECK(j.contains(key));
  CHECK(j["policy"]["writeback"] == 4);
  const auto trace = nlohmann::json::parse(read(dir / "t.json"));
  CHECK(trace["traceEvents"].size() > 4 * 24 * 5);
  const Output csv = run("simulate --model opt-125m --format csv");
  REQUIRE(csv.status == 0);
  CHECK_THAT(csv.text, ContainsSubstring("commit,date,card,driver,executor,model"));
  // ..., writeback, prefetch_next, fold_update (on by default), host_threads, fused_kernels (on), wire_codec,
  // gpu_mem_budget, metric
  CHECK_THAT(csv.text,
             ContainsSubstring(",sim,opt-125m,1,2048,fp16,all,1,reuse,on,fp16,fp16,1,off,on,0,on,raw,0,step_seconds,"));
  const Output next = run("simulate --model opt-125m --prefetch-next on --fold-update off --format csv");
  REQUIRE(next.status == 0);
  CHECK_THAT(next.text, ContainsSubstring(",fp16,fp16,1,on,off,0,on,raw,0,step_seconds,"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("zo2 simulate and zo2 plan reject bad flags, naming them", "[cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  Output o = run("simulate --model opt-125m --offload 3-40");
  CHECK(o.status == 2);
  CHECK_THAT(o.text, ContainsSubstring("--offload"));
  o = run("simulate --model opt-13b --gpu-mem-budget 2GB");
  CHECK(o.status == 2);
  CHECK_THAT(o.text, ContainsSubstring("--gpu-mem-budget") && ContainsSubstring("slots"));
  o = run("plan --model opt-125m --wire fp8 --master fp32 --writeback 2");
  CHECK(o.status == 2);
  CHECK_THAT(o.text, ContainsSubstring("--writeback"));
  o = run("simulate --model nosuchmodel");
  CHECK_THAT(o.text, ContainsSubstring("--model") && ContainsSubstring("opt-125m"));
  o = run("plan --model opt-125m --offload 0-5 --format json");
  REQUIRE(o.status == 0);
  CHECK(nlohmann::json::parse(o.text)["ops"].size() > 12 * 5);
  o = run("simulate --model opt-125m --prefetch-next maybe");
  CHECK(o.status == 2);
  CHECK_THAT(o.text, ContainsSubstring("--prefetch-next") && ContainsSubstring("on or off"));
  o = run("simulate --model opt-125m --fold-update maybe");
  CHECK(o.status == 2);
  CHECK_THAT(o.text, ContainsSubstring("--fold-update") && ContainsSubstring("on or off"));
  // Resident blocks fold by default: their zo= is a zo_fold op; off, none is.
  for (const char* fold : {"on", "off"}) {
    o = run(std::string("plan --model opt-125m --offload none --fold-update ") + fold + " --format json");
    REQUIRE(o.status == 0);
    const auto j = nlohmann::json::parse(o.text);
    CHECK(j["policy"]["fold_update"] == fold);
    size_t folds = 0;
    for (const auto& op : j["ops"]) folds += op["kind"] == "zo_fold";
    CHECK(folds == (std::string(fold) == "on" ? 12 + 1 : 0));  // the blocks and the resident group
  }
  o = run("plan --model opt-125m --prefetch-next on --slots alloc");
  CHECK(o.status == 2);
  CHECK_THAT(o.text, ContainsSubstring("--prefetch-next") && ContainsSubstring("--slots"));
  // A later step's plan continues the one before it: its first blocks come from that plan's early uploads.
  o = run("plan --model opt-125m --prefetch 1 --prefetch-next on --step 2 --format json");
  REQUIRE(o.status == 0);
  const auto plan = nlohmann::json::parse(o.text);
  CHECK(plan["continues"] == true);
  CHECK(plan["policy"]["prefetch_next"] == "on");
  size_t waits = 0;
  for (const auto& op : plan["ops"]) waits += op.contains("prev_deps");
  CHECK(waits >= 2);
}

TEST_CASE("zo2 sweep writes one row per configuration and metric, and names bad spec fields", "[cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  const auto dir = temp_dir();
  const auto spec = dir / "spec.json";
  std::ofstream(spec) << R"({"models": ["opt-125m", "opt-350m"], "profiles": ["h100-targets", "h200-targets"],
    "seq": [512, 2048], "policies": [{"prefetch": [0, 1], "writeback": [1, 4]}],
    "search": {"gpu_mem_budget": ["2GB"], "prefetch": [1], "writeback": [1, 2]}})";
  const auto out = dir / "out.csv";
  Output o = run("sweep " + spec.string() + " --out " + out.string());
  REQUIRE(o.status == 0);
  const std::string csv = read(out);
  const size_t lines = size_t(std::count(csv.begin(), csv.end(), '\n'));
  // 2 models x 2 profiles x 2 seqs x (4 grid policies + 1 search winner) x 15 metrics, plus the header.
  CHECK(lines == 1 + 2 * 2 * 2 * 5 * 15);
  CHECK_THAT(o.text, ContainsSubstring("search opt-125m"));

  auto bad = [&](const std::string& text, const std::string& a, const std::string& b) {
    std::ofstream(spec) << text;
    const Output r = run("sweep " + spec.string() + " --out " + (dir / "bad.csv").string());
    CHECK(r.status == 2);
    CHECK_THAT(r.text, ContainsSubstring(a) && ContainsSubstring(b));
    CHECK_FALSE(std::filesystem::exists(dir / "bad.csv"));
  };
  bad(R"({"profiles": ["h100-targets"], "policies": [{}]})", "models", "expected");
  bad(R"({"models": ["opt-125m"], "profiles": ["h100-targets"], "policies": [{"prefetch": "one"}]})", "prefetch",
      "integer");
  bad(R"({"models": ["opt-125m"], "profiles": ["h100-targets"], "policies": [{"prefech": 1}]})", "prefech",
      "unknown policy field");
  bad(R"({"models": ["opt-125m"], "profiles": ["h100-targets"], "batch": [0], "policies": [{}]})", "batch",
      "integer > 0");
  bad(R"({"models": ["opt-125m"], "profiles": ["h100-targets"], "search": {"resident": ["middle"]}})", "resident",
      "first");
  bad(R"({"models": ["opt-125m"], "profiles": ["h100-targets"], "search": {"budget": "2GB"}})", "budget",
      "gpu_mem_budget");
  bad(R"({"models": ["opt-125m"], "profiles": ["h100-targets"]})", "policies", "asks for nothing");
  bad(R"({"models": ["opt-125m"], "profiles": ["nope"], "policies": [{}]})", "--profile", "h100-targets");
  std::filesystem::remove_all(dir);
}

TEST_CASE("zo2 simulate --plan runs a plan file as written, edits included", "[cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  const auto dir = temp_dir();
  const auto plan = dir / "plan.json";
  REQUIRE(run("plan --model opt-1.3b --prefetch 1 --format json --out " + plan.string()).status == 0);
  auto step = [&](const std::filesystem::path& p) {
    const Output o = run("simulate --plan " + p.string() + " --format json");
    REQUIRE(o.status == 0);
    return nlohmann::json::parse(o.text)["step_seconds"].get<double>();
  };
  const Output built = run("simulate --model opt-1.3b --prefetch 1 --format json");
  REQUIRE(built.status == 0);
  CHECK(step(plan) == nlohmann::json::parse(built.text)["step_seconds"].get<double>());
  // Serialise the uploads behind every compute op of the previous block: the step gets slower.
  auto j = nlohmann::json::parse(read(plan));
  for (auto& op : j["ops"])
    if (op["kind"] == "upload") op["queue"] = "compute";
  std::ofstream(dir / "edited.json") << j.dump();
  CHECK(step(dir / "edited.json") > step(plan));
  std::filesystem::remove_all(dir);
}

TEST_CASE("zo2 sweep refuses a spec of more policies than --max-policies, naming the count and the flag", "[cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  const auto dir = temp_dir();
  const auto spec = dir / "big.json";
  // 2 models x 1 profile x 3 seqs x (3 x 4 grid policies + the search's 4 candidates: 2 prefetch x 2 writeback) = 96.
  std::ofstream(spec) << R"({"models": ["opt-125m", "opt-350m"], "profiles": ["h100-targets"], "seq": [256, 512, 1024],
    "policies": [{"prefetch": [0, 1, 2], "writeback": [1, 2, 4, 8]}],
    "search": {"resident_counts": [0], "prefetch": [0, 1], "writeback": [1, 2], "slots": ["reuse"],
               "overlap": ["on"], "prefetch_next": ["off"]}})";
  const auto out = dir / "out.csv";
  const Output refused = run("sweep " + spec.string() + " --out " + out.string() + " --max-policies 95");
  CHECK(refused.status == 2);
  CHECK_THAT(refused.text, ContainsSubstring("96 policies") && ContainsSubstring("--max-policies 96"));
  CHECK_FALSE(std::filesystem::exists(out));
  const Output ran = run("sweep " + spec.string() + " --out " + out.string() + " --max-policies 96");
  CHECK(ran.status == 0);
  CHECK(std::filesystem::exists(out));
  std::filesystem::remove_all(dir);
}

TEST_CASE("zo2 simulate answers a write-back cycle of a million steps within seconds", "[cli]") {
  if (!std::getenv("ZO2_BIN")) SKIP("ZO2_BIN is not set (run through ctest)");
  const auto t0 = std::chrono::steady_clock::now();
  const Output o = run("simulate --model opt-175b --writeback 1000000 --format json");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(o.text.substr(0, 2000));
  REQUIRE(o.status == 0);
  CHECK(seconds < 10);
  const auto j = nlohmann::json::parse(o.text);
  CHECK(j["cycle_steps"] == 1000000);
  CHECK_FALSE(j.contains("cycle_step_seconds"));  // a million entries would be no answer to read
  const Output refused = run("simulate --model opt-175b --writeback 20000000");
  CHECK(refused.status == 2);
  CHECK_THAT(refused.text, ContainsSubstring("--writeback 20000000") && ContainsSubstring("<= 10000000"));
}
