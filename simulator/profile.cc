// Hardware profile parsing and lookup; every error names the file, the field and the expected value.
#include "simulator/profile.h"

#include <cmath>
#include <cstdlib>
#include <functional>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/model_family.h"

namespace zo2::sim {

std::string_view resident_loop_name(ResidentLoop l) {
  return l == ResidentLoop::folded ? "folded" : "pending";
}

double SizeTable::at(double bytes) const {
  if (points.empty()) return 0;
  if (bytes <= points.front().first) return points.front().second;
  if (bytes >= points.back().first) return points.back().second;
  for (size_t i = 1; i < points.size(); ++i) {
    if (bytes > points[i].first) continue;
    const auto& [x0, y0] = points[i - 1];
    const auto& [x1, y1] = points[i];
    const double t = (std::log(bytes) - std::log(x0)) / (std::log(x1) - std::log(x0));
    return y0 + t * (y1 - y0);
  }
  return points.back().second;
}

double HardwareProfile::concurrent_factor() const {
  const double alone = h2d_pinned.at(concurrent_copy_bytes) + d2h_pinned.at(concurrent_copy_bytes);
  return alone > 0 ? concurrent_bytes_per_second / alone : 1.0;
}

bool BlockTiming::matches(const ModelShape& s) const {
  return family == s.family && hidden == s.hidden && ffn == s.ffn && heads == s.heads &&
         resolved_kv_heads() == s.key_value_heads() && resolved_head_dim() == s.head_dim();
}

bool ModelTiming::matches(const ModelShape& s) const {
  return family == s.family && hidden == s.hidden && vocab == s.vocab_size && proj == s.word_embed_proj_dim;
}

const BlockTiming* HardwareProfile::find_block_timing(const ModelShape& shape, DType dt, int64_t batch,
                                                      int64_t seq) const {
  for (const auto& t : block_timings)
    if (t.matches(shape) && t.dtype == dt && t.batch == batch && t.seq == seq) return &t;
  return nullptr;
}

const ModelTiming* HardwareProfile::find_model_timing(const ModelShape& shape, DType dt, int64_t batch,
                                                      int64_t seq) const {
  for (const auto& t : model_timings)
    if (t.matches(shape) && t.dtype == dt && t.batch == batch && t.seq == seq) return &t;
  return nullptr;
}

namespace {

// Records written before the family registry name no family: only OPT and LLaMA presets' blocks were measured then,
// so the preset with the record's sizes says which (OPT when none has them, as before LLaMA).
const ModelShape* legacy_preset(const std::function<bool(const ModelShape&)>& same_sizes) {
  static const std::vector<ModelShape> kLegacy = [] {
    std::vector<ModelShape> v;
    for (const std::string family : {"opt", "llama"})
      for (const auto& [name, shape] : model_family(family).presets()) v.push_back(shape);
    return v;
  }();
  for (const auto& s : kLegacy)
    if (same_sizes(s)) return &s;
  return nullptr;
}

using nlohmann::json;

class Reader {
 public:
  Reader(const json& j, std::string where) : j_(j), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

  [[noreturn]] void fail(const std::string& field, const std::string& expected, const json* got) const {
    throw std::invalid_argument(fmt::format("{}: field '{}': expected {}{}", where_, field, expected,
                                            got ? ", got " + got->dump() : std::string(", but it is missing")));
  }

  const json* find(const std::string& field) const {
    auto it = j_.find(field);
    return it == j_.end() ? nullptr : &*it;
  }

  std::string string(const std::string& field, bool required = true) const {
    const json* v = find(field);
    if (!v) {
      if (required) fail(field, "a string", nullptr);
      return "";
    }
    if (!v->is_string()) fail(field, "a string", v);
    return v->get<std::string>();
  }

  // A plain field of a measured-timing record: an integer > 0, or seconds > 0.
  int64_t positive_integer(const char* field) const {
    const json* v = find(field);
    if (!v || !v->is_number_integer() || v->get<int64_t>() <= 0) fail(field, "an integer > 0", v);
    return v->get<int64_t>();
  }
  double positive_seconds(const char* field) const {
    const json* v = find(field);
    if (!v || !v->is_number() || !(v->get<double>() > 0)) fail(field, "seconds > 0", v);
    return v->get<double>();
  }

