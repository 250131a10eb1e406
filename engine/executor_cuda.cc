// The CUDA executor: one stream per GPU queue, an event after every op, dependencies across queues as stream waits.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <array>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "engine/cuda_check.h"
#include "engine/executor.h"
#include "engine/nvtx_range.h"

namespace zo2 {
namespace {

// Runs the host_update queue on a thread of its own, in program order: each op waits until its dependencies' events
// are recorded by the enqueueing thread and complete on the GPU, then runs on the host.
class HostWorker {
 public:
  HostWorker(const std::vector<Op>& ops, const std::vector<cudaEvent_t>& events,
             const std::vector<cudaEvent_t>& previous_events)
      : ops_(ops), events_(events), previous_events_(previous_events), recorded_(ops.size(), false) {}
  ~HostWorker() {  // after an error on the enqueueing thread: let the worker stop instead of waiting forever
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  void submit(int i, StepState& st) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(i);
    if (!thread_.joinable()) thread_ = std::thread([this, &st] { loop(st); });
    cv_.notify_all();
  }
  void recorded(int i) {
    std::lock_guard<std::mutex> lock(mu_);
    recorded_[size_t(i)] = true;
    cv_.notify_all();
  }
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  void loop(StepState& st) {
    for (size_t next = 0;; ++next) {
      int i;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return next < queue_.size() || closed_; });
        if (next >= queue_.size()) return;
        i = queue_[next];
        auto ready = [&] {
          for (int d : ops_[size_t(i)].deps)
            if (!recorded_[size_t(d)]) return false;
          return true;
        };
        cv_.wait(lock, [&] { return ready() || closed_; });
        if (!ready()) return;  // closed before its dependencies were enqueued: the step failed
      }
      try {
        for (int d : ops_[size_t(i)].deps) CUDA_CHECK(cudaEventSynchronize(events_[size_t(d)]));
        for (int d : ops_[size_t(i)].prev_deps) CUDA_CHECK(cudaEventSynchronize(previous_events_[size_t(d)]));
        run_op(ops_[size_t(i)], st);
      } catch (...) {
        failure_ = std::current_exception();
        return;
      }
    }
  }

  const std::vector<Op>& ops_;
  const std::vector<cudaEvent_t>& events_;
  const std::vector<cudaEvent_t>& previous_events_;  // all recorded before this step started
  std::vector<bool> recorded_;
  std::vector<int> queue_;
  bool closed_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::exception_ptr failure_;
};

