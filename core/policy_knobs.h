// The policy knobs, each defined once: the PolicyOptions and Policy fields, JSON keys, CLI flags, results columns,
// plan fields, search and sweep dimensions and `zo2 knobs` all expand ZO2_POLICY_KNOBS (ARCHITECTURE.md decision 3).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/dtype.h"

namespace zo2 {

enum class SlotMode : uint8_t { reuse, alloc };
std::string_view slot_mode_name(SlotMode m);
// How a block crosses the link: as it is, or through the lossless wire codec (core/wire_codec.h).
enum class WireCodec : uint8_t { raw, lossless };
std::string_view wire_codec_name(WireCodec c);

struct Policy;

namespace knob {

// How a knob takes part in `zo2 sweep`'s search for the fastest policy.
enum class Search : uint8_t {
  grid,           // a list of values to try (SearchSpace::grid)
  resident_sets,  // offload: tried as the first or last N blocks resident (SearchSpace::resident_*)
  budget,         // gpu_mem_budget: the search's memory budget, not a dimension
};

// What resolving a knob may look at: the model's layer count and the knobs resolved before it (table order).
struct Context {
  int64_t layers = 0;
  const Policy* so_far = nullptr;
};

// Each kind of knob: its option type (as typed), its value type (resolved), parsing with errors naming the flag,
// the text form (flags, CSV cells, summaries) and the JSON form. Implemented in core/policy_knobs.cc.
struct Offload {  // "all", "none" or a list "0-5,8,10-11" -> one bool per layer
  using Option = std::string;
  using Value = std::vector<bool>;
  static constexpr const char* kind = "offload";
  static constexpr bool integer = false, show_default = true;
  static Value parse(const Option& o, const Context& c, std::string_view flag);
  static std::string text(const Value& v);
};
template <int64_t Min>
struct Count {  // an integer >= Min
  using Option = int64_t;
  using Value = int64_t;
  static constexpr const char* kind = "integer";
  static constexpr bool integer = true, show_default = true;
  static constexpr int64_t min = Min;
  static Value parse(const Option& o, const Context&, std::string_view) { return o; }
  static std::string text(const Value& v) { return std::to_string(v); }
};
struct Slots {  // reuse or alloc
  using Option = std::string;
  using Value = SlotMode;
  static constexpr const char* kind = "choice";
  static constexpr bool integer = false, show_default = true;
  static Value parse(const Option& o, const Context& c, std::string_view flag);
  static std::string text(const Value& v) { return std::string(slot_mode_name(v)); }
};
struct Codec {  // raw or lossless
  using Option = std::string;
  using Value = WireCodec;
  static constexpr const char* kind = "choice";
  static constexpr bool integer = false, show_default = true;
  static Value parse(const Option& o, const Context& c, std::string_view flag);
  static std::string text(const Value& v) { return std::string(wire_codec_name(v)); }
};
struct Switch {  // on or off (true/false/1/0, and a JSON boolean)
  using Option = std::string;
  using Value = bool;
  static constexpr const char* kind = "switch";
  static constexpr bool integer = false, show_default = true;
  static Value parse(const Option& o, const Context& c, std::string_view flag);
  static std::string text(const Value& v) { return v ? "on" : "off"; }
};
struct Format {  // fp32, bf16, fp16, fp8
  using Option = std::string;
  using Value = DType;
  static constexpr const char* kind = "dtype";
  static constexpr bool integer = false, show_default = true;
  static Value parse(const Option& o, const Context& c, std::string_view flag);
  static std::string text(const Value& v) { return std::string(dtype_name(v)); }
};
struct FormatOrDtype : Format {  // as Format; empty: the same as --dtype (resolved before it)
  static constexpr bool show_default = false;
  static Value parse(const Option& o, const Context& c, std::string_view flag);
};
struct Bytes {  // "40GB", "40GiB", "512MB", "1024", "0" (a JSON integer too)
  using Option = std::string;
  using Value = int64_t;
  static constexpr const char* kind = "bytes";
  static constexpr bool integer = false, show_default = true;
  static Value parse(const Option& o, const Context& c, std::string_view flag);
  static std::string text(const Value& v) { return std::to_string(v); }
};

}  // namespace knob

// Brace lists inside a macro argument: ZO2_KNOB_LIST (a, b) expands to {a, b}.
#define ZO2_KNOB_LIST(...) {__VA_ARGS__}

// One line per knob, in the results CSV's column order (new knobs go before gpu_mem_budget, so old files migrate by
// inserting columns; analysis/results_rows.py). Fields:
//   name       PolicyOptions/Policy field, JSON key, CSV column, sweep and search key
//   Kind       a knob:: kind above
//   option     the default as typed (PolicyOptions)
//   value      the resolved default (Policy)
//   flag       the CLI flag (also what errors name)
//   help       the flag's help
//   legacy     what a results row written before this column existed ran ("" for the knobs every row has)
//   search     its part in the search (knob::Search)
//   tried      the values the search tries by default, as ZO2_KNOB_LIST arguments (() for no grid)
// Knob semantics beyond parsing (cross-checks, what the plan does with them) live in Policy::validate and core/plan.
#define ZO2_POLICY_KNOBS(X)                                                                                         \
  X(dtype, knob::Format, "fp16", DType::f16, "--dtype", "compute format on the GPU: fp32, bf16 or fp16", "",         \
    knob::Search::grid, ("fp16"))                                                                                   \
  X(offload, knob::Offload, "all", {}, "--offload", "blocks kept in host memory: all, none or a list like 0-5,8,10-11", \
    "", knob::Search::resident_sets, ())                                                                            \
  X(prefetch, knob::Count<0>, 1, 1, "--prefetch", "blocks uploaded ahead of the one computing (>= 0)", "",           \
    knob::Search::grid, (0, 1, 2, 4))                                                                               \
  X(slots, knob::Slots, "reuse", SlotMode::reuse, "--slots",                                                        \
    "reuse: fixed reusable GPU slots; alloc: allocate per upload", "", knob::Search::grid, ("reuse"))               \
  X(overlap, knob::Switch, "on", true, "--overlap", "on: h2d, compute and d2h queues overlap; off: one queue", "",   \
    knob::Search::grid, ("on"))                                                                                     \
  X(wire, knob::FormatOrDtype, "", DType::f16, "--wire", "format on the link: fp32, bf16, fp16 or fp8 (default: --dtype)", \
    "", knob::Search::grid, (""))                                                                                   \
  X(master, knob::FormatOrDtype, "", DType::f16, "--master", "host master format: fp32, bf16 or fp16 (default: --dtype)", \
    "", knob::Search::grid, (""))                                                                                   \
  X(writeback, knob::Count<1>, 1, 1, "--writeback", "copy a block back every K steps (K >= 1)", "",                  \
    knob::Search::grid, (1, 2, 4, 8, 16))                                                                           \
  X(prefetch_next, knob::Switch, "off", false, "--prefetch-next",                                                   \
    "on: upload the next step's first blocks while this step's last block and head compute", "off",                \
    knob::Search::grid, ("off"))                                                                                    \
  X(fold_update, knob::Switch, "on", true, "--fold-update",                                                         \
    "on: blocks that stay on the GPU apply a step's update in its restore pass, after the loss; off: ZO2's "         \
    "order (the update waits for the next step's first pass)",                                                      \
    "off", knob::Search::grid, ("on"))                                                                       \
  X(host_threads, knob::Count<0>, 0, 0, "--host-threads",                                                           \
    "host threads that apply the master update when --wire is below --master (0: all of the host's threads)", "0",  \
    knob::Search::grid, (0))                                                                                        \
  X(fused_kernels, knob::Switch, "on", true, "--fused-kernels",                                                     \
    "on: the rotary families' (LLaMA, Qwen3, Mistral) blocks run fused CUDA kernels and one GEMM for q|k|v and for " \
    "gate|up; off: transformers' ops one for one (on the CPU and for OPT it changes nothing)", "off",              \
    knob::Search::grid, ("on"))                                                                                     \
  X(wire_codec, knob::Codec, "raw", WireCodec::raw, "--wire-codec",                                                 \
    "raw: offloaded blocks cross the link as they are; lossless: bf16/fp16 exponents entropy-coded on the host "    \
    "side and decoded on the GPU (bitwise the raw run)",                                                            \
    "raw", knob::Search::grid, ("raw"))                                                                             \
  X(gpu_mem_budget, knob::Bytes, "0", 0, "--gpu-mem-budget",                                                        \
    "refuse a plan whose predicted GPU memory exceeds this (bytes, or 40GB, 40GiB; 0 = none)", "",                  \
    knob::Search::budget, ())

// What every knob's table line says, as data (for `zo2 knobs`, the tests and generic loops).
struct KnobInfo {
  std::string_view name, kind, flag, help, legacy;
  std::string option_default;  // as typed ("" for wire and master: the same as --dtype)
  knob::Search search;
  bool integer;                // the option is an integer (else text)
};
const std::vector<KnobInfo>& policy_knobs();
std::string_view search_role_name(knob::Search s);

}  // namespace zo2