  // {"value": x, "source": "..."} with x > 0 (or >= 0 when allow_zero).
  double number(const std::string& field, std::map<std::string, std::string>& sources, bool allow_zero = false) const {
    const json* v = find(field);
    const std::string expected = fmt::format("an object {{\"value\": a number {} 0, \"source\": \"where it comes from\"}}",
                                             allow_zero ? ">=" : ">");
    if (!v || !v->is_object()) fail(field, expected, v);
    return value_of(*v, field, expected, sources, allow_zero);
  }

  double value_of(const json& v, const std::string& field, const std::string& expected,
                  std::map<std::string, std::string>& sources, bool allow_zero) const {
    auto val = v.find("value");
    auto src = v.find("source");
    if (val == v.end() || !val->is_number()) fail(field + ".value", expected, val == v.end() ? nullptr : &*val);
    const double x = val->get<double>();
    if (!std::isfinite(x) || x < 0 || (!allow_zero && x == 0))
      fail(field + ".value", allow_zero ? "a number >= 0" : "a number > 0", &*val);
    if (src == v.end() || !src->is_string() || src->get<std::string>().empty())
      fail(field + ".source", "a non-empty string citing where the number comes from",
           src == v.end() ? nullptr : &*src);
    sources[field] = src->get<std::string>();
    return x;
  }

  // {"points": [[bytes, value], ...], "source": "..."}: bytes > 0 strictly increasing, values > 0.
  SizeTable table(const std::string& field, std::map<std::string, std::string>& sources) const {
    const json* v = find(field);
    const std::string expected =
        "an object {\"points\": [[bytes, value], ...] with bytes increasing and values > 0, \"source\": \"...\"}";
    if (!v || !v->is_object()) fail(field, expected, v);
    auto pts = v->find("points");
    if (pts == v->end() || !pts->is_array() || pts->empty())
      fail(field + ".points", "a non-empty array of [bytes, value] pairs", pts == v->end() ? nullptr : &*pts);
    SizeTable t;
    for (size_t i = 0; i < pts->size(); ++i) {
      const json& p = (*pts)[i];
      const std::string f = fmt::format("{}.points[{}]", field, i);
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
        fail(f, "a pair [bytes, value] of numbers", &p);
      const double x = p[0].get<double>(), y = p[1].get<double>();
      if (!(x > 0) || !(y > 0) || !std::isfinite(x) || !std::isfinite(y)) fail(f, "bytes > 0 and value > 0", &p);
      if (!t.points.empty() && x <= t.points.back().first) fail(f, "bytes larger than the previous point's", &p);
      t.points.emplace_back(x, y);
    }
    auto src = v->find("source");
    if (src == v->end() || !src->is_string() || src->get<std::string>().empty())
      fail(field + ".source", "a non-empty string citing where the numbers come from",
           src == v->end() ? nullptr : &*src);
    sources[field] = src->get<std::string>();
    return t;
  }

  // {"fp16": {"value", "source"}, "bf16": ..., "fp32": ...}
  std::map<DType, double> per_dtype(const std::string& field, std::map<std::string, std::string>& sources) const {
    const json* v = find(field);
    const std::string expected = "an object with fp16, bf16 and fp32 entries, each {\"value\": x > 0, \"source\": \"...\"}";
    if (!v || !v->is_object()) fail(field, expected, v);
    std::map<DType, double> out;
    for (const char* name : {"fp16", "bf16", "fp32"}) {
      const std::string f = fmt::format("{}.{}", field, name);
      auto e = v->find(name);
      if (e == v->end() || !e->is_object()) fail(f, "{\"value\": x > 0, \"source\": \"...\"}", e == v->end() ? nullptr : &*e);
      out[parse_dtype(name, f)] = value_of(*e, f, "a number > 0", sources, false);
    }
    return out;
  }

