// Plan <-> JSON and the plan's text table.
#include "core/plan_json.h"

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace zo2 {

using nlohmann::json;

static json terms_to_json(const std::vector<MemoryTerm>& terms) {
  json a = json::array();
  for (const auto& t : terms)
    a.push_back({{"name", t.name}, {"bytes", t.bytes}, {"what", t.what}, {"live", std::string(live_name(t.live))}});
  return a;
}

json plan_to_json(const Plan& p) {
  json ops = json::array();
  for (const auto& op : p.ops) {
    json o = {{"name", op.name},
                   {"kind", std::string(op_kind_name(op.kind))},
                   {"queue", std::string(queue_name(op.queue))},
                   {"layer", op.layer},
                   {"slot", op.slot},
                   {"link_bytes", op.link_bytes},
                   {"flops", op.flops},
                   {"mem_bytes", op.mem_bytes},
                   {"rng_samples", op.rng_samples},
                   {"elements", op.elements},
                   {"kernels", op.kernels},
                   {"pass", op.pass},
                   {"updates", op.updates},
                   {"pinned", op.pinned},
                   {"deps", op.deps}};
    // Only in chained plans (--prefetch-next), so other plans read as before.
    if (op.next_step) o["next_step"] = true;
    if (!op.prev_deps.empty()) o["prev_deps"] = op.prev_deps;
    ops.push_back(std::move(o));
  }
  return json{{"model", shape_to_hf_config(p.shape, std::string(dtype_name(p.policy.dtype)))},
              {"policy", policy_to_json(p.policy)},
              {"batch", p.batch},
              {"seq", p.seq},
              {"step", p.step},
              {"continues", p.continues},
              {"slot_count", p.slot_count},
              {"slot_bytes", p.slot_bytes},
              {"wire_block_bytes", p.wire_block_bytes},
              {"compute_block_bytes", p.compute_block_bytes},
              {"staging_bytes", p.staging_bytes},
              {"codec_scratch_bytes", p.codec_scratch_bytes},
              {"coded_upload_bytes", p.coded_upload_bytes},
              {"memory",
               {{"gpu", terms_to_json(p.memory.gpu)},
                {"gpu_total", p.memory.gpu_total()},
                {"alloc_live",
                 {{"any", p.memory.alloc.any}, {"forward", p.memory.alloc.forward}, {"head", p.memory.alloc.head}}},
                {"host", terms_to_json(p.memory.host)},
                {"host_total", p.memory.host_total()}}},
              {"ops", ops}};
}

namespace {

template <typename T>
T field(const json& j, const char* name, const std::string& where, const char* expected) {
  auto it = j.find(name);
  if (it == j.end()) throw std::invalid_argument(fmt::format("{}: missing field '{}' (expected {})", where, name, expected));
  try {
    return it->template get<T>();
  } catch (const json::exception&) {
    throw std::invalid_argument(fmt::format("{}: field '{}': expected {}, got {}", where, name, expected, it->dump()));
  }
}

// An optional field: `fallback` when absent (plans written before the field existed), else as field().
template <typename T>
T optional_field(const json& j, const char* name, T fallback, const std::string& where, const char* expected) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected an object, got {}", where, j.dump()));
  return j.contains(name) ? field<T>(j, name, where, expected) : fallback;
}

// Op sizes and counts: the simulator turns them into durations, so they must be non-negative.
template <typename T>
T count_field(const json& j, const char* name, const std::string& where) {
  const T v = optional_field<T>(j, name, T(0), where, "a non-negative number");
  if (!(v >= 0))
    throw std::invalid_argument(fmt::format("{}: field '{}': expected a non-negative number, got {}", where, name, v));
  return v;
}

OpKind parse_kind(const std::string& s, const std::string& where) {
  for (int k = 0; k < kOpKindCount; ++k)
    if (op_kind_name(OpKind(k)) == s) return OpKind(k);
  throw std::invalid_argument(fmt::format("{}: field 'kind': '{}' is not an op kind", where, s));
}

Queue parse_queue(const std::string& s, const std::string& where) {
  for (int q = 0; q < kQueueCount; ++q)
    if (queue_name(Queue(q)) == s) return Queue(q);
  throw std::invalid_argument(
      fmt::format("{}: field 'queue': '{}' is not a queue (expected h2d, compute, d2h, host or host_update)", where, s));
}

std::vector<MemoryTerm> terms_from_json(const json& a, const std::string& where) {
  std::vector<MemoryTerm> out;
  if (!a.is_array()) throw std::invalid_argument(fmt::format("{}: expected an array of memory terms", where));
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string w = fmt::format("{}[{}]", where, i);
    // "live": plans written before terms had it are always live.
    const std::string live = optional_field<std::string>(a[i], "live", "always", w, "a string");
    out.push_back({field<std::string>(a[i], "name", w, "a string"), field<int64_t>(a[i], "bytes", w, "an integer"),
                   optional_field<std::string>(a[i], "what", "", w, "a string"), parse_live(live, w)});
  }
  return out;
}

}  // namespace

