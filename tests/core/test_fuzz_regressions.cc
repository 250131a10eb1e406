// Inputs found by the fuzz targets (fuzz/, tests/data/fuzz/) for the core parsers: each now gets a clear error that
// names the file and the field, where it escaped as another exception type or ran into undefined behaviour.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/json_file.h"
#include "core/model_shape.h"
#include "core/plan_json.h"

using namespace zo2;
using Catch::Matchers::ContainsSubstring;

namespace {
const std::filesystem::path kData = ZO2_FUZZ_DATA_DIR;
}

TEST_CASE("a JSON number beyond a double is the file's 'not valid JSON' error (was nlohmann's out_of_range)") {
  const auto path = kData / "json_number_overflow.json";
  CHECK_THROWS_AS(read_json_file(path), std::runtime_error);
  CHECK_THROWS_WITH(read_json_file(path), ContainsSubstring(path.string()) && ContainsSubstring("not valid JSON") &&
                                              ContainsSubstring("number overflow"));
  // The same text in memory, and a finite number beside it still parses.
  CHECK_THROWS_WITH(parse_json_text("[1e309]", "x.json"), ContainsSubstring("x.json: not valid JSON"));
  CHECK(parse_json_text("[1e308]", "x.json")[0].get<double>() == 1e308);
}

TEST_CASE("config.json sizes that would overflow are refused, naming the field") {
  // Each was signed overflow (UBSan) in the head_dim check, the parameter count or the position table.
  CHECK_THROWS_WITH(shape_from_hf_config_file(kData / "config_head_dim_overflow.json"),
                    ContainsSubstring("config_head_dim_overflow.json") && ContainsSubstring("'head_dim'"));
  CHECK_THROWS_WITH(shape_from_hf_config_file(kData / "config_params_overflow.json"),
                    ContainsSubstring("'hidden_size'") && ContainsSubstring("2^32"));
  CHECK_THROWS_WITH(shape_from_hf_config_file(kData / "config_positions_overflow.json"),
                    ContainsSubstring("'max_position_embeddings'") && ContainsSubstring("2^32"));
  // Within the bounds each dimension is still accepted, and a shape whose dimensions fit but whose parameter count
  // does not is refused as a whole.
  nlohmann::json c = {{"model_type", "opt"}, {"vocab_size", 8}, {"hidden_size", 4}, {"num_hidden_layers", 1},
                      {"num_attention_heads", 2}, {"ffn_dim", 4}};
  c["max_position_embeddings"] = int64_t(1) << 32;
  CHECK(shape_from_hf_config(c, "c.json").max_positions == int64_t(1) << 32);
  c["max_position_embeddings"] = 2048;
  c["hidden_size"] = c["ffn_dim"] = c["vocab_size"] = int64_t(1) << 32;
  c["num_hidden_layers"] = int64_t(1) << 20;
  CHECK_THROWS_WITH(shape_from_hf_config(c, "c.json"), ContainsSubstring("c.json") && ContainsSubstring("2^59"));
  nlohmann::json l = {{"model_type", "llama"}, {"vocab_size", 8}, {"hidden_size", 8}, {"num_hidden_layers", 1},
                      {"num_attention_heads", 2}, {"intermediate_size", 4}, {"num_key_value_heads", INT64_MAX}};
  CHECK_THROWS_WITH(shape_from_hf_config(l, "l.json"), ContainsSubstring("num_key_value_heads"));
  // A head_dim free of hidden / heads (Qwen3, Mistral): heads x head_dim is a tensor dimension, bounded the same way
  // (the product wrapped around before), and a head_dim of its own above 2^32 is refused by name.
  for (const char* type : {"qwen3", "mistral"}) {
    nlohmann::json q = {{"model_type", type}, {"vocab_size", 8}, {"hidden_size", 8}, {"num_hidden_layers", 1},
                        {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"intermediate_size", 4}};
    q["head_dim"] = int64_t(1) << 31;
    CHECK_THROWS_WITH(shape_from_hf_config(q, "q.json"),
                      ContainsSubstring("q.json") && ContainsSubstring("head_dim") && ContainsSubstring("2^32"));
    q["head_dim"] = INT64_MAX / 2;
    CHECK_THROWS_WITH(shape_from_hf_config(q, "q.json"), ContainsSubstring("'head_dim'") && ContainsSubstring("2^32"));
    q["head_dim"] = 4;
    CHECK(shape_from_hf_config(q, "q.json").query_width() == 16);
  }
}

TEST_CASE("plan JSON optional fields of the wrong type name the field (were nlohmann's type_error)") {
  auto load = [](const char* name) { return plan_from_json(read_json_file(kData / name), name); };
  CHECK_THROWS_AS(load("plan_continues_not_bool.json"), std::invalid_argument);
  CHECK_THROWS_WITH(load("plan_continues_not_bool.json"),
                    ContainsSubstring("plan_continues_not_bool.json") && ContainsSubstring("'continues'") &&
                        ContainsSubstring("true or false"));
  CHECK_THROWS_WITH(load("plan_layer_not_int.json"),
                    ContainsSubstring("ops[0]") && ContainsSubstring("'layer'") && ContainsSubstring("an integer"));
  // A negative size would become a negative duration in the simulator.
  nlohmann::json j = read_json_file(kData / "plan_layer_not_int.json");
  j["ops"][0]["layer"] = -1;
  CHECK(plan_from_json(j, "p.json").ops.size() == 1);
  j["ops"][0]["link_bytes"] = -4;
  CHECK_THROWS_WITH(plan_from_json(j, "p.json"), ContainsSubstring("'link_bytes'") && ContainsSubstring("non-negative"));
}