 private:
  const json& j_;
  std::string where_;
};

}  // namespace

HardwareProfile parse_profile(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("{}: expected a JSON object (a hardware profile)", where));
  Reader r(j, where);
  HardwareProfile p;
  auto& src = p.sources;
  const std::string schema = r.string("schema");
  if (schema != "zo2-hardware-profile/1")
    throw std::invalid_argument(
        fmt::format("{}: field 'schema': expected \"zo2-hardware-profile/1\", got \"{}\"", where, schema));
  p.name = r.string("name", false);
  p.card = r.string("card");
  p.driver = r.string("driver");
  p.date = r.string("date");
  p.source = r.string("source");
  p.gpu_memory_bytes = int64_t(r.number("gpu_memory_bytes", src));
  p.host_memory_bytes = int64_t(r.number("host_memory_bytes", src));
  p.h2d_pinned = r.table("h2d_pinned_bytes_per_second", src);
  p.d2h_pinned = r.table("d2h_pinned_bytes_per_second", src);
  p.h2d_pageable = r.table("h2d_pageable_bytes_per_second", src);
  p.d2h_pageable = r.table("d2h_pageable_bytes_per_second", src);
  p.concurrent_bytes_per_second = r.number("concurrent_bytes_per_second", src);
  p.concurrent_copy_bytes = r.number("concurrent_copy_bytes", src);
  p.malloc_free_seconds = r.table("malloc_free_seconds", src);
  p.gemm_flops_per_second = r.per_dtype("gemm_flops_per_second", src);
  p.forward_efficiency = r.per_dtype("forward_efficiency", src);
  for (const auto& [dt, e] : p.forward_efficiency)
    if (e > 1)
      throw std::invalid_argument(fmt::format("{}: field 'forward_efficiency.{}.value': expected a fraction in (0, 1], got {}",
                                              where, dtype_name(dt), e));
  p.device_copy_bytes_per_second = r.number("device_copy_bytes_per_second", src);
  p.gpu_rng_samples_per_second = r.number("gpu_rng_samples_per_second", src);
  p.launch_overhead_seconds = r.number("launch_overhead_seconds", src, true);
  p.host_sync_seconds = r.number("host_sync_seconds", src, true);
  p.host_update_elements_per_second = r.number("host_update_elements_per_second", src);
  if (r.find("host_update_threads")) {
    p.host_update_threads = r.number("host_update_threads", src);
    if (p.host_update_threads != std::floor(p.host_update_threads))
      throw std::invalid_argument(fmt::format("{}: field 'host_update_threads.value': expected a whole number of "
                                              "threads, got {}", where, p.host_update_threads));
  }
  for (auto [field, value] : {std::pair{"codec_decode_bytes_per_second", &p.codec_decode_bytes_per_second},
                              std::pair{"codec_encode_bytes_per_second", &p.codec_encode_bytes_per_second}})
    if (r.find(field)) *value = r.number(field, src);
  if (const json* c = r.find("calibration")) {
    if (!c->is_object()) r.fail("calibration", "an object (zo2 calibrate's record)", c);
    p.calibration = c->dump();
  }
  // Optional arrays of measured records: each element an object, its fields read with the element's path in errors.
  auto for_each_record = [&](const char* field, const char* what, auto&& read) {
    const json* a = r.find(field);
    if (!a) return;
    if (!a->is_array()) r.fail(field, what, a);
    for (size_t i = 0; i < a->size(); ++i) {
      const json& e = (*a)[i];
      const std::string f = fmt::format("{}[{}]", field, i);
      if (!e.is_object()) r.fail(f, "an object", &e);
      read(e, Reader(e, fmt::format("{}: {}", where, f)), fmt::format("{}: {}.dtype", where, f));
    }
  };
  for_each_record("block_timings", "an array of measured block timings",
                  [&](const json& e, const Reader& er, const std::string& dtype_where) {
                    BlockTiming t;
                    t.hidden = er.positive_integer("hidden");
                    t.ffn = er.positive_integer("ffn");
                    t.heads = er.positive_integer("heads");
                    t.batch = er.positive_integer("batch");
                    t.seq = er.positive_integer("seq");
                    t.dtype = parse_dtype(er.string("dtype"), dtype_where);
                    t.forward_seconds = er.positive_seconds("forward_seconds");
                    t.zo_update_seconds = er.positive_seconds("zo_update_seconds");
                    t.zo_perturb_seconds = er.positive_seconds("zo_perturb_seconds");
                    if (e.contains("resident_block_seconds"))
                      t.resident_block_seconds = er.positive_seconds("resident_block_seconds");
                    if (e.contains("zo_fold_seconds")) t.zo_fold_seconds = er.positive_seconds("zo_fold_seconds");
                    // Absent: "pending", what every profile measured before the fold ran.
                    if (e.contains("resident_loop")) {
                      const json& v = e.at("resident_loop");
                      const char* expected = "\"pending\" (zo+ with the pending update, fwd+, zo-, fwd-, zo=) or "
                                             "\"folded\" (zo+ perturb only, fwd+, zo-, fwd-, zo= folded)";
                      if (v == "pending") t.resident_loop = ResidentLoop::pending;
                      else if (v == "folded") t.resident_loop = ResidentLoop::folded;
                      else er.fail("resident_loop", expected, &v);
                      // The folded loop's single-shot sum needs the fold pass's own time.
                      if (t.resident_loop == ResidentLoop::folded && !(t.zo_fold_seconds > 0))
                        er.fail("zo_fold_seconds", "seconds > 0 beside resident_loop \"folded\" (the loop's "
                                "single-shot sum includes the folded restore)", nullptr);
                    }
                    t.source = er.string("source");
                    if (e.contains("family")) {
                      t.family = model_family(er.string("family"), er.where() + ": field 'family'").name();
                      t.kv_heads = e.contains("kv_heads") ? er.positive_integer("kv_heads") : t.heads;
                      t.head_dim = e.contains("head_dim") ? er.positive_integer("head_dim") : t.hidden / t.heads;
                    } else {
                      const ModelShape* s = legacy_preset([&](const ModelShape& s) {
                        return s.hidden == t.hidden && s.ffn == t.ffn && s.heads == t.heads;
                      });
                      t.family = s ? s->family : "opt";
                      t.kv_heads = s ? s->key_value_heads() : t.heads;
                      t.head_dim = s ? s->head_dim() : t.hidden / t.heads;
                    }
                    p.block_timings.push_back(t);
                  });
  for_each_record("model_timings", "an array of measured embedding and head timings",
                  [&](const json& e, const Reader& er, const std::string& dtype_where) {
                    ModelTiming t;
                    t.hidden = er.positive_integer("hidden");
                    t.vocab = er.positive_integer("vocab_size");
                    t.proj = er.positive_integer("word_embed_proj_dim");
                    t.batch = er.positive_integer("batch");
                    t.seq = er.positive_integer("seq");
                    t.dtype = parse_dtype(er.string("dtype"), dtype_where);
                    t.embed_seconds = er.positive_seconds("embed_seconds");
                    t.head_loss_seconds = er.positive_seconds("head_loss_seconds");
                    t.source = er.string("source");
                    if (e.contains("family")) {
                      t.family = model_family(er.string("family"), er.where() + ": field 'family'").name();
                    } else {
                      const ModelShape* s = legacy_preset([&](const ModelShape& s) {
                        return s.hidden == t.hidden && s.vocab_size == t.vocab && s.word_embed_proj_dim == t.proj;
                      });
                      t.family = s ? s->family : "opt";
                    }
                    p.model_timings.push_back(t);
                  });
  return p;
}

