// The knob kinds' parsing and the knob table as data (core/policy_knobs.h).
#include "core/policy_knobs.h"

#include <stdexcept>

#include <fmt/format.h>

#include "core/policy.h"

namespace zo2 {

std::string_view slot_mode_name(SlotMode m) { return m == SlotMode::reuse ? "reuse" : "alloc"; }
std::string_view wire_codec_name(WireCodec c) { return c == WireCodec::raw ? "raw" : "lossless"; }

namespace knob {

Offload::Value Offload::parse(const Option& o, const Context& c, std::string_view flag) {
  return parse_offload(o, c.layers, flag);
}
std::string Offload::text(const Value& v) { return format_offload(v); }

SlotMode Slots::parse(const Option& s, const Context&, std::string_view flag) {
  if (s == "reuse") return SlotMode::reuse;
  if (s == "alloc") return SlotMode::alloc;
  throw std::invalid_argument(fmt::format("{}: '{}' is not a slot mode (expected reuse or alloc)", flag, s));
}

WireCodec Codec::parse(const Option& s, const Context&, std::string_view flag) {
  if (s == "raw") return WireCodec::raw;
  if (s == "lossless") return WireCodec::lossless;
  throw std::invalid_argument(fmt::format("{}: '{}' is not a wire codec (expected raw or lossless)", flag, s));
}

bool Switch::parse(const Option& s, const Context&, std::string_view flag) {
  if (s == "on" || s == "true" || s == "1") return true;
  if (s == "off" || s == "false" || s == "0") return false;
  throw std::invalid_argument(fmt::format("{}: '{}' is not a switch (expected on or off)", flag, s));
}

DType Format::parse(const Option& o, const Context&, std::string_view flag) { return parse_dtype(o, flag); }

DType FormatOrDtype::parse(const Option& o, const Context& c, std::string_view flag) {
  return o.empty() ? c.so_far->dtype : parse_dtype(o, flag);
}

int64_t Bytes::parse(const Option& o, const Context&, std::string_view flag) { return parse_bytes(o, flag); }

}  // namespace knob

std::string_view search_role_name(knob::Search s) {
  switch (s) {
    case knob::Search::grid: return "grid";
    case knob::Search::resident_sets: return "resident_sets";
    default: return "budget";
  }
}

namespace {
template <typename T>
std::string option_text(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) return v;
  else return std::to_string(v);
}
}  // namespace

const std::vector<KnobInfo>& policy_knobs() {
  static const std::vector<KnobInfo> knobs{
#define ZO2_X(name, Kind, option, value, flag, help, legacy, search, tried) \
  KnobInfo{#name, Kind::kind, flag, help, legacy, option_text(Kind::Option(option)), search, Kind::integer},
      ZO2_POLICY_KNOBS(ZO2_X)
#undef ZO2_X
  };
  return knobs;
}

}  // namespace zo2
