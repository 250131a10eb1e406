// _zo2: the pybind11 extension behind `import zo2`. Plain values, JSON text and DLPack capsules cross here; the
// package python/zo2 turns them into the public classes (type hints, docstrings, torch tensors).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>

#include "core/model_shape.h"
#include "core/plan.h"
#include "core/policy.h"
#include "core/results_csv.h"
#include "engine/cuda_glue.h"
#include "engine/token_batches.h"
#include "experiments/simulate_run.h"
#include "python/bindings/dlpack_tensor.h"
#include "python/bindings/session.h"

namespace py = pybind11;
using zo2::py::ModelSession;
using zo2::py::OptimizerSession;
using zo2::py::tensor_from_capsule;
using zo2::py::tensor_to_capsule;

namespace {

py::dict model_info(const ModelSession& s) {
  const zo2::ModelShape& sh = s.model.shape;
  py::dict d;
  d["source"] = s.source;
  d["family"] = sh.family;
  d["vocab_size"] = sh.vocab_size;
  d["hidden"] = sh.hidden;
  d["layers"] = sh.layers;
  d["heads"] = sh.heads;
  d["max_positions"] = sh.max_positions;
  d["parameters"] = s.model.parameter_count();
  d["dtype"] = std::string(zo2::dtype_name(s.model.dtype));
  d["device"] = s.model.device.str();
  d["policy"] = zo2::policy_to_json(s.policy).dump();
  return d;
}

std::optional<at::Tensor> optional_tensor(const py::object& capsule) {
  if (capsule.is_none()) return std::nullopt;
  return tensor_from_capsule(capsule);
}

std::string simulate_json(const std::string& request) {
  const nlohmann::json j = nlohmann::json::parse(request);
  zo2::cli::SimulateArgs a;
  a.model = j.value("model", a.model);
  a.profile = j.value("profile", a.profile);
  a.batch = j.value("batch", a.batch);
  a.seq = j.value("seq", a.seq);
  a.layers = j.value("layers", a.layers);
  a.first_step = j.value("first_step", a.first_step);
  a.steps = j.value("steps", a.steps);
  a.pageable = j.value("pageable", a.pageable);
  a.plan = j.value("plan", a.plan);
  a.policy = zo2::policy_options_from_json(j.at("policy"), "policy");
  return zo2::cli::simulation_json(zo2::cli::simulate_run(a)).dump();
}

}  // namespace

