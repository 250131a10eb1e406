// Policy parsing, validation and JSON form.
#include "core/policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace zo2 {

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

namespace {

template <typename T>
struct IsCount : std::false_type {};
template <int64_t Min>
struct IsCount<knob::Count<Min>> : std::true_type {};

// The range each kind's value must lie in (a Policy edited by hand is checked as one resolved from options).
template <typename Kind>
void check_range(const typename Kind::Value& v, std::string_view flag) {
  if constexpr (IsCount<Kind>::value) {
    if (v < Kind::min) throw std::invalid_argument(fmt::format("{}: expected an integer >= {}, got {}", flag, Kind::min, v));
  } else if constexpr (std::is_same_v<Kind, knob::Bytes>) {
    if (v < 0) throw std::invalid_argument(fmt::format("{}: expected bytes >= 0, got {}", flag, v));
  }
}

// JSON: counts and byte counts as integers, everything else as the flag's text.
template <typename Kind>
nlohmann::json value_json(const typename Kind::Value& v) {
  if constexpr (std::is_same_v<typename Kind::Value, int64_t>) return v;
  else return Kind::text(v);
}

template <typename Kind>
typename Kind::Option option_of_value(const typename Kind::Value& v) {
  if constexpr (std::is_same_v<typename Kind::Option, int64_t>) return v;
  else return Kind::text(v);
}

// One option value from JSON; errors name `where` and the field. Switches take a JSON boolean too, byte counts an
// integer.
template <typename Kind>
typename Kind::Option option_from_json_value(const nlohmann::json& v, const std::string& where, const std::string& field) {
  if constexpr (Kind::integer) {
    if (!v.is_number_integer())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be an integer, got {}", where, field, v.dump()));
    return v.get<int64_t>();
  } else {
    if constexpr (std::is_same_v<Kind, knob::Switch>)
      if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
    if constexpr (std::is_same_v<Kind, knob::Bytes>)
      if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
    if (!v.is_string())
      throw std::invalid_argument(fmt::format("{}: field '{}' must be a string, got {}", where, field, v.dump()));
    return v.get<std::string>();
  }
}

std::string knob_names() {
  std::string out;
  for (const auto& k : policy_knobs()) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

}  // namespace

void Policy::validate() const {
  if (offload.empty()) throw std::invalid_argument("policy: the model has no layers");
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) check_range<Kind>(name, flag);
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  if (dtype == DType::fp8_e4m3)
    throw std::invalid_argument("--dtype: fp8 is not a compute format (expected fp32, bf16 or fp16)");
  if (master == DType::fp8_e4m3)
    throw std::invalid_argument("--master: fp8 is not a master format (expected fp32, bf16 or fp16)");
  if (!gpu_writes_back() && writeback != 1)
    throw std::invalid_argument(fmt::format(
        "--writeback {}: with --wire {} below --master {} nothing is copied back (the host updates its master every "
        "step), so --writeback must be 1",
        writeback, dtype_name(wire), dtype_name(master)));
  if (wire_codec == WireCodec::lossless) {
    if (wire != DType::bf16 && wire != DType::f16)
      throw std::invalid_argument(fmt::format(
          "--wire-codec lossless codes 16-bit floats: --wire {} is not bf16 or fp16 (expected --wire bf16 or fp16, "
          "or --wire-codec raw)",
          dtype_name(wire)));
    if (!gpu_writes_back())
      throw std::invalid_argument(fmt::format(
          "--wire-codec lossless needs the wire at least as precise as the master (got --wire {} below --master {}): "
          "the host would re-encode its wire copy after every host update, which the codec does not do (expected "
          "--wire-codec raw)",
          dtype_name(wire), dtype_name(master)));
  }
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

Policy resolve_policy(const PolicyOptions& o, int64_t layers) {
  if (layers <= 0) throw std::invalid_argument(fmt::format("policy: the model has {} layers", layers));
  Policy p;
  const knob::Context c{layers, &p};
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) p.name = Kind::parse(o.name, c, flag);
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  p.validate();
  return p;
}

nlohmann::json policy_to_json(const Policy& p) {
  nlohmann::json j = nlohmann::json::object();
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) j[#name] = value_json<Kind>(p.name);
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  return j;
}

PolicyOptions policy_options_of(const Policy& p) {
  PolicyOptions o;
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) o.name = option_of_value<Kind>(p.name);
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  return o;
}

std::vector<std::pair<std::string, std::string>> policy_fields(const Policy& p) {
  std::vector<std::pair<std::string, std::string>> out;
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) out.emplace_back(#name, Kind::text(p.name));
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  return out;
}

std::string policy_summary(const Policy& p) {
  std::string out;
  const auto fields = policy_fields(p);
  for (size_t i = 0; i < fields.size(); ++i)
    out += fmt::format("{}{} {}", i ? ", " : "", policy_knobs()[i].flag.substr(2), fields[i].second);
  return out;
}

static void check_fields(const nlohmann::json& j, const std::string& where, const std::vector<std::string>& skip) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected an object of policy fields", where));
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = std::find(skip.begin(), skip.end(), it.key()) != skip.end();
    for (const auto& k : policy_knobs()) ok = ok || it.key() == k.name;
    if (!ok)
      throw std::invalid_argument(
          fmt::format("{}: unknown policy field '{}' (expected {})", where, it.key(), knob_names()));
  }
}

PolicyOptions policy_options_from_json(const nlohmann::json& j, const std::string& where) {
  check_fields(j, where, {});
  PolicyOptions o;
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) \
  if (j.contains(#name)) o.name = option_from_json_value<Kind>(j[#name], where, #name);
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  return o;
}

PolicyGrid search_defaults() {
  PolicyGrid g;
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) \
  g.name = std::vector<Kind::Option> ZO2_KNOB_LIST tried;
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  return g;
}

PolicyGrid policy_grid_from_json(const nlohmann::json& j, const std::string& where, const std::vector<std::string>& skip) {
  check_fields(j, where, skip);
  PolicyGrid g;
  auto list = [&](const char* field, auto& out, auto&& one) {
    if (!j.contains(field)) return;
    const nlohmann::json& v = j[field];
    out.clear();
    if (!v.is_array()) {
      out.push_back(one(v, std::string(field)));
      return;
    }
    if (v.empty())
      throw std::invalid_argument(fmt::format("{}: field '{}': expected a non-empty list of values, got []", where, field));
    for (size_t i = 0; i < v.size(); ++i) out.push_back(one(v[i], fmt::format("{}[{}]", field, i)));
  };
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried)                          \
  list(#name, g.name, [&](const nlohmann::json& v, const std::string& f) {                            \
    return option_from_json_value<Kind>(v, where, f);                                                 \
  });
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  return g;
}

void for_each_policy_options(const PolicyGrid& grid, const PolicyOptions& base,
                             const std::function<void(const PolicyOptions&)>& fn) {
  // One axis per knob with values: its size and how to set value i.
  std::vector<std::pair<size_t, std::function<void(PolicyOptions&, size_t)>>> axes;
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) \
  if (!grid.name.empty())                                                   \
    axes.emplace_back(grid.name.size(), [&grid](PolicyOptions& o, size_t i) { o.name = grid.name[i]; });
  ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  std::vector<size_t> index(axes.size(), 0);
  PolicyOptions o = base;
  while (true) {
    for (size_t a = 0; a < axes.size(); ++a) axes[a].second(o, index[a]);
    fn(o);
    size_t a = axes.size();
    while (a > 0 && ++index[a - 1] == axes[a - 1].first) index[--a] = 0;
    if (a == 0) break;
  }
}

}  // namespace zo2
