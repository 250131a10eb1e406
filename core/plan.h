// One ZO step as data: operations on queues with explicit dependency edges and GPU slot assignments. The CUDA
// executor, the CPU reference executor and the simulator all walk this; none of them holds policy logic.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/model_shape.h"
#include "core/plan_memory.h"
#include "core/policy.h"

namespace zo2 {

// Queues are in order, like CUDA streams: an op starts only after the op before it on its queue has finished.
// h2d/compute/d2h are GPU streams; host is the main host thread (allocation, the one wait for the losses);
// host_update is the host worker pool that updates the master when the wire is below the master.
enum class Queue : uint8_t { h2d, compute, d2h, host, host_update };
constexpr int kQueueCount = 5;
std::string_view queue_name(Queue q);

// Where a queue's ops run, the one mapping every executor reads (the CUDA executor's streams, the simulator's
// in-order lanes): h2d, compute and d2h are GPU streams; the host queue's ops (alloc, free, the loss read) run on the
// host as they are enqueued and record their completion on the compute stream, so they take their place in its
// order; host_update runs on the host worker pool, beside the enqueueing thread.
enum class Stream : uint8_t { h2d, compute, d2h, host_worker };
constexpr int kStreamCount = 4;
Stream stream_of(Queue q);
std::string_view stream_name(Stream s);

enum class OpKind : uint8_t {
  upload,       // h2d/L07: host slab -> GPU slot, wire format
  zo_update,    // zo+/L07, zo+/resident: pending update (g_prev * z_prev + wd) and +eps z
  zo_perturb,   // zo+/head: +eps z only (the tied head's second visit of the resident group; no pending update)
  zo_minus,     // zo-/...: -2 eps z
  zo_restore,   // zo=/...: +eps z, back to theta
  zo_fold,      // zo=/... with --fold-update: +eps z back to theta, then this step's update with the same z (after loss)
  forward,      // fwd+/L07, fwd-/L07: one block's forward for one pass
  embed,        // embed/fwd+, embed/fwd-
  head,         // head/fwd+, head/fwd-: final norm, logits and the pass's loss on the GPU
  download,     // d2h/L07: GPU slot -> host slab
  replay,       // replay/L07: regenerated pending updates of the steps since the block was last copied back
  alloc,        // alloc/L07 (--slots alloc): cudaMalloc of one slot
  free,         // free/L07 (--slots alloc)
  host_update,  // host/update/L07: the host applies the pending update to its master from the regenerated z
  loss,         // loss: the host waits for the two losses (the one host wait of a step) and forms g
  decode,       // dec/L07 (--wire-codec lossless): the uploaded blob in the slot's staging buffer -> the slot
  encode,       // enc/L07 (--wire-codec lossless): the slot -> a blob in its staging buffer, with the block's table
};
constexpr int kOpKindCount = int(OpKind::encode) + 1;
std::string_view op_kind_name(OpKind k);

struct Op {
  std::string name;          // the NVTX range / trace event / CSV key, e.g. "fwd+/L07"
  OpKind kind = OpKind::forward;
  Queue queue = Queue::compute;
  int64_t layer = -1;        // block index, -1 for the resident group, head, loss
  int slot = -1;             // GPU slot (offloaded blocks), -1 otherwise
  // copies: bytes on the link (wire format incl. fp8 scales; --wire-codec lossless: the expected coded size up,
  // the staging buffer's whole capacity back); alloc/free: slot bytes (staging buffer included)
  int64_t link_bytes = 0;
  double flops = 0;          // forward/head FLOPs (multiply-add = 2)
  // device (or host, for host_update) memory bytes read plus written; decode/encode: the block's raw bytes (the
  // unit of the profile's codec rates)
  int64_t mem_bytes = 0;
  int64_t rng_samples = 0;   // normal samples the op regenerates (z of this step and of pending updates)
  int64_t elements = 0;      // parameters touched (ZO passes, host update)
  int kernels = 0;           // kernel launches (launch overhead)
  int pass = 0;              // embed/forward/head: +1 for the +eps pass, -1 for the -eps pass
  int64_t updates = 0;       // replay/zo+: pending updates applied (replay: steps regenerated)
  bool pinned = true;        // copies: host side pinned (false models pageable memory)
  bool next_step = false;    // upload: it uploads a block for the next step's plan (--prefetch-next, see below)
  std::vector<int> deps;     // indices of earlier ops that must finish first (besides queue order)
  std::vector<int> prev_deps;  // indices of ops of the previous step's plan that must finish first (continued plans)
};

// Plans in a chain (--prefetch-next on). A step's plan ends with early uploads (`next_step`, named h2d/next/Lxx):
// the first min(D+1, offloaded) blocks of the next step, enqueued before the loss so that they run on the h2d queue
// while the step's last block and the head compute. The plan after it `continues` it: it does not upload those
// blocks, and its first op on each of them lists the early upload in `prev_deps`. Uploads form one stream across the
// steps: the g-th upload of the chain lands in slot g mod S and waits for the release of upload g-S and for the zo=
// of block g-D-1 (the prefetch window), wherever those ops are; and an upload waits for the latest copy back of its
// block (the host slab must hold the newest copy). Where those ops are in the previous step, they are prev_deps.
// Executors order a continued plan after the previous one only through prev_deps and queue order (the queues are
// the same streams from step to step), so the previous plan's ops must still be known when it starts: the CUDA
// executor keeps the previous step's events, the CPU executor finishes each step before the next, the simulator runs
// the chain on one timeline. A plan that does not continue (the first step, the first after a flush, every plan
// without the knob) uploads its own first blocks and starts after everything before it.
struct Plan {
  ModelShape shape;
  Policy policy;
  int64_t batch = 1, seq = 2048;
  int64_t step = 0;           // step index; with --writeback K the plan repeats every K steps
  bool continues = false;     // finds its first blocks uploaded by the previous step's plan (see above)
  int slot_count = 0;         // GPU slots (reuse) or the most live allocations planned for (alloc)
  int64_t slot_bytes = 0;     // one slot: wire buffer plus a compute-format buffer when the formats differ
  int64_t wire_block_bytes = 0;     // one block on the link (raw; --wire-codec lossless: see Op::link_bytes)
  // --wire-codec lossless with offloaded blocks: each slot's device staging buffer, the largest blob a block can
  // encode to (wire_codec_max_bytes), and the GPU encoder's scratch (one, on the compute stream); 0 otherwise.
  int64_t staging_bytes = 0, codec_scratch_bytes = 0;
  int64_t coded_upload_bytes = 0;   // --wire-codec lossless: the bytes an upload is expected to carry
  int64_t compute_block_bytes = 0;  // one block in the compute format
  std::vector<Op> ops;        // program order: the order the host enqueues them
  MemoryPrediction memory;