PYBIND11_MODULE(_zo2, m) {
  m.doc() = "zo2's C++ engine (use the zo2 package, not this module)";
  m.attr("has_cuda") = zo2::cuda_available();

  m.def("load_model", &zo2::py::load_model, py::arg("source"), py::arg("device"), py::arg("dtype"),
        py::arg("policy_json"), py::arg("seed"), py::arg("layers"), py::call_guard<py::gil_scoped_release>());

  py::class_<ModelSession, std::shared_ptr<ModelSession>>(m, "ModelSession")
      .def("info", &model_info)
      .def("logits",
           [](ModelSession& s, const py::object& ids) {
             at::Tensor t = tensor_from_capsule(ids), out;
             {
               py::gil_scoped_release release;
               out = s.logits(t);
             }
             return tensor_to_capsule(out);
           })
      .def("token_logprobs",
           [](ModelSession& s, const py::object& ids) {
             at::Tensor t = tensor_from_capsule(ids), out;
             {
               py::gil_scoped_release release;
               out = s.token_logprobs(t);
             }
             return tensor_to_capsule(out);
           })
      .def("save", &ModelSession::save, py::call_guard<py::gil_scoped_release>())
      .def("replay",
           [](ModelSession& s, float eps, float weight_decay, const std::vector<std::tuple<uint64_t, float, float>>& log) {
             std::vector<zo2::LoggedStep> steps;
             for (const auto& [seed, g, lr] : log) steps.push_back({seed, g, lr});
             py::gil_scoped_release release;
             s.replay(eps, weight_decay, steps);
           })
      .def("settle", &ModelSession::settle, py::call_guard<py::gil_scoped_release>())
      .def("predicted_gpu_bytes", [](const ModelSession& s, int64_t batch, int64_t seq) {
        zo2::Policy p = s.policy;
        p.gpu_mem_budget = 0;  // the prediction itself, not the refusal
        return zo2::build_plan(s.model.shape, p, batch, seq, 0).memory.gpu_total();
      });

  py::class_<OptimizerSession>(m, "OptimizerSession")
      .def(py::init([](std::shared_ptr<ModelSession> model, float lr, float eps, float weight_decay, uint64_t seed) {
             zo2::ZoHyper h;
             h.lr = lr;
             h.eps = eps;
             h.weight_decay = weight_decay;
             h.seed = seed;
             return std::make_unique<OptimizerSession>(std::move(model), h);
           }),
           py::arg("model"), py::arg("lr"), py::arg("eps"), py::arg("weight_decay"), py::arg("seed"))
      .def("step",
           [](OptimizerSession& o, const py::object& ids, const py::object& mask) {
             at::Tensor t = tensor_from_capsule(ids);
             std::optional<at::Tensor> m = optional_tensor(mask);
             zo2::py::StepOutcome r;
             {
               py::gil_scoped_release release;
               r = o.step(t, m);
             }
             return py::make_tuple(r.result.step, r.result.loss_plus, r.result.loss_minus, r.result.projected_grad,
                                   r.seed, r.lr);
           })
      .def("flush", &OptimizerSession::flush, py::call_guard<py::gil_scoped_release>())
      .def_property("step_index", &OptimizerSession::step_index, &OptimizerSession::set_step_index)
      .def_property_readonly("attached", &OptimizerSession::attached)
      .def_property_readonly("hyper",
                             [](const OptimizerSession& o) {
                               const zo2::ZoHyper& h = o.hyper();
                               return py::make_tuple(h.lr, h.eps, h.weight_decay, h.seed);
                             })
      .def_property_readonly("pending", [](const OptimizerSession& o) -> py::object {
        const zo2::PendingUpdate& p = o.pending();
        if (!p.active) return py::none();
        return py::make_tuple(p.seed, p.projected_grad);
      });

  py::class_<zo2::TokenBatches>(m, "TokenBatches")
      .def(py::init([](const std::optional<std::string>& data, int64_t vocab, int64_t batch, int64_t seq, uint64_t seed) {
             std::optional<std::filesystem::path> path;
             if (data) path = *data;
             return std::make_unique<zo2::TokenBatches>(path, vocab, batch, seq, seed);
           }),
           py::arg("data"), py::arg("vocab"), py::arg("batch"), py::arg("seq"), py::arg("seed"))
      .def("next", [](zo2::TokenBatches& b) { return tensor_to_capsule(b.next()); });

  m.def("simulate_json", &simulate_json, py::call_guard<py::gil_scoped_release>());
  m.def("policy_fields", [] {
    const nlohmann::json fields = zo2::policy_to_json(zo2::resolve_policy(zo2::PolicyOptions{}, 1));
    std::vector<std::string> names;
    for (auto it = fields.begin(); it != fields.end(); ++it) names.push_back(it.key());
    return names;
  });
  m.def("resolve_policy", [](const std::string& json, int64_t layers) {
    return zo2::policy_to_json(
               zo2::resolve_policy(zo2::policy_options_from_json(nlohmann::json::parse(json), "policy"), layers))
        .dump();
  });
  m.def("preset_names", &zo2::model_preset_names);
  m.def("result_columns", &zo2::result_columns);
  m.def("current_commit", &zo2::current_commit);
  m.def("gpu_info", [] {
    const zo2::GpuInfo g = zo2::gpu_info();
    return py::make_tuple(g.card, g.driver, g.total_bytes);
  });
  m.def("append_result_rows", [](const std::string& path, const std::vector<std::map<std::string, std::string>>& rows) {
    std::vector<zo2::ResultRow> out;
    for (const auto& r : rows) {
      zo2::ResultRow row;
      for (const auto& [k, v] : r) row.set(k, v);
      out.push_back(std::move(row));
    }
    zo2::append_result_rows(path, out);
  });
}
