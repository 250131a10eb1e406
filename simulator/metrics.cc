// Per-cycle metrics: step time and throughput, link use per direction, GPU busy fraction, memory.
#include "simulator/metrics.h"

#include <algorithm>

namespace zo2::sim {

std::vector<Metric> cycle_metrics(const CycleResult& c, const HardwareProfile& profile) {
  std::vector<Metric> m;
  if (c.steps.empty()) return m;
  double total_s = 0, h2d = 0, d2h = 0, h2d_busy = 0, d2h_busy = 0, both = 0, gpu = 0, host_pool = 0;
  int64_t peak_gpu = 0, peak_host = 0, predicted = 0;
  c.for_each_step([&](const SimResult& r, const Plan& plan) {
    total_s += r.seconds();
    h2d += double(r.h2d_bytes);
    d2h += double(r.d2h_bytes);
    h2d_busy += double(r.h2d_busy_ns) * 1e-9;
    d2h_busy += double(r.d2h_busy_ns) * 1e-9;
    both += double(r.link_both_busy_ns) * 1e-9;
    gpu += double(r.gpu_busy_ns) * 1e-9;
    host_pool += double(r.host_update_busy_ns) * 1e-9;
    peak_gpu = std::max(peak_gpu, r.peak_gpu_bytes);
    peak_host = std::max(peak_host, r.peak_host_bytes);
    predicted = std::max(predicted, plan.memory.gpu_total());
  });
  const double steps = double(c.cycle_steps());
  const double mean = total_s / steps;
  const double tokens = double(c.plans.front().tokens());
  auto add = [&](const char* name, double v, const char* unit) { m.push_back({name, v, unit, v, v, v}); };
  m.push_back({"step_seconds", mean, "s", c.min_step_seconds(), c.median_step_seconds(), c.max_step_seconds()});
  m.push_back({"tokens_per_second", tokens / mean, "tok/s", tokens / c.max_step_seconds(),
               tokens / c.median_step_seconds(), tokens / c.min_step_seconds()});
  add("h2d_bytes_per_step", h2d / steps, "B");
  add("d2h_bytes_per_step", d2h / steps, "B");
  add("link_bytes_per_second", (h2d + d2h) / total_s, "B/s");
  add("h2d_busy_fraction", h2d_busy / total_s, "1");
  add("d2h_busy_fraction", d2h_busy / total_s, "1");
  add("link_both_busy_fraction", both / total_s, "1");
  add("gpu_busy_fraction", gpu / total_s, "1");
  add("host_update_busy_fraction", host_pool / total_s, "1");
  add("peak_gpu_bytes", double(peak_gpu), "B");
  add("predicted_gpu_bytes", double(predicted), "B");
  add("peak_host_bytes", double(peak_host), "B");
  add("fits_gpu_memory", peak_gpu <= profile.gpu_memory_bytes ? 1.0 : 0.0, "bool");
  add("fits_host_memory", peak_host <= profile.host_memory_bytes ? 1.0 : 0.0, "bool");
  return m;
}

const Metric* find_metric(const std::vector<Metric>& metrics, const std::string& name) {
  for (const auto& x : metrics)
    if (x.name == name) return &x;
  return nullptr;
}

}  // namespace zo2::sim