HardwareProfile load_profile_file(const std::filesystem::path& path) {
  HardwareProfile p = parse_profile(read_json_file(path), path.string());
  if (p.name.empty()) p.name = path.stem().string();
  return p;
}

std::filesystem::path profile_dir() {
  if (const char* env = std::getenv("ZO2_PROFILE_DIR"); env && *env) return env;
  return ZO2_PROFILE_DIR;
}

HardwareProfile load_profile(const std::string& name_or_path) {
  std::filesystem::path path(name_or_path);
  const bool looks_like_path = name_or_path.find('/') != std::string::npos || path.extension() == ".json";
  if (!looks_like_path) {
    path = profile_dir() / (name_or_path + ".json");
    if (!std::filesystem::exists(path)) {
      std::string names;
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(profile_dir(), ec))
        if (e.path().extension() == ".json") names += (names.empty() ? "" : ", ") + e.path().stem().string();
      throw std::invalid_argument(fmt::format("--profile: no profile named '{}' in {} (expected one of: {}; or a path to a JSON file)",
                                              name_or_path, profile_dir().string(), names));
    }
  } else if (!std::filesystem::exists(path)) {
    throw std::invalid_argument(fmt::format("--profile: file {} does not exist", path.string()));
  }
  return load_profile_file(path);
}

