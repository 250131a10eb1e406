// The CPU reference executor: queues as threads, dependencies as completion flags, seeded random interleavings and
// slot (and staging buffer) poisoning. Each run() finishes every op of its plan, so a continued plan's prev_deps have finished already.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <random>
#include <thread>

#include "engine/executor.h"

namespace zo2 {
namespace {

class CpuExecutor final : public Executor {
 public:
  explicit CpuExecutor(const CpuExecutorOptions& options) : options_(options) {}

  void run(StepState& st) override {
    const auto& ops = st.plan->ops;
    const size_t n = ops.size();
    done_.assign(n, false);
    failure_ = nullptr;
    started_.clear();
    // The op after which a slot's occupant is gone: its last op on the slot before the next upload into it, or in
    // the plan (reuse; alloc buffers are poisoned by their free). A block uploaded for the next step stays.
    std::vector<bool> releases(n, false);
    std::vector<int> last_on_slot;
    auto release = [&](int i) {
      if (i >= 0 && !ops[size_t(i)].next_step) releases[size_t(i)] = true;
    };
    for (size_t i = 0; i < n; ++i) {
      if (ops[i].slot < 0 || ops[i].layer < 0) continue;
      if (size_t(ops[i].slot) >= last_on_slot.size()) last_on_slot.resize(size_t(ops[i].slot) + 1, -1);
      int& last = last_on_slot[size_t(ops[i].slot)];
      if (ops[i].kind == OpKind::upload) release(last);
      last = int(i);
    }
    for (int last : last_on_slot) release(last);
    std::vector<std::vector<size_t>> per_queue(kQueueCount);
    for (size_t i = 0; i < n; ++i) per_queue[size_t(ops[i].queue)].push_back(i);

    std::vector<std::thread> threads;
    for (int q = 0; q < kQueueCount; ++q) {
      if (per_queue[size_t(q)].empty()) continue;
      threads.emplace_back([&, q] {
        std::mt19937_64 rng(options_.schedule_seed ^ (uint64_t(st.step) * 0x9E3779B97F4A7C15ull) ^ uint64_t(q + 1));
        std::uniform_int_distribution<int> delay(options_.min_delay_us[size_t(q)],
                                                 std::max(options_.min_delay_us[size_t(q)], options_.max_delay_us[size_t(q)]));
        for (size_t i : per_queue[size_t(q)]) {
          if (!wait_for(ops[i].deps)) return;
          std::this_thread::sleep_for(std::chrono::microseconds(delay(rng)));
          {
            std::lock_guard<std::mutex> lock(mu_);
            started_.push_back(int(i));
          }
          try {
            if (ops[i].kind == OpKind::free) {
              poison(st.buffer_for(ops[i]));
              if (st.host_blobs) poison_bytes(st.staging_for(ops[i]));
            }
            run_op(ops[i], st);
            if (releases[i] && ops[i].kind != OpKind::free) {
              poison(st.slots.at(size_t(ops[i].slot)));
              if (!st.slot_staging.empty()) poison_bytes(st.slot_staging.at(size_t(ops[i].slot)));
            }
          } catch (...) {
            std::lock_guard<std::mutex> lock(mu_);
            if (!failure_) failure_ = std::current_exception();
            cv_.notify_all();
            return;
          }
          std::lock_guard<std::mutex> lock(mu_);
          done_[i] = true;
          cv_.notify_all();
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failure_) std::rethrow_exception(failure_);
  }

  void synchronize() override {}

 private:
  // False when another queue failed: stop instead of waiting forever.
  bool wait_for(const std::vector<int>& deps) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] {
      if (failure_) return true;
      for (int d : deps)
        if (!done_[size_t(d)]) return false;
      return true;
    });
    return !failure_;
  }

  static void poison(at::Tensor& buffer) { buffer.fill_(std::numeric_limits<double>::quiet_NaN()); }
  // A staging buffer (--wire-codec lossless): bytes that are no blob, so a decode or copy back of it fails or differs.
  static void poison_bytes(at::Tensor& buffer) { buffer.fill_(0xA5); }

  CpuExecutorOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> done_;
  std::exception_ptr failure_;
};

}  // namespace

std::unique_ptr<Executor> make_cpu_executor(const CpuExecutorOptions& options) {
  return std::make_unique<CpuExecutor>(options);
}

std::unique_ptr<Executor> make_cpu_executor(uint64_t schedule_seed, int max_delay_us) {
  CpuExecutorOptions options;
  options.schedule_seed = schedule_seed;
  options.max_delay_us.fill(max_delay_us);
  return make_cpu_executor(options);
}

}  // namespace zo2
