// The training loop behind `zo2 train`: batches, steps timed by the peer's rule, progress, metrics, results, save.
#include "engine/train_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/atomic_file.h"
#include "core/results_csv.h"
#include "engine/checkpoint.h"
#include "engine/cuda_glue.h"
#include "engine/model_source.h"
#include "engine/token_batches.h"
#include "engine/zo_trainer.h"

namespace zo2 {
namespace {

std::vector<double> last_half_seconds(const std::vector<StepRecord>& steps) {
  std::vector<double> s;
  for (size_t i = steps.size() / 2; i < steps.size(); ++i) s.push_back(steps[i].seconds);
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
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

void write_results(const TrainOptions& o, const TrainSummary& summary, const GpuInfo& gpu, bool on_gpu) {
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
    r.set("model", std::filesystem::path(o.model).filename().string());
    r.set("batch", std::to_string(o.batch));
    r.set("seq", std::to_string(o.seq));
    r.set("dtype", std::string(dtype_name(o.dtype)));
    r.set("offload", "none");
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
  if (on_gpu) {
    ResultRow peak = base();
    peak.set("metric", "peak_allocated_bytes");
    peak.set("value", fmt::format("{}", summary.peak_allocated_bytes));
    peak.set("unit", "B");
    ResultRow used = base();
    used.set("metric", "device_used_bytes");
    used.set("value", fmt::format("{}", summary.device_used_bytes));
    used.set("unit", "B");
    rows.push_back(peak);
    rows.push_back(used);
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

double TrainSummary::median_step_seconds() const { return median(last_half_seconds(steps)); }

TrainSummary run_training(const TrainOptions& o, std::FILE* progress) {
  if (o.steps < 1) throw std::invalid_argument(fmt::format("--steps {}: expected at least 1", o.steps));
  if (!(o.hyper.eps > 0)) throw std::invalid_argument(fmt::format("--eps {}: expected a positive number", o.hyper.eps));
  if (!(o.hyper.lr >= 0)) throw std::invalid_argument(fmt::format("--lr {}: expected a number >= 0", o.hyper.lr));
  if (!(o.hyper.weight_decay >= 0))
    throw std::invalid_argument(fmt::format("--weight-decay {}: expected a number >= 0", o.hyper.weight_decay));
  const c10::Device device = parse_device(o.device, "--device");
  const bool on_gpu = device.is_cuda();
  OptModel model = load_or_init_model(o.model, o.dtype, device, o.hyper.seed);
  if (o.seq > model.shape.max_positions)
    throw std::invalid_argument(fmt::format("--seq {}: longer than the model's {} positions", o.seq,
                                            model.shape.max_positions));
  TokenBatches batches(o.data, model.shape.vocab_size, o.batch, o.seq, o.hyper.seed);
  ZoTrainer trainer(model, o.hyper);

  TrainSummary summary;
  summary.parameters = model.parameter_count();
  if (on_gpu) cuda_reset_allocator_peak();
  const GpuInfo gpu = gpu_info();
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
  trainer.flush();
  if (on_gpu) {
    cuda_synchronize();
    summary.peak_allocated_bytes = cuda_allocator_peak_bytes();
    summary.device_used_bytes = cuda_device_used_bytes();
  }
  if (progress)
    fmt::print(progress, "done: {} parameters on {} ({}) | last-half mean step {:.4f} s, {:.0f} tok/s{}\n",
               summary.parameters, on_gpu ? gpu.card : "cpu", dtype_name(o.dtype), summary.mean_step_seconds(),
               double(o.batch * o.seq) / summary.mean_step_seconds(),
               on_gpu ? fmt::format(" | peak allocated {:.2f} GB, device used {:.2f} GB",
                                    summary.peak_allocated_bytes / 1e9, summary.device_used_bytes / 1e9)
                      : "");
  if (o.metrics) write_metrics(*o.metrics, summary.steps);
  if (o.results) write_results(o, summary, gpu, on_gpu);
  if (o.save) save_opt_checkpoint(model, *o.save);
  return summary;
}

}  // namespace zo2