nlohmann::json profile_to_json(const HardwareProfile& p) {
  using nlohmann::json;
  auto src = [&](const std::string& field) {
    auto it = p.sources.find(field);
    return it == p.sources.end() ? std::string("not recorded") : it->second;
  };
  auto num = [&](const std::string& field, double v) { return json{{"value", v}, {"source", src(field)}}; };
  auto table = [&](const std::string& field, const SizeTable& t) {
    json pts = json::array();
    for (const auto& [x, y] : t.points) pts.push_back({x, y});
    return json{{"points", pts}, {"source", src(field)}};
  };
  auto per_dtype = [&](const std::string& field, const std::map<DType, double>& m) {
    json o = json::object();
    for (const auto& [dt, v] : m) {
      const std::string name(dtype_name(dt));
      o[name] = num(field + "." + name, v);
    }
    return o;
  };
  json j;
  j["schema"] = "zo2-hardware-profile/1";
  j["name"] = p.name;
  j["card"] = p.card;
  j["driver"] = p.driver;
  j["date"] = p.date;
  j["source"] = p.source;
  j["gpu_memory_bytes"] = num("gpu_memory_bytes", double(p.gpu_memory_bytes));
  j["host_memory_bytes"] = num("host_memory_bytes", double(p.host_memory_bytes));
  j["h2d_pinned_bytes_per_second"] = table("h2d_pinned_bytes_per_second", p.h2d_pinned);
  j["d2h_pinned_bytes_per_second"] = table("d2h_pinned_bytes_per_second", p.d2h_pinned);
  j["h2d_pageable_bytes_per_second"] = table("h2d_pageable_bytes_per_second", p.h2d_pageable);
  j["d2h_pageable_bytes_per_second"] = table("d2h_pageable_bytes_per_second", p.d2h_pageable);
  j["concurrent_bytes_per_second"] = num("concurrent_bytes_per_second", p.concurrent_bytes_per_second);
  j["concurrent_copy_bytes"] = num("concurrent_copy_bytes", p.concurrent_copy_bytes);
  j["malloc_free_seconds"] = table("malloc_free_seconds", p.malloc_free_seconds);
  j["gemm_flops_per_second"] = per_dtype("gemm_flops_per_second", p.gemm_flops_per_second);
  j["forward_efficiency"] = per_dtype("forward_efficiency", p.forward_efficiency);
  j["device_copy_bytes_per_second"] = num("device_copy_bytes_per_second", p.device_copy_bytes_per_second);
  j["gpu_rng_samples_per_second"] = num("gpu_rng_samples_per_second", p.gpu_rng_samples_per_second);
  j["launch_overhead_seconds"] = num("launch_overhead_seconds", p.launch_overhead_seconds);
  j["host_sync_seconds"] = num("host_sync_seconds", p.host_sync_seconds);
  j["host_update_elements_per_second"] = num("host_update_elements_per_second", p.host_update_elements_per_second);
  if (p.host_update_threads > 0) j["host_update_threads"] = num("host_update_threads", p.host_update_threads);
  if (p.codec_decode_bytes_per_second > 0)
    j["codec_decode_bytes_per_second"] = num("codec_decode_bytes_per_second", p.codec_decode_bytes_per_second);
  if (p.codec_encode_bytes_per_second > 0)
    j["codec_encode_bytes_per_second"] = num("codec_encode_bytes_per_second", p.codec_encode_bytes_per_second);
  json bt = json::array();
  for (const auto& t : p.block_timings) {
    bt.push_back({{"family", t.family}, {"hidden", t.hidden}, {"ffn", t.ffn}, {"heads", t.heads},
                  {"kv_heads", t.resolved_kv_heads()}, {"head_dim", t.resolved_head_dim()},
                  {"dtype", std::string(dtype_name(t.dtype))},
                  {"batch", t.batch}, {"seq", t.seq}, {"forward_seconds", t.forward_seconds},
                  {"zo_update_seconds", t.zo_update_seconds}, {"zo_perturb_seconds", t.zo_perturb_seconds},
                  {"source", t.source}});
    if (t.resident_block_seconds > 0) bt.back()["resident_block_seconds"] = t.resident_block_seconds;
    if (t.zo_fold_seconds > 0) bt.back()["zo_fold_seconds"] = t.zo_fold_seconds;
    // Written whenever it says something: beside a measured loop, or when not the default.
    if (t.resident_block_seconds > 0 || t.resident_loop != ResidentLoop::pending)
      bt.back()["resident_loop"] = std::string(resident_loop_name(t.resident_loop));
  }
  j["block_timings"] = bt;
  json mt = json::array();
  for (const auto& t : p.model_timings)
    mt.push_back({{"family", t.family}, {"hidden", t.hidden}, {"vocab_size", t.vocab}, {"word_embed_proj_dim", t.proj},
                  {"dtype", std::string(dtype_name(t.dtype))}, {"batch", t.batch}, {"seq", t.seq},
                  {"embed_seconds", t.embed_seconds}, {"head_loss_seconds", t.head_loss_seconds},
                  {"source", t.source}});
  j["model_timings"] = mt;
  if (!p.calibration.empty()) j["calibration"] = json::parse(p.calibration);
  return j;
}

}  // namespace zo2::sim
