// Policy parsing, validation and JSON form.
#include "core/policy.h"

#include <cctype>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zo2 {

std::string_view slot_mode_name(SlotMode m) { return m == SlotMode::reuse ? "reuse" : "alloc"; }

int64_t Policy::offloaded_count() const {
  int64_t n = 0;
  for (bool b : offload) n += b;
  return n;
}

bool at_least_as_precise(DType a, DType b) {
  if (a == b) return true;
  if (a == DType::f32) return true;
  return false;  // fp16 vs bf16 either way, or anything vs fp32, or fp8 vs anything else
}

bool Policy::gpu_writes_back() const { return at_least_as_precise(wire, master); }

void Policy::validate() const {
  if (offload.empty()) throw std::invalid_argument("policy: the model has no layers");
  if (prefetch < 0)
    throw std::invalid_argument(fmt::format("--prefetch: expected an integer >= 0, got {}", prefetch));
  if (writeback < 1)
    throw std::invalid_argument(fmt::format("--writeback: expected an integer >= 1, got {}", writeback));
  if (gpu_mem_budget < 0)
    throw std::invalid_argument(fmt::format("--gpu-mem-budget: expected bytes >= 0, got {}", gpu_mem_budget));
  if (dtype == DType::fp8_e4m3)
    throw std::invalid_argument("--dtype: fp8 is not a compute format (expected fp32, bf16 or fp16)");
  if (master == DType::fp8_e4m3)
    throw std::invalid_argument("--master: fp8 is not a master format (expected fp32, bf16 or fp16)");
  if (!gpu_writes_back() && writeback != 1)
    throw std::invalid_argument(fmt::format(
        "--writeback {}: with --wire {} below --master {} nothing is copied back (the host updates its master every "
        "step), so --writeback must be 1",
        writeback, dtype_name(wire), dtype_name(master)));
  // The next step's uploads must run beside this step's tail on a queue of their own, into slots that outlive the
  // step, from a host copy that is final once this step's copy back is done.
  if (prefetch_next && !overlap)
    throw std::invalid_argument(
        "--prefetch-next on needs --overlap on: on one queue the next step's uploads would run before the loss, not "
        "beside the step's tail");
  if (prefetch_next && slots == SlotMode::alloc)
    throw std::invalid_argument(
        "--prefetch-next on needs --slots reuse: a per-upload buffer would outlive the step that allocated it");
  if (prefetch_next && !gpu_writes_back())
    throw std::invalid_argument(fmt::format(
        "--prefetch-next on needs the wire at least as precise as the master (got --wire {} below --master {}): the "
        "host updates its master after the step's loss, so the next step's upload could not start before it",
        dtype_name(wire), dtype_name(master)));
}

static std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

static int64_t parse_layer_number(const std::string& s, std::string_view whole, std::string_view what) {
  if (s.empty() || s.size() > 9)
    throw std::invalid_argument(
        fmt::format("{} '{}': '{}' is not a layer number (expected all, none or a list like 0-5,8,10-11)", what, whole, s));
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      throw std::invalid_argument(fmt::format(
          "{} '{}': '{}' is not a layer number (expected all, none or a list like 0-5,8,10-11)", what, whole, s));
  return std::stoll(s);
}

std::vector<bool> parse_offload(std::string_view text, int64_t layers, std::string_view what) {
  const std::string t = trim(text);
  if (t == "all") return std::vector<bool>(size_t(layers), true);
  if (t == "none") return std::vector<bool>(size_t(layers), false);
  if (t.empty())
    throw std::invalid_argument(fmt::format("{}: empty value (expected all, none or a list like 0-5,8,10-11)", what));
  std::vector<bool> out(size_t(layers), false);
  size_t pos = 0;
  while (pos <= t.size()) {
    size_t comma = t.find(',', pos);
    if (comma == std::string::npos) comma = t.size();
    const std::string item = trim(std::string_view(t).substr(pos, comma - pos));
    const size_t dash = item.find('-');
    int64_t lo, hi;
    if (dash == std::string::npos) {
      lo = hi = parse_layer_number(item, t, what);
    } else {
      lo = parse_layer_number(trim(std::string_view(item).substr(0, dash)), t, what);
      hi = parse_layer_number(trim(std::string_view(item).substr(dash + 1)), t, what);
      if (hi < lo)
        throw std::invalid_argument(fmt::format("{} '{}': range '{}' runs backwards (expected low-high)", what, t, item));
    }
    if (hi >= layers)
      throw std::invalid_argument(fmt::format("{} '{}': layer {} is outside the model's layers 0-{}", what, t, hi,
                                              layers - 1));
    for (int64_t l = lo; l <= hi; ++l) out[size_t(l)] = true;
    pos = comma + 1;
  }
  return out;
}