Plan plan_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected a plan object", where));
  Plan p;
  p.shape = shape_from_hf_config(field<json>(j, "model", where, "an HF config object"), where + ": model");
  p.policy = resolve_policy(policy_options_from_json(field<json>(j, "policy", where, "a policy object"), where + ": policy"),
                            p.shape.layers);
  p.batch = field<int64_t>(j, "batch", where, "an integer");
  p.seq = field<int64_t>(j, "seq", where, "an integer");
  p.step = field<int64_t>(j, "step", where, "an integer");
  // Plans written before --prefetch-next existed start fresh.
  p.continues = optional_field<bool>(j, "continues", false, where, "true or false");
  p.slot_count = field<int>(j, "slot_count", where, "an integer");
  p.slot_bytes = field<int64_t>(j, "slot_bytes", where, "an integer");
  p.wire_block_bytes = field<int64_t>(j, "wire_block_bytes", where, "an integer");
  p.compute_block_bytes = field<int64_t>(j, "compute_block_bytes", where, "an integer");
  // Plans written before --wire-codec existed stage nothing.
  p.staging_bytes = count_field<int64_t>(j, "staging_bytes", where);
  p.codec_scratch_bytes = count_field<int64_t>(j, "codec_scratch_bytes", where);
  p.coded_upload_bytes = count_field<int64_t>(j, "coded_upload_bytes", where);
  const json memory = field<json>(j, "memory", where, "an object");
  p.memory.gpu = terms_from_json(field<json>(memory, "gpu", where + ": memory", "an array"), where + ": memory.gpu");
  p.memory.host = terms_from_json(field<json>(memory, "host", where + ": memory", "an array"), where + ": memory.host");
  const json ops = field<json>(j, "ops", where, "an array of ops");
  if (!ops.is_array()) throw std::invalid_argument(fmt::format("{}: field 'ops': expected an array", where));
  for (size_t i = 0; i < ops.size(); ++i) {
    const json& o = ops[i];
    const std::string w = fmt::format("{}: ops[{}]", where, i);
    Op op;
    op.name = field<std::string>(o, "name", w, "a string");
    op.kind = parse_kind(field<std::string>(o, "kind", w, "a string"), w);
    op.queue = parse_queue(field<std::string>(o, "queue", w, "a string"), w);
    op.layer = optional_field<int64_t>(o, "layer", -1, w, "an integer");
    op.slot = optional_field<int>(o, "slot", -1, w, "an integer");
    op.link_bytes = count_field<int64_t>(o, "link_bytes", w);
    op.flops = count_field<double>(o, "flops", w);
    op.mem_bytes = count_field<int64_t>(o, "mem_bytes", w);
    op.rng_samples = count_field<int64_t>(o, "rng_samples", w);
    op.elements = count_field<int64_t>(o, "elements", w);
    op.kernels = count_field<int>(o, "kernels", w);
    op.pass = optional_field<int>(o, "pass", 0, w, "an integer");
    op.updates = count_field<int64_t>(o, "updates", w);
    op.pinned = optional_field<bool>(o, "pinned", true, w, "true or false");
    op.deps = field<std::vector<int>>(o, "deps", w, "an array of earlier op indices");
    for (int d : op.deps)
      if (d < 0 || size_t(d) >= i)
        throw std::invalid_argument(fmt::format("{}: field 'deps': {} is not the index of an earlier op", w, d));
    op.next_step = optional_field<bool>(o, "next_step", false, w, "true or false");
    if (o.contains("prev_deps")) {
      op.prev_deps = field<std::vector<int>>(o, "prev_deps", w, "an array of op indices of the previous step's plan");
      for (int d : op.prev_deps)
        if (d < 0) throw std::invalid_argument(fmt::format("{}: field 'prev_deps': {} is not an op index", w, d));
      if (!op.prev_deps.empty() && !p.continues)
        throw std::invalid_argument(fmt::format("{}: field 'prev_deps': the plan does not continue a previous one "
                                                "(field 'continues')", w));
    }
    p.ops.push_back(std::move(op));
  }
  // The per-upload buffers live at once follow from the ops as they stand (an edited plan included, or one written
  // before memory terms said when they are live).
  if (p.policy.slots == SlotMode::alloc) {
    p.memory.alloc = alloc_live(p);
    for (auto& t : p.memory.gpu)
      if (t.name == "slots") {
        t.live = Live::per_upload;
        t.bytes = p.memory.alloc.any;
      }
  }
  return p;
}

