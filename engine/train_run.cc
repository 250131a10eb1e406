// The training loop behind `zo2 train`: batches, steps timed by the peer's rule, progress, metrics, results, save.
#include "engine/train_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/atomic_file.h"
#include "core/median.h"
#include "core/results_csv.h"
#include "engine/checkpoint.h"
#include "engine/cuda_glue.h"
#include "engine/model_source.h"
#include "engine/token_batches.h"
#include "engine/zo_engine.h"

namespace zo2 {
namespace {

std::vector<double> last_half_seconds(const std::vector<StepRecord>& steps) {
  std::vector<double> s;
  for (size_t i = steps.size() / 2; i < steps.size(); ++i) s.push_back(steps[i].seconds);
  return s;
}

void write_metrics(const std::filesystem::path& path, const std::vector<StepRecord>& steps) {
  std::string text = "step,loss,loss_plus,loss_minus,projected_grad,step_seconds,tokens_per_second\n";
  for (const auto& s : steps)
    text += fmt::format("{},{:.9g},{:.9g},{:.9g},{:.9g},{:.6g},{:.6g}\n", s.result.step, s.result.loss(),
                        s.result.loss_plus, s.result.loss_minus, s.result.projected_grad, s.seconds,
                        s.tokens_per_second);
  AtomicFile out(path);
  out.write(text);
  out.commit();
}

void write_results(const TrainOptions& o, const ModelShape& shape, const Policy& policy, const TrainSummary& summary,
                   const GpuInfo& gpu, bool on_gpu) {
  const auto secs = last_half_seconds(summary.steps);
  std::vector<double> tps;
  for (double s : secs) tps.push_back(double(o.batch * o.seq) / s);
  auto base = [&] {
    ResultRow r;
    r.set("commit", current_commit());
    r.set("date", current_date_utc());
    r.set("card", gpu.card);
    r.set("driver", gpu.driver);
    r.set("executor", on_gpu ? "cuda" : "cpu");
    r.set("model", std::filesystem::path(o.model).filename().string() +
                       (o.layers > 0 ? fmt::format(":{}L", o.layers) : std::string()));
    r.set("batch", std::to_string(o.batch));
    r.set("seq", std::to_string(o.seq));
    r.set_policy(policy);
    r.set("repeats", std::to_string(secs.size()));
    return r;
  };
  auto stats_row = [&](const std::string& metric, const std::vector<double>& v, const std::string& unit) {
    ResultRow r = base();
    double mean = 0;
    for (double x : v) mean += x / double(v.size());
    r.set("metric", metric);
    r.set("value", mean);
    r.set("unit", unit);
    r.set("min", *std::min_element(v.begin(), v.end()));
    r.set("median", median(v));
    r.set("max", *std::max_element(v.begin(), v.end()));
    return r;
  };
  std::vector<ResultRow> rows{stats_row("tokens_per_second", tps, "tok/s"), stats_row("step_seconds", secs, "s")};
  auto scalar_row = [&](const std::string& metric, double value, const std::string& unit) {
    ResultRow r = base();
    r.set("metric", metric);
    r.set("value", fmt::format("{:.12g}", value));
    r.set("unit", unit);
    return r;
  };
  // Link bytes per step, averaged over a steady-state writeback cycle (steps K..2K-1: with --prefetch-next the first
  // step also uploads its own first blocks), from the plans the engine ran; achieved GB/s against the mean step time.
  double link_bytes = 0;
  const int64_t k = policy.writeback;
  const std::vector<Plan> plans = build_plan_sequence(shape, policy, o.batch, o.seq, 0, 2 * k);
  const int64_t predicted_gpu_bytes = plans.front().memory.gpu_total();
  for (size_t s = size_t(k); s < plans.size(); ++s)
    for (const Op& op : plans[s].ops)
      if (op.kind == OpKind::upload || op.kind == OpKind::download) link_bytes += double(op.link_bytes);
  link_bytes /= double(k);
  double mean = 0;
  for (double x : secs) mean += x / double(secs.size());
  rows.push_back(scalar_row("link_bytes_per_step", link_bytes, "B"));
  rows.push_back(scalar_row("link_GBps", link_bytes / mean / 1e9, "GB/s"));
  rows.push_back(scalar_row("predicted_gpu_bytes", double(predicted_gpu_bytes), "B"));
  if (on_gpu) {
    rows.push_back(scalar_row("peak_allocated_bytes", double(summary.peak_allocated_bytes), "B"));
    rows.push_back(scalar_row("device_used_bytes", double(summary.device_used_bytes), "B"));
  }
  append_result_rows(*o.results, rows);
}

}  // namespace

double TrainSummary::mean_step_seconds() const {
  const auto s = last_half_seconds(steps);
  double sum = 0;
  for (double x : s) sum += x;
  return s.empty() ? 0 : sum / double(s.size());
}

double TrainSummary::median_step_seconds() const {
  const auto secs = last_half_seconds(steps);
  return secs.empty() ? 0 : median(secs);
}

void check_zo_hyper(const ZoHyper& h) {
  if (!(h.eps > 0)) throw std::invalid_argument(fmt::format("--eps {}: expected a positive number", h.eps));
  if (!(h.lr >= 0)) throw std::invalid_argument(fmt::format("--lr {}: expected a number >= 0", h.lr));
  if (!(h.weight_decay >= 0))
    throw std::invalid_argument(fmt::format("--weight-decay {}: expected a number >= 0", h.weight_decay));
}

TrainSummary run_training(const TrainOptions& o, std::FILE* progress) {
  if (o.steps < 1) throw std::invalid_argument(fmt::format("--steps {}: expected at least 1", o.steps));
  check_zo_hyper(o.hyper);
  const ModelShape shape = model_shape_of(o.model, o.layers);
  const Policy policy = resolve_policy(o.policy, shape.layers);
  if (o.seq > shape.max_positions)
    throw std::invalid_argument(fmt::format("--seq {}: longer than the model's {} positions", o.seq, shape.max_positions));
  // The plan's memory prediction is checked against --gpu-mem-budget before anything is allocated.
  build_plan(shape, policy, o.batch, o.seq, 0);
  const c10::Device device = parse_device(o.device, "--device");
  const bool on_gpu = device.is_cuda();
  TokenBatches batches(o.data, shape.vocab_size, o.batch, o.seq, o.hyper.seed);
  OptModel model = load_or_init_model(o.model, policy.dtype, device, o.hyper.seed, policy.offload, o.layers,
                                      policy.master, policy.wire);
  ZoEngine trainer(model, policy, o.hyper, o.batch, o.seq,
                   on_gpu ? make_cuda_executor() : make_cpu_executor(o.hyper.seed, /*max_delay_us=*/0));

  TrainSummary summary;
  summary.parameters = model.parameter_count();
  if (on_gpu) cuda_reset_allocator_peak();
  const GpuInfo gpu = gpu_info();
  // The peer's timing rule for every policy: each step ends with a device synchronize. With --prefetch-next the
  // synchronize also waits for the next step's first uploads, which then start that step with their blocks on the GPU.
  for (int64_t step = 0; step < o.steps; ++step) {
    at::Tensor ids = batches.next().to(device);
    const auto start = std::chrono::steady_clock::now();
    const StepResult r = trainer.step(ids);
    if (on_gpu) cuda_synchronize();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    StepRecord rec{r, secs, double(o.batch * o.seq) / secs};
    summary.steps.push_back(rec);
    if (progress) {
      std::string mem = on_gpu ? fmt::format(" | gpu peak {:.2f} GB", cuda_allocator_peak_bytes() / 1e9) : "";
      fmt::print(progress, "step {:>4}/{} | loss {:.4f} (+{:.4f} -{:.4f}) | g {:+.4e} | {:.3f} s {:.0f} tok/s{}\n",
                 step + 1, o.steps, r.loss(), r.loss_plus, r.loss_minus, r.projected_grad, secs,
                 rec.tokens_per_second, mem);
      std::fflush(progress);
    }
  }
  if (on_gpu) {  // the steps' peak, before the flush's own block buffer
    cuda_synchronize();
    summary.peak_allocated_bytes = cuda_allocator_peak_bytes();
    summary.device_used_bytes = cuda_device_used_bytes();
  }
  trainer.flush();
  if (progress)
    fmt::print(progress, "done: {} parameters on {} ({}) | last-half mean step {:.4f} s, {:.0f} tok/s{}\n",
               summary.parameters, on_gpu ? gpu.card : "cpu", dtype_name(policy.dtype), summary.mean_step_seconds(),
               double(o.batch * o.seq) / summary.mean_step_seconds(),
               on_gpu ? fmt::format(" | peak allocated {:.2f} GB, device used {:.2f} GB",
                                    summary.peak_allocated_bytes / 1e9, summary.device_used_bytes / 1e9)
                      : "");
  if (o.metrics) write_metrics(*o.metrics, summary.steps);
  if (o.results) write_results(o, shape, policy, summary, gpu, on_gpu);
  if (o.save) save_opt_checkpoint(model, *o.save);
  return summary;
}

}  // namespace zo2