std::string format_offload(const std::vector<bool>& offload) {
  bool all = true, none = true;
  for (bool b : offload) {
    all = all && b;
    none = none && !b;
  }
  if (all) return "all";
  if (none) return "none";
  std::string out;
  const int64_t n = int64_t(offload.size());
  for (int64_t l = 0; l < n;) {
    if (!offload[size_t(l)]) {
      ++l;
      continue;
    }
    int64_t e = l;
    while (e + 1 < n && offload[size_t(e + 1)]) ++e;
    if (!out.empty()) out += ',';
    out += (e == l) ? fmt::format("{}", l) : fmt::format("{}-{}", l, e);
    l = e + 1;
  }
  return out;
}

std::string offload_spec_first_resident(int64_t resident, int64_t layers) {
  if (resident <= 0) return "all";
  if (resident >= layers) return "none";
  return resident == layers - 1 ? fmt::format("{}", resident) : fmt::format("{}-{}", resident, layers - 1);
}

std::string offload_spec_last_resident(int64_t resident, int64_t layers) {
  if (resident <= 0) return "all";
  if (resident >= layers) return "none";
  const int64_t last = layers - 1 - resident;
  return last == 0 ? std::string("0") : fmt::format("0-{}", last);
}

int64_t parse_bytes(std::string_view text, std::string_view what) {
  const std::string t = trim(text);
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  const std::string number = t.substr(0, i), unit = trim(std::string_view(t).substr(i));
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "KB" || unit == "kB") scale = 1e3;
  else if (unit == "MB") scale = 1e6;
  else if (unit == "GB") scale = 1e9;
  else if (unit == "TB") scale = 1e12;
  else if (unit == "KiB") scale = 1024.0;
  else if (unit == "MiB") scale = 1024.0 * 1024;
  else if (unit == "GiB") scale = 1024.0 * 1024 * 1024;
  else if (unit == "TiB") scale = 1024.0 * 1024 * 1024 * 1024;
  double value = -1;
  if (!number.empty() && scale > 0) {
    try {
      size_t used = 0;
      value = std::stod(number, &used);
      if (used != number.size()) value = -1;
    } catch (const std::exception&) {
      value = -1;
    }
  }
  if (value < 0 || !std::isfinite(value * scale) || value * scale > 9e18)
    throw std::invalid_argument(fmt::format(
        "{}: '{}' is not a byte count (expected a number with an optional unit B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
        what, t));
  return int64_t(std::llround(value * scale));
}

static SlotMode parse_slots(std::string_view s) {
  if (s == "reuse") return SlotMode::reuse;
  if (s == "alloc") return SlotMode::alloc;
  throw std::invalid_argument(fmt::format("--slots: '{}' is not a slot mode (expected reuse or alloc)", s));
}

static bool parse_on_off(std::string_view s, std::string_view what) {
  if (s == "on" || s == "true" || s == "1") return true;
  if (s == "off" || s == "false" || s == "0") return false;
  throw std::invalid_argument(fmt::format("{}: '{}' is not a switch (expected on or off)", what, s));
}