// "3,5" and, for ops waiting for the previous step's plan, "p12".
static std::string deps_text(const Op& op) {
  std::string s = fmt::format("{}", fmt::join(op.deps, ","));
  for (int d : op.prev_deps) s += fmt::format("{}p{}", s.empty() ? "" : ",", d);
  return s;
}

std::string plan_table(const Plan& p) {
  std::string s = fmt::format("plan: {} layers, {}, slot count {} x {} B, step {}{}, batch {}, seq {}\n",
                              p.shape.layers, policy_summary(p.policy), p.slot_count, p.slot_bytes, p.step,
                              p.continues ? " (continues the previous step's plan: deps p<i> are its ops)" : "",
                              p.batch, p.seq);
  s += fmt::format("{:>5}  {:<16} {:<12} {:>4}  {:>14}  {:>12}  {:>14}  {}\n", "#", "op", "queue", "slot", "link bytes",
                   "GFLOP", "mem bytes", "deps");
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const Op& op = p.ops[i];
    s += fmt::format("{:>5}  {:<16} {:<12} {:>4}  {:>14}  {:>12.3f}  {:>14}  {}\n", i, op.name, queue_name(op.queue),
                     op.slot >= 0 ? std::to_string(op.slot) : std::string("-"), op.link_bytes, op.flops * 1e-9,
                     op.mem_bytes, deps_text(op));
  }
  s += "GPU memory prediction:\n";
  for (const auto& t : p.memory.gpu)
    s += fmt::format("  {:<16} {:>16} B  {:>10}  [{}] {}\n", t.name, t.bytes, format_bytes(t.bytes), live_name(t.live),
                     t.what);
  s += fmt::format("  {:<16} {:>16} B  {:>10}  always-live terms + the largest of the moments (layer_workspace "
                   "with the per-upload buffers live then; logits likewise; wire_decode with all of them; the most per-upload "
                   "buffers)\n",
                   "total", p.memory.gpu_total(), format_bytes(p.memory.gpu_total()));
  s += "host memory prediction:\n";
  for (const auto& t : p.memory.host)
    s += fmt::format("  {:<16} {:>16} B  {:>10}  {}\n", t.name, t.bytes, format_bytes(t.bytes), t.what);
  s += fmt::format("  {:<16} {:>16} B  {:>10}\n", "total", p.memory.host_total(), format_bytes(p.memory.host_total()));
  return s;
}

}  // namespace zo2