class CudaExecutor final : public Executor {
 public:
  CudaExecutor()
      : h2d_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true)),
        compute_(c10::cuda::getStreamFromPool()),
        d2h_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true)) {}

  ~CudaExecutor() override {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    for (cudaEvent_t e : previous_events_) cudaEventDestroy(e);
    for (auto& [layer, e] : blob_written_) cudaEventDestroy(e);
  }

  void run(StepState& st) override {
    const auto& ops = st.plan->ops;
    // The last step's events stay alive for this step's prev_deps; this step records into the pool of the step
    // before (a stream wait already enqueued on an event is not affected by recording it again).
    std::swap(events_, previous_events_);
    std::swap(recorded_, previous_recorded_);
    while (events_.size() < ops.size()) {
      cudaEvent_t e;
      CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
      events_.push_back(e);
    }
    recorded_.assign(ops.size(), false);
    if (!st.plan->continues) {
      // Order this step after everything the last one enqueued, without waiting on the host.
      const std::array<c10::cuda::CUDAStream, 3> streams{h2d_, compute_, d2h_};
      for (const auto& s : streams)
        for (cudaEvent_t tail : tails_) CUDA_CHECK(cudaStreamWaitEvent(s.stream(), tail, 0));
    }
    // A continued plan follows the last one only through its prev_deps and the streams' order.
    for (const Op& op : ops)
      for (int d : op.prev_deps)
        if (d < 0 || size_t(d) >= previous_recorded_.size() || !previous_recorded_[size_t(d)])
          throw std::logic_error(fmt::format("op '{}' waits for op {} of the previous step, which did not record an "
                                             "event on a stream", op.name, d));
    tails_.clear();

    started_.clear();
    std::array<int, kQueueCount> last_on_queue;
    last_on_queue.fill(-1);
    HostWorker host_updates(ops, events_, previous_events_);  // host/update ops run beside the enqueueing thread
    for (size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      if (stream_of(op.queue) == Stream::host_worker) {
        started_.push_back(int(i));
        host_updates.submit(int(i), st);
        continue;
      }
      c10::cuda::CUDAStream stream = stream_for(op.queue);
      c10::cuda::CUDAStreamGuard guard(stream);
      for (int d : op.deps)
        if (stream_for(ops[size_t(d)].queue) != stream) CUDA_CHECK(cudaStreamWaitEvent(stream.stream(), events_[size_t(d)], 0));
      for (int d : op.prev_deps) CUDA_CHECK(cudaStreamWaitEvent(stream.stream(), previous_events_[size_t(d)], 0));
      started_.push_back(int(i));
      // --wire-codec lossless: the upload reads its blob's size on the host, so the blob's latest copy back (this
      // step's or an earlier one's) must have landed. The upload waits for that copy back on the GPU anyway; the
      // host waits only when it enqueues faster than the copy back runs.
      if (op.kind == OpKind::upload && st.host_blobs) {
        auto written = blob_written_.find(op.layer);
        if (written != blob_written_.end()) CUDA_CHECK(cudaEventSynchronize(written->second));
      }
      {
        NvtxRange range(op.name.c_str());
        run_op(op, st);
      }
      if (op.kind == OpKind::download && st.host_blobs) {
        cudaEvent_t& e = blob_written_[op.layer];
        if (!e) CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
        CUDA_CHECK(cudaEventRecord(e, stream.stream()));
      }
      if (op.kind == OpKind::alloc) {
        // The buffer is used on the copy streams too: keep the allocator from reusing it before they are done.
        at::Tensor& buffer = st.buffer_for(op);
        buffer.record_stream(h2d_);
        buffer.record_stream(d2h_);
        if (st.host_blobs) {  // and its staging buffer, which the upload fills and the copy back reads
          at::Tensor& staging = st.staging_for(op);
          staging.record_stream(h2d_);
          staging.record_stream(d2h_);
        }
      }
      CUDA_CHECK(cudaEventRecord(events_[i], stream.stream()));
      recorded_[i] = true;
      host_updates.recorded(int(i));
      last_on_queue[size_t(op.queue)] = int(i);
    }
    host_updates.finish();  // the next step's uploads read what these wrote
    for (int i : last_on_queue)
      if (i >= 0) tails_.push_back(events_[size_t(i)]);
  }

  void synchronize() override {
    for (const auto& s : {h2d_, compute_, d2h_}) CUDA_CHECK(cudaStreamSynchronize(s.stream()));
  }

 private:
  // The plan's stream of each queue (core/plan.h): host-side ops (alloc, free, the loss read) run in compute-stream
  // order, so the loss read waits for the head.
  c10::cuda::CUDAStream stream_for(Queue q) const {
    switch (stream_of(q)) {
      case Stream::h2d: return h2d_;
      case Stream::d2h: return d2h_;
      case Stream::compute:
      case Stream::host_worker: break;  // host_update ops never reach a CUDA stream (HostWorker runs them)
    }
    return compute_;
  }

  c10::cuda::CUDAStream h2d_, compute_, d2h_;
  std::vector<cudaEvent_t> events_, previous_events_;  // this step's and the last step's, per op
  std::vector<bool> recorded_, previous_recorded_;     // whether the op recorded its event (host_update ops do not)
  std::vector<cudaEvent_t> tails_;
  std::map<int64_t, cudaEvent_t> blob_written_;  // layer -> its blob's latest copy back (--wire-codec lossless)
};

}  // namespace

std::unique_ptr<Executor> make_cuda_executor() { return std::make_unique<CudaExecutor>(); }

}  // namespace zo2