  int64_t tokens() const { return batch * seq; }
  // Checks the structural invariants (deps point to earlier ops, slots are handed over through a dependency, each
  // offloaded block is uploaded once per step, counting the previous plan's early uploads as this step's, an upload
  // waits for its block's latest copy back); throws std::logic_error naming the op. A continued plan is checked
  // across the step boundary when `previous` (the plan it continues) is given; alone, its first blocks are taken
  // to be those its own early uploads carry (the same policy uploads the same blocks early every step).
  void validate(const Plan* previous = nullptr) const;
  int find(std::string_view name) const;  // index of the op, -1 if absent
};

// Bytes of block `layer` in format `dt` on the link: the 256-byte-aligned slab, plus for fp8 one fp32 scale per
// 128 slab elements (views start on 256-element boundaries in fp8, so a group never straddles two tensors).
constexpr int64_t kFp8GroupElements = 128;
int64_t wire_bytes(const ModelShape& shape, DType dt);
// --wire-codec lossless: the coded size of a block of `shape` in `dt` (bf16 or fp16) as a fraction of its raw bytes,
// the ratio `zo2 codec-ratio` measures on random-init blocks (experiments/results/wire_codec_ratio.csv; trained
// weights measured there code about as well). The plan's upload bytes are this ratio times the raw bytes: the real
// size is the data's, known only when a block is encoded.
double wire_codec_expected_ratio(DType dt);
// Elements the codec codes per block (the whole slab, padding included) and the largest blob they encode to.
int64_t wire_codec_block_elements(const ModelShape& shape, DType dt);

// The step schedule. `step` selects which blocks are copied back and how many updates replay with --writeback K
// (block l is copied back at the steps s with (s + l) % K == K - 1, so each step copies back about 1/K of the
// blocks). Throws std::invalid_argument (with the prediction's terms) when the policy's --gpu-mem-budget is
// exceeded. `memory_model` holds the named constants of the memory prediction.
// With --prefetch-next on and `previous` (the plan of step - 1, same shape, policy, batch and seq) given, the plan
// continues it; without `previous` it starts fresh (and still ends with the next step's early uploads).
Plan build_plan(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq, int64_t step = 0,
                const MemoryModel& memory_model = MemoryModel{}, const Plan* previous = nullptr);

// The plans of steps first .. first+count-1 as a run executes them from `first` on: the first starts fresh and,
// with --prefetch-next on, each later one continues the one before.
std::vector<Plan> build_plan_sequence(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                                      int64_t first, int64_t count, const MemoryModel& memory_model = MemoryModel{});

// --slots alloc: the caching allocator counts a buffer from alloc/Lxx to free/Lxx as the host runs them, in program
// order (the CUDA executor enqueues the whole step before the GPU catches up), so the bytes of buffers live at once,
// and of those live while a forward or head op is enqueued, follow from the ops' order alone. Zero without allocs.
AllocLive alloc_live(const Plan& plan);

// Replays pending at block `layer` at `step` with --writeback K: updates made on the GPU since its last copy back,
// excluding the latest (applied by zo+).
int64_t replays_due(int64_t layer, int64_t step, int64_t writeback);
bool writeback_due(int64_t layer, int64_t step, int64_t writeback);

// The counts of a replay op (OpKind::replay) of `updates` missed steps of one of a plan's offloaded blocks: the one
// definition the builder and the simulator's write-back cycle (which prices the same op at other counts) share.
struct ReplayCounts {
  explicit ReplayCounts(const Plan& plan);  // reads the plan's shape, policy and block bytes
  void set(Op& op, int64_t updates) const;
  int64_t authority_bytes = 0, block_params = 0;
};

}  // namespace zo2