Policy resolve_policy(const PolicyOptions& o, int64_t layers) {
  if (layers <= 0) throw std::invalid_argument(fmt::format("policy: the model has {} layers", layers));
  Policy p;
  p.offload = parse_offload(o.offload, layers);
  p.prefetch = o.prefetch;
  p.slots = parse_slots(o.slots);
  p.overlap = parse_on_off(o.overlap, "--overlap");
  p.dtype = parse_dtype(o.dtype, "--dtype");
  p.wire = o.wire.empty() ? p.dtype : parse_dtype(o.wire, "--wire");
  p.master = o.master.empty() ? p.dtype : parse_dtype(o.master, "--master");
  p.writeback = o.writeback;
  p.gpu_mem_budget = parse_bytes(o.gpu_mem_budget, "--gpu-mem-budget");
  p.prefetch_next = parse_on_off(o.prefetch_next, "--prefetch-next");
  p.fold_update = parse_on_off(o.fold_update, "--fold-update");
  p.validate();
  return p;
}

nlohmann::json policy_to_json(const Policy& p) {
  return nlohmann::json{{"offload", format_offload(p.offload)},
                        {"prefetch", p.prefetch},
                        {"slots", std::string(slot_mode_name(p.slots))},
                        {"overlap", p.overlap ? "on" : "off"},
                        {"dtype", std::string(dtype_name(p.dtype))},
                        {"wire", std::string(dtype_name(p.wire))},
                        {"master", std::string(dtype_name(p.master))},
                        {"writeback", p.writeback},
                        {"gpu_mem_budget", p.gpu_mem_budget},
                        {"prefetch_next", p.prefetch_next ? "on" : "off"},
                        {"fold_update", p.fold_update ? "on" : "off"}};
}

PolicyOptions policy_options_of(const Policy& p) {
  PolicyOptions o;
  o.offload = format_offload(p.offload);
  o.prefetch = p.prefetch;
  o.slots = std::string(slot_mode_name(p.slots));
  o.overlap = p.overlap ? "on" : "off";
  o.dtype = std::string(dtype_name(p.dtype));
  o.wire = std::string(dtype_name(p.wire));
  o.master = std::string(dtype_name(p.master));
  o.writeback = p.writeback;
  o.gpu_mem_budget = std::to_string(p.gpu_mem_budget);
  o.prefetch_next = p.prefetch_next ? "on" : "off";
  o.fold_update = p.fold_update ? "on" : "off";
  return o;
}

PolicyOptions policy_options_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected an object of policy fields", where));
  PolicyOptions o;
  auto str = [&](const char* field, std::string& out) {
    if (!j.contains(field)) return;
    if (!j[field].is_string())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be a string, got {}", where, field, j[field].dump()));
    out = j[field].get<std::string>();
  };
  auto integer = [&](const char* field, int64_t& out) {
    if (!j.contains(field)) return;
    if (!j[field].is_number_integer())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be an integer, got {}", where, field, j[field].dump()));
    out = j[field].get<int64_t>();
  };
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* known[] = {"offload", "prefetch",  "slots",          "overlap",      "dtype",
                                  "wire",    "master",    "writeback",      "gpu_mem_budget", "prefetch_next",
                                  "fold_update"};
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok)
      throw std::invalid_argument(fmt::format(
          "{}: unknown policy field '{}' (expected offload, prefetch, slots, overlap, dtype, wire, master, writeback, "
          "gpu_mem_budget, prefetch_next, fold_update)",
          where, it.key()));
  }
  str("offload", o.offload);
  integer("prefetch", o.prefetch);
  str("slots", o.slots);
  // The switches take on/off or a JSON boolean.
  auto on_off = [&](const char* field, std::string& out) {
    if (j.contains(field) && j[field].is_boolean()) out = j[field].get<bool>() ? "on" : "off";
    else str(field, out);
  };
  on_off("overlap", o.overlap);
  on_off("prefetch_next", o.prefetch_next);
  on_off("fold_update", o.fold_update);
  str("dtype", o.dtype);
  str("wire", o.wire);
  str("master", o.master);
  integer("writeback", o.writeback);
  if (j.contains("gpu_mem_budget") && j["gpu_mem_budget"].is_number_integer())
    o.gpu_mem_budget = std::to_string(j["gpu_mem_budget"].get<int64_t>());
  else str("gpu_mem_budget", o.gpu_mem_budget);
  return o;
}

}  // namespace zo2
