// The plan builder: ZO2's step schedule (both passes advance block by block, each block uploaded once) from a
// model shape and a policy, with the structural checks every executor relies on.
#include "core/plan.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/model_family.h"
#include "core/slab_layout.h"
#include "core/wire_codec.h"

namespace zo2 {

std::string_view queue_name(Queue q) {
  switch (q) {
    case Queue::h2d: return "h2d";
    case Queue::compute: return "compute";
    case Queue::d2h: return "d2h";
    case Queue::host: return "host";
    case Queue::host_update: return "host_update";
  }
  return "?";
}

Stream stream_of(Queue q) {
  switch (q) {
    case Queue::h2d: return Stream::h2d;
    case Queue::d2h: return Stream::d2h;
    case Queue::host_update: return Stream::host_worker;
    case Queue::compute:
    case Queue::host: return Stream::compute;
  }
  return Stream::compute;
}

std::string_view stream_name(Stream s) {
  switch (s) {
    case Stream::h2d: return "the h2d stream";
    case Stream::compute: return "the compute stream";
    case Stream::d2h: return "the d2h stream";
    case Stream::host_worker: return "the host worker pool";
  }
  return "?";
}

std::string_view op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::upload: return "upload";
    case OpKind::zo_update: return "zo_update";
    case OpKind::zo_perturb: return "zo_perturb";
    case OpKind::zo_minus: return "zo_minus";
    case OpKind::zo_restore: return "zo_restore";
    case OpKind::zo_fold: return "zo_fold";
    case OpKind::forward: return "forward";
    case OpKind::embed: return "embed";
    case OpKind::head: return "head";
    case OpKind::download: return "download";
    case OpKind::replay: return "replay";
    case OpKind::alloc: return "alloc";
    case OpKind::free: return "free";
    case OpKind::host_update: return "host_update";
    case OpKind::loss: return "loss";
    case OpKind::decode: return "decode";
    case OpKind::encode: return "encode";
  }
  return "?";
}

int64_t wire_bytes(const ModelShape& shape, DType dt) {
  const SlabLayout layout = block_layout(shape, 0, dt);
  int64_t bytes = layout.bytes();
  if (dt == DType::fp8_e4m3) bytes += (layout.elements + kFp8GroupElements - 1) / kFp8GroupElements * 4;
  return bytes;
}

// The ratios `zo2 codec-ratio` measures on N(0, 0.02) blocks of the OPT presets (coded bytes over raw bytes, the
// blob's header, table and offsets included; experiments/results/wire_codec_ratio.csv). fp16 codes less well: its
// symbol byte carries the sign and two mantissa bits beside the exponent.
double wire_codec_expected_ratio(DType dt) {
  if (dt == DType::bf16) return 0.6664;
  if (dt == DType::f16) return 0.8474;
  throw std::invalid_argument(fmt::format("wire codec: dtype {} is not a 16-bit float (expected fp16 or bf16)",
                                          dtype_name(dt)));
}

int64_t wire_codec_block_elements(const ModelShape& shape, DType dt) { return block_layout(shape, 0, dt).elements; }

bool writeback_due(int64_t layer, int64_t step, int64_t writeback) {
  return (step + layer) % writeback == writeback - 1;
}

// Bounded by the step index: before step 0 nothing happened, so the first steps have fewer updates to replay.
int64_t replays_due(int64_t layer, int64_t step, int64_t writeback) {
  return std::min((step + layer) % writeback, step);
}

// Each missed step is replayed exactly as it ran (update with +eps, -2eps, +eps): three read-modify-write passes
// and four z per element, over the copy that holds the block's parameters on the GPU (the wire buffer when its
// format differs from the compute format: it must keep the exact values it will copy back).
ReplayCounts::ReplayCounts(const Plan& plan)
    : authority_bytes(plan.policy.wire == plan.policy.dtype ? plan.compute_block_bytes : plan.wire_block_bytes),
      block_params(plan.shape.block_params()) {}

void ReplayCounts::set(Op& op, int64_t updates) const {
  op.mem_bytes = 3 * updates * 2 * authority_bytes;
  op.kernels = int(3 * updates);
  op.rng_samples = 4 * updates * block_params;
  op.elements = block_params;
  op.updates = updates;
}

int Plan::find(std::string_view name) const {
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].name == name) return int(i);
  return -1;
}

namespace {

std::string layer_tag(int64_t layer) { return fmt::format("L{:02d}", layer); }

class Builder {
 public:
  Builder(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq, int64_t step,
          const Plan* previous, Plan& plan)
      : s_(shape), p_(policy), B_(batch), T_(seq), step_(step), previous_(previous), plan_(plan) {}

  void build() {
    const int64_t elt = dtype_bytes(p_.dtype);
    tokens_ = B_ * T_;
    block_params_ = s_.block_params();
    block_elements_ = block_layout(s_, 0, p_.dtype).elements;
    compute_bytes_ = block_layout(s_, 0, p_.dtype).bytes();
    wire_bytes_ = wire_bytes(s_, p_.wire);
    master_bytes_ = block_layout(s_, 0, p_.master).bytes();
    writes_back_ = p_.gpu_writes_back();
    for (int64_t l = 0; l < p_.layers(); ++l)
      if (p_.offload[size_t(l)]) offloaded_.push_back(l);
    const int64_t n_off = int64_t(offloaded_.size());
    // D+1 slots hold the computing block and the D prefetched ones; one more holds the block being copied back
    // while the next upload lands, so the copy back never stalls the pipeline.
    int64_t slots = n_off == 0 ? 0 : p_.prefetch + 1 + (writes_back_ ? 1 : 0);
    slots = std::min(slots, n_off);
    plan_.slot_count = int(slots);
    plan_.slot_bytes = wire_bytes_ + (p_.wire != p_.dtype ? compute_bytes_ : 0);
    plan_.wire_block_bytes = wire_bytes_;
    plan_.compute_block_bytes = compute_bytes_;
    // --wire-codec lossless: the host holds blobs, each slot a staging buffer the largest blob fits in.
    codec_ = p_.wire_codec == WireCodec::lossless && n_off > 0;
    if (codec_) {
      const int64_t n = wire_codec_block_elements(s_, p_.wire);
      plan_.staging_bytes = wire_codec_max_bytes(n);
      plan_.codec_scratch_bytes = wire_codec_encode_scratch_bytes(n);
      plan_.coded_upload_bytes = int64_t(std::llround(wire_codec_expected_ratio(p_.wire) * double(wire_bytes_)));
    }
    upload_.assign(size_t(n_off), -1);
    restore_.assign(size_t(n_off), -1);
    release_.assign(size_t(n_off), -1);
    download_.assign(size_t(n_off), -1);
    // --prefetch-next: the next step's first blocks, as many as this step uploads before its first compute.
    early_ = p_.prefetch_next ? std::min(p_.prefetch + 1, n_off) : 0;
    if (previous_ && early_ > 0) link_previous();
    plan_.continues = continues_;

    // Resident group, embedding side: the pending update and +eps, then both passes' embeddings.
    const int64_t res_params = s_.resident_params();
    const int64_t res_bytes = resident_layout(s_, p_.dtype).bytes();
    const int64_t embed_mem = 3 * tokens_ * s_.hidden * elt;
    const ModelFamily& family = s_.desc();
    const BlockCostTerms cost = family.block_cost_terms(s_);
    const double embed_flops = family.embed_forward_flops(s_, B_, T_);
    // With --fold-update the resident group's update was applied by the last step's zo=/head: +eps only.
    const bool fold_resident = p_.folds(-1);
    int a = add_zo("zo+/resident", fold_resident ? OpKind::zo_perturb : OpKind::zo_update, -1, res_params,
                   2 * res_bytes, (fold_resident ? 1 : 2) * res_params, {});
    int ep = add(make("embed/fwd+", OpKind::embed, Queue::compute, -1, embed_flops, embed_mem, cost.embed_kernels,
                          +1),
                     {a});
    int b = add_zo("zo-/resident", OpKind::zo_minus, -1, res_params, 2 * res_bytes, res_params, {ep});
    int em = add(make("embed/fwd-", OpKind::embed, Queue::compute, -1, embed_flops, embed_mem, cost.embed_kernels,
                          -1),
                     {b});
    int resident_restore = add_zo("zo=/resident", OpKind::zo_restore, -1, res_params, 2 * res_bytes, res_params, {em});
    int prev_plus = ep, prev_minus = em;

    // The first D+1 uploads start the step, unless the previous step's plan made them.
    for (int64_t j = continues_ ? early_ : 0; j <= p_.prefetch && j < n_off; ++j) issue_upload(j, false);

    int64_t i = 0;  // index among offloaded blocks
    for (int64_t l = 0; l < p_.layers(); ++l) {
      const bool off = p_.offload[size_t(l)];
      const std::string tag = layer_tag(l);
      std::vector<int> first_deps, first_prev_deps;
      int slot = -1;
      if (off) {
        // The block's first op waits for its upload: this plan's, or the previous plan's early upload.
        if (upload_[size_t(i)] >= 0) first_deps.push_back(upload_[size_t(i)]);
        else first_prev_deps.push_back(prev_early_[size_t(i)]);
        if (p_.slots == SlotMode::reuse) slot = slot_at(i);
        if (codec_) {
          // The blob the upload brought into the staging buffer becomes the block, in the slot.
          Op d = make("dec/" + tag, OpKind::decode, Queue::compute, l, 0, compute_bytes_, 1);
          d.elements = block_elements_;
          d.slot = slot;
          d.prev_deps = std::move(first_prev_deps);
          first_prev_deps.clear();
          first_deps = {add(d, first_deps)};
        }
        const int64_t r = writes_back_ ? replays_due(l, step_, p_.writeback) : 0;
        if (r > 0) {
          // Each missed step is replayed exactly as it ran (update with +eps, -2eps, +eps), so the result stays
          // bitwise the resident one: three read-modify-write passes and four z per element per missed step.
          Op op = make("replay/" + tag, OpKind::replay, Queue::compute, l, 0, 0, 0);
          ReplayCounts(plan_).set(op, r);
          op.slot = slot;
          op.prev_deps = std::move(first_prev_deps);
          first_prev_deps.clear();
          first_deps = {add(op, first_deps)};
        }
      }
      const int64_t zp_bytes = zo_bytes(off, true), zx_bytes = zo_bytes(off, false);
      // A block that folds its update (--fold-update, resident blocks) has none pending: its first pass is +eps only.
      const bool folds = p_.folds(l);
      int zp = add_zo("zo+/" + tag, folds ? OpKind::zo_perturb : OpKind::zo_update, l, block_params_, zp_bytes,
                      (folds ? 1 : 2) * block_params_, first_deps, slot);
      plan_.ops[size_t(zp)].prev_deps = std::move(first_prev_deps);
      const double fwd_flops = s_.block_forward_flops(B_, T_);
      const int64_t fwd_mem = compute_bytes_ + tokens_ * cost.activation_elements_per_token * elt;
      Op fp_op = make("fwd+/" + tag, OpKind::forward, Queue::compute, l, fwd_flops, fwd_mem, cost.kernels, +1);
      fp_op.slot = slot;
      int fp = add(fp_op, {zp, prev_plus});
      int zm = add_zo("zo-/" + tag, OpKind::zo_minus, l, block_params_, zx_bytes, block_params_, {fp}, slot);
      Op fm_op = make("fwd-/" + tag, OpKind::forward, Queue::compute, l, fwd_flops, fwd_mem, cost.kernels, -1);
      fm_op.slot = slot;
      int fm = add(fm_op, {zm, prev_minus});
      // A folding block's restore waits for the loss (it needs g): it is added after the loss, below.
      int zr = -1;
      if (folds) folded_.push_back({l, fm});
      else zr = add_zo("zo=/" + tag, OpKind::zo_restore, l, block_params_, zx_bytes, block_params_, {fm}, slot);
      prev_plus = fp;
      prev_minus = fm;
      if (off) {
        restore_[size_t(i)] = zr;
        int release = zr;
        if (writes_back_ && writeback_due(l, step_, p_.writeback)) {
          int copied = zr;
          if (codec_) {
            // The slot coded again with the table its upload brought, into the staging buffer the copy back reads.
            Op e = make("enc/" + tag, OpKind::encode, Queue::compute, l, 0, compute_bytes_, 3);
            e.elements = block_elements_;
            e.slot = slot;
            copied = add(e, {zr});
          }
          Op d = make("d2h/" + tag, OpKind::download, Queue::d2h, l, 0, 0, 0);
          // The coded size is known on the GPU only: the copy back takes the staging buffer whole.
          d.link_bytes = codec_ ? plan_.staging_bytes : wire_bytes_;
          d.slot = slot;
          release = download_[size_t(i)] = add(d, {copied});
        }
        if (!writes_back_) {
          // The host updates its master after the upload has read it, off the GPU's critical path; the next step's
          // upload of this block needs it done (the step ends only when every op has).
          Op h = make("host/update/" + tag, OpKind::host_update, Queue::host_update, l, 0,
                      2 * master_bytes_ + (p_.wire != p_.master ? wire_bytes_ : 0), 0);
          h.rng_samples = block_params_;
          h.elements = block_params_;
          h.updates = 1;
          add(h, {upload_[size_t(i)]});
        }
        release_[size_t(i)] = release;
        if (i + p_.prefetch + 1 < n_off) issue_upload(i + p_.prefetch + 1, false);
        if (p_.slots == SlotMode::alloc) {
          Op f = make("free/" + tag, OpKind::free, Queue::host, l, 0, 0, 0);
          f.link_bytes = plan_.slot_bytes + plan_.staging_bytes;
          add(f, {release});
        }
        ++i;
      }
    }

    // --prefetch-next: the next step's first uploads, enqueued before the head and the loss (the host's wait), run
    // while the last block and the head compute.
    for (int64_t j = 0; j < early_; ++j) issue_upload(j, true);

    // Resident group, head side: the head (OPT: tied to the embedding; LLaMA: lm_head and the final norm, in the same
    // slab) must see the perturbed group again (+eps, -2eps, +eps, no update).
    int hz = add_zo("zo+/head", OpKind::zo_perturb, -1, res_params, 2 * res_bytes, res_params, {resident_restore});
    const double head_flops = s_.head_forward_flops(B_, T_);
    const int64_t head_mem = s_.vocab_size * s_.word_embed_proj_dim * elt + tokens_ * s_.vocab_size * (elt + 8);
    int hp = add(make("head/fwd+", OpKind::head, Queue::compute, -1, head_flops, head_mem, cost.head_kernels, +1),
                 {hz, prev_plus});
    int hm = add_zo("zo-/head", OpKind::zo_minus, -1, res_params, 2 * res_bytes, res_params, {hp});
    int hf = add(make("head/fwd-", OpKind::head, Queue::compute, -1, head_flops, head_mem, cost.head_kernels, -1),
                 {hm, prev_minus});
    if (!fold_resident) add_zo("zo=/head", OpKind::zo_restore, -1, res_params, 2 * res_bytes, res_params, {hf});
    const int loss = add(make("loss", OpKind::loss, Queue::host, -1, 0, 0, 0), {hp, hf});

    // --fold-update: the restores that apply this step's update, now that g is known (in block order, then the
    // resident group). Each regenerates one z per element, the restore's, where zo+ would regenerate two next step.
    for (const auto& [layer, fwd_minus] : folded_) {
      Op f = make("zo=/" + layer_tag(layer), OpKind::zo_fold, Queue::compute, layer, 0, 2 * compute_bytes_, 1);
      f.elements = block_params_;
      f.rng_samples = block_params_;
      f.updates = 1;
      add(f, {fwd_minus, loss});
    }
    if (fold_resident) {
      Op f = make("zo=/head", OpKind::zo_fold, Queue::compute, -1, 0, 2 * res_bytes, 1);
      f.elements = res_params;
      f.rng_samples = res_params;
      f.updates = 1;
      add(f, {hf, loss});
    }
  }

 private:
  Queue q(Queue wanted) const { return p_.overlap ? wanted : Queue::compute; }

  Op make(std::string name, OpKind kind, Queue queue, int64_t layer, double flops, int64_t mem, int kernels,
          int pass = 0) const {
    Op op;
    op.pass = pass;
    op.name = std::move(name);
    op.kind = kind;
    op.queue = q(queue);
    op.layer = layer;
    op.flops = flops;
    op.mem_bytes = mem;
    op.kernels = kernels;
    return op;
  }

  int add(Op op, std::vector<int> deps) {
    op.deps = std::move(deps);
    plan_.ops.push_back(std::move(op));
    return int(plan_.ops.size()) - 1;
  }

  int add_zo(std::string name, OpKind kind, int64_t layer, int64_t params, int64_t mem, int64_t rng,
             std::vector<int> deps, int slot = -1) {
    Op op = make(std::move(name), kind, Queue::compute, layer, 0, mem, 1);
    op.elements = params;
    op.rng_samples = rng;
    op.updates = kind == OpKind::zo_update ? 1 : 0;
    op.slot = slot;
    return add(op, std::move(deps));
  }

  // Device bytes a ZO pass reads and writes. Same formats: read and write the slab once. A wire buffer that differs
  // from the compute format: the GPU updates the wire copy and writes a compute-format copy for the forward; with the
  // wire below the master only zo+ reads the wire copy and the later passes work on the compute copy.
  int64_t zo_bytes(bool offloaded, bool first) const {
    if (!offloaded || p_.wire == p_.dtype) return 2 * compute_bytes_;
    if (writes_back_) return 2 * wire_bytes_ + compute_bytes_;
    return first ? wire_bytes_ + compute_bytes_ : 2 * compute_bytes_;
  }

  // Uploads form one stream across the steps (plan.h): g counts this step's offloaded blocks from 0, the next step's
  // from n_off, and a negative g is the previous step's block n_off + g.
  int slot_at(int64_t g) const { return int((base_slot_ + g) % plan_.slot_count); }

  static void add_once(std::vector<int>& v, int x) {
    if (x >= 0 && std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  }

  // Adds the dependency on op `here[g]` of this plan, or on `before[n_off + g]` of the previous one when g < 0 (none
  // before a fresh plan: everything of the previous step has finished by then).
  void after(int64_t g, const std::vector<int>& here, const std::vector<int>& before, Op& op) const {
    const int64_t n_off = int64_t(offloaded_.size());
    if (g >= 0) add_once(op.deps, here[size_t(g)]);
    else if (continues_ && g + n_off >= 0) add_once(op.prev_deps, before[size_t(g + n_off)]);
  }

  // The upload of offloaded block j of this step, or with `next` of the next step (an early upload).
  void issue_upload(int64_t j, bool next) {
    const int64_t layer = offloaded_[size_t(j)];
    const std::string tag = layer_tag(layer);
    const int64_t n_off = int64_t(offloaded_.size());
    const int64_t g = next ? n_off + j : j;
    Op u = make((next ? "h2d/next/" : "h2d/") + tag, OpKind::upload, Queue::h2d, layer, 0, 0, 0);
    u.link_bytes = codec_ ? plan_.coded_upload_bytes : wire_bytes_;
    u.next_step = next;
    after(g - p_.prefetch - 1, restore_, prev_restore_, u);  // at most D blocks uploaded ahead of the one computing
    if (p_.slots == SlotMode::reuse) {
      u.slot = slot_at(g);
      after(g - plan_.slot_count, release_, prev_release_, u);  // the slot's previous occupant has left it
    } else {
      Op a = make("alloc/" + tag, OpKind::alloc, Queue::host, layer, 0, 0, 0);
      a.link_bytes = plan_.slot_bytes + plan_.staging_bytes;
      u.deps = {add(a, u.deps)};
    }
    // The host slab must hold the block's newest copy: after its copy back in this step (an early upload), or in
    // the previous one (this step's upload of it; older copies back precede the previous upload of it). The copy back
    // also frees the block's slot for an upload the h2d queue runs earlier, so the edge is implied here; it is
    // stated so that the plan does not rest on that.
    if (next) add_once(u.deps, download_[size_t(j)]);
    else if (continues_) add_once(u.prev_deps, prev_download_[size_t(j)]);
    const int i = add(u, u.deps);
    if (!next) upload_[size_t(j)] = i;
  }

  // Reads what a continued plan needs of the previous step's plan, by op name: the early uploads that carry this
  // step's first blocks in, and the ops later uploads of this step wait for (zo=, the release, the copy back).
  void link_previous() {
    const Plan& prev = *previous_;
    if (policy_to_json(prev.policy) != policy_to_json(p_) || prev.shape.layers != s_.layers ||
        prev.shape.block_params() != s_.block_params() || prev.batch != B_ || prev.seq != T_)
      throw std::invalid_argument("plan: the previous plan was built for another model, policy, batch or seq");
    if (prev.step != step_ - 1)
      throw std::invalid_argument(
          fmt::format("plan: step {} cannot continue the plan of step {} (expected step {})", step_, prev.step, step_ - 1));
    auto find = [&](const std::string& name, bool required) {
      const int k = prev.find(name);
      if (k < 0 && required)
        throw std::logic_error(fmt::format("plan: the previous step's plan has no op '{}' to continue from", name));
      return k;
    };
    const size_t n_off = offloaded_.size();
    prev_restore_.assign(n_off, -1);
    prev_release_.assign(n_off, -1);
    prev_download_.assign(n_off, -1);
    prev_early_.assign(n_off, -1);
    for (size_t i = 0; i < n_off; ++i) {
      const std::string tag = layer_tag(offloaded_[i]);
      prev_restore_[i] = find("zo=/" + tag, true);
      prev_download_[i] = find("d2h/" + tag, false);
      prev_release_[i] = prev_download_[i] >= 0 ? prev_download_[i] : prev_restore_[i];
      if (int64_t(i) < early_) prev_early_[i] = find("h2d/next/" + tag, true);
    }
    // This step's block 0 sits where the previous plan put it; the slots continue round from there.
    base_slot_ = prev.ops[size_t(prev_early_[0])].slot;
    continues_ = true;
  }

  const ModelShape& s_;
  const Policy& p_;
  int64_t B_, T_, step_;
  const Plan* previous_;
  Plan& plan_;
  int64_t tokens_ = 0, block_params_ = 0, compute_bytes_ = 0, wire_bytes_ = 0, master_bytes_ = 0;
  bool writes_back_ = true;
  bool continues_ = false;
  bool codec_ = false;          // --wire-codec lossless with offloaded blocks
  int64_t block_elements_ = 0;  // elements of a block's slab (what the codec codes)
  int64_t early_ = 0;    // early uploads at the end of the step (--prefetch-next)
  int base_slot_ = 0;    // slot of this step's first offloaded block
  std::vector<int64_t> offloaded_;
  // Per offloaded block (index among them), ops of this plan: upload (-1: carried in), zo=, release (the last op
  // on its slot), copy back (-1: none this step); and of the previous plan when this one continues it.
  std::vector<int> upload_, restore_, release_, download_;
  std::vector<int> prev_early_, prev_restore_, prev_release_, prev_download_;
  std::vector<std::pair<int64_t, int>> folded_;  // --fold-update: (block, its fwd-) whose zo= follows the loss
};

}  // namespace

AllocLive alloc_live(const Plan& plan) {
  AllocLive a;
  int64_t live = 0;
  for (const Op& op : plan.ops) {
    if (op.kind == OpKind::alloc) live += op.link_bytes;
    if (op.kind == OpKind::free) live -= op.link_bytes;
    a.any = std::max(a.any, live);
    if (op.kind == OpKind::forward) a.forward = std::max(a.forward, live);
    if (op.kind == OpKind::head) a.head = std::max(a.head, live);
  }
  return a;
}

Plan build_plan(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq, int64_t step,
                const MemoryModel& memory_model, const Plan* previous) {
  policy.validate();
  if (policy.layers() != shape.layers)
    throw std::invalid_argument(fmt::format("plan: the policy is resolved for {} layers but the model has {}",
                                            policy.layers(), shape.layers));
  if (batch <= 0) throw std::invalid_argument(fmt::format("--batch: expected an integer >= 1, got {}", batch));
  if (seq <= 0 || seq > shape.max_positions)
    throw std::invalid_argument(
        fmt::format("--seq: expected an integer in 1..{} (the model's positions), got {}", shape.max_positions, seq));
  shape.check_sequence(seq, "--seq");
  if (step < 0) throw std::invalid_argument(fmt::format("plan: step must be >= 0, got {}", step));
  Plan plan;
  plan.shape = shape;
  plan.policy = policy;
  plan.batch = batch;
  plan.seq = seq;
  plan.step = step;
  plan.ops.reserve(size_t(shape.layers) * 9 + 16);
  Builder(shape, policy, batch, seq, step, previous, plan).build();
  plan.memory = predict_memory(shape, policy, batch, seq, plan.slot_count, plan.slot_bytes, memory_model,
                               alloc_live(plan), plan.staging_bytes, plan.codec_scratch_bytes);
  if (policy.gpu_mem_budget > 0 && plan.memory.gpu_total() > policy.gpu_mem_budget)
    throw std::invalid_argument(fmt::format("--gpu-mem-budget {} ({} B): the plan needs {} B of GPU memory: {}",
                                            format_bytes(policy.gpu_mem_budget), policy.gpu_mem_budget,
                                            plan.memory.gpu_total(), plan.memory.describe_gpu()));
  return plan;
}

std::vector<Plan> build_plan_sequence(const ModelShape& shape, const Policy& policy, int64_t batch, int64_t seq,
                                      int64_t first, int64_t count, const MemoryModel& memory_model) {
  std::vector<Plan> plans;
  plans.reserve(size_t(std::max<int64_t>(count, 0)));
  for (int64_t s = first; s < first + count; ++s)
    plans.push_back(build_plan(shape, policy, batch, seq, s, memory_model, plans.empty() ? nullptr : &plans.back()));
  return plans;
}

void Plan::validate(const Plan* previous) const {
  // One graph over the previous plan's ops (when given, for a continued plan) and this plan's: node x < P is the
  // previous plan's op x, node P + i this plan's op i. Edges: deps, prev_deps and queue order, which runs on across
  // the step boundary (the queues are the same streams from step to step).
  const Plan* prev = continues ? previous : nullptr;
  const int P = prev ? int(prev->ops.size()) : 0, n = int(ops.size()), N = P + n;
  auto op_at = [&](int x) -> const Op& { return x < P ? prev->ops[size_t(x)] : ops[size_t(x - P)]; };
  auto name_at = [&](int x) { return x < P ? "previous step's '" + op_at(x).name + "'" : "'" + op_at(x).name + "'"; };
  for (int i = 0; i < n; ++i) {
    const Op& op = ops[size_t(i)];
    for (int d : op.deps)
      if (d < 0 || d >= i)
        throw std::logic_error(fmt::format("plan: op {} '{}' depends on op {}, which is not an earlier op", i, op.name, d));
    if (!op.prev_deps.empty() && !continues)
      throw std::logic_error(fmt::format("plan: op {} '{}' waits for ops of the previous step's plan, but the plan does "
                                         "not continue one", i, op.name));
    for (int d : op.prev_deps)
      if (d < 0 || (prev && d >= P))
        throw std::logic_error(fmt::format("plan: op {} '{}' waits for op {} of the previous step's plan, which has no "
                                           "such op", i, op.name, d));
    if (op.next_step && op.kind != OpKind::upload)
      throw std::logic_error(fmt::format("plan: op '{}' is marked for the next step but is not an upload", op.name));
  }
  std::vector<int> prev_on_queue(size_t(N), -1);
  int last[kQueueCount];
  std::fill(std::begin(last), std::end(last), -1);
  for (int x = 0; x < N; ++x) {
    prev_on_queue[size_t(x)] = last[int(op_at(x).queue)];
    last[int(op_at(x).queue)] = x;
  }
  auto reaches = [&](int from, int target) {  // is `target` an ancestor of `from` (or `from` itself)?
    std::vector<char> seen(size_t(N), 0);
    std::vector<int> stack{from};
    while (!stack.empty()) {
      const int x = stack.back();
      stack.pop_back();
      if (x == target) return true;
      if (x < target || seen[size_t(x)]) continue;
      seen[size_t(x)] = 1;
      const int offset = x < P ? 0 : P;
      for (int d : op_at(x).deps) stack.push_back(offset + d);
      if (x >= P && prev)
        for (int d : op_at(x).prev_deps) stack.push_back(d);
      if (prev_on_queue[size_t(x)] >= 0) stack.push_back(prev_on_queue[size_t(x)]);
    }
    return false;
  };
  // Without the previous plan, a continued plan's first blocks come from before it: does `from` wait, through this
  // plan's edges, for some op of the previous plan?
  auto waits_for_previous = [&](int from) {
    std::vector<char> seen(size_t(N), 0);
    std::vector<int> stack{from};
    while (!stack.empty()) {
      const int x = stack.back();
      stack.pop_back();
      if (seen[size_t(x)]) continue;
      seen[size_t(x)] = 1;
      if (!op_at(x).prev_deps.empty()) return true;
      for (int d : op_at(x).deps) stack.push_back(d);
      if (prev_on_queue[size_t(x)] >= 0) stack.push_back(prev_on_queue[size_t(x)]);
    }
    return false;
  };

  // Each offloaded block uploaded exactly once for this step, by this plan or early by the previous one; no resident
  // block uploaded; every op of a block after that upload.
  constexpr int kBefore = -2;  // uploaded by a previous plan that is not given
  std::vector<int> upload(size_t(shape.layers), -1);
  std::vector<char> early(size_t(shape.layers), 0);
  for (int i = 0; i < n; ++i) {
    const Op& op = ops[size_t(i)];
    if (op.kind != OpKind::upload) continue;
    if (op.layer < 0 || op.layer >= shape.layers || !policy.offload[size_t(op.layer)])
      throw std::logic_error(fmt::format("plan: op {} '{}' uploads a block that is not offloaded", i, op.name));
    if (op.next_step) {
      if (early[size_t(op.layer)]) throw std::logic_error(fmt::format("plan: block {} is uploaded early twice ('{}')",
                                                                      op.layer, op.name));
      early[size_t(op.layer)] = 1;
      continue;
    }
    if (upload[size_t(op.layer)] >= 0)
      throw std::logic_error(fmt::format("plan: block {} is uploaded twice ('{}')", op.layer, op.name));
    upload[size_t(op.layer)] = P + i;
  }
  if (continues) {
    auto carried_in = [&](int64_t layer, int node) {
      if (upload[size_t(layer)] != -1)
        throw std::logic_error(fmt::format("plan: block {} is uploaded twice: here and early by the previous step",
                                           layer));
      upload[size_t(layer)] = node;
    };
    if (prev) {
      for (int x = 0; x < P; ++x)
        if (prev->ops[size_t(x)].next_step) carried_in(prev->ops[size_t(x)].layer, x);
    } else {
      for (int64_t l = 0; l < shape.layers; ++l)
        if (early[size_t(l)]) carried_in(l, kBefore);
    }
  }
  for (int64_t l = 0; l < shape.layers; ++l)
    if (policy.offload[size_t(l)] && upload[size_t(l)] == -1)
      throw std::logic_error(fmt::format("plan: offloaded block {} is never uploaded", l));
  for (int i = 0; i < n; ++i) {
    const Op& op = ops[size_t(i)];
    if (op.layer < 0 || op.kind == OpKind::upload || op.kind == OpKind::alloc || op.kind == OpKind::free) continue;
    const int u = upload[size_t(op.layer)];
    if (u >= 0 && !reaches(P + i, u))
      throw std::logic_error(fmt::format("plan: op '{}' does not wait for its block's upload {}", op.name, name_at(u)));
    if (u == kBefore && !waits_for_previous(P + i))
      throw std::logic_error(fmt::format("plan: op '{}' does not wait for its block's upload in the previous step's plan",
                                         op.name));
  }
  // --wire-codec lossless: a block's ops use the slot after its dec/Lxx has written it (the slot holds the previous
  // occupant, or poison, until then), and its copy back carries what its enc/Lxx wrote.
  if (policy.wire_codec == WireCodec::lossless) {
    std::vector<int> decoded(size_t(shape.layers), -1), encoded(size_t(shape.layers), -1);
    for (int i = 0; i < n; ++i) {
      const Op& op = ops[size_t(i)];
      if (op.layer < 0 || op.layer >= shape.layers || !policy.offload[size_t(op.layer)]) continue;
      if (op.kind == OpKind::decode) decoded[size_t(op.layer)] = P + i;
      if (op.kind == OpKind::encode) encoded[size_t(op.layer)] = P + i;
      if (op.kind == OpKind::upload || op.kind == OpKind::alloc || op.kind == OpKind::free ||
          op.kind == OpKind::decode)
        continue;
      if (decoded[size_t(op.layer)] < 0 || !reaches(P + i, decoded[size_t(op.layer)]))
        throw std::logic_error(fmt::format("plan: op '{}' does not wait for its block's decode", op.name));
      if (op.kind == OpKind::download && (encoded[size_t(op.layer)] < 0 || !reaches(P + i, encoded[size_t(op.layer)])))
        throw std::logic_error(fmt::format("plan: '{}' does not wait for its block's encode", op.name));
    }
  }
  // An upload reads the host slab: after the block's latest copy back.
  std::vector<int> copied_back(size_t(shape.layers), -1);
  for (int x = 0; x < N; ++x) {
    const Op& op = op_at(x);
    if (op.layer < 0 || op.layer >= shape.layers) continue;
    if (op.kind == OpKind::download) copied_back[size_t(op.layer)] = x;
    if (op.kind == OpKind::upload && copied_back[size_t(op.layer)] >= 0 && !reaches(x, copied_back[size_t(op.layer)]))
      throw std::logic_error(fmt::format("plan: '{}' may read block {}'s host copy before {} has written it back",
                                         op.name, op.layer, name_at(copied_back[size_t(op.layer)])));
  }
  // A slot passes from one block to the next only after every op of the previous occupant has finished. A slot first
  // used without an upload holds a block carried in from a previous plan that is not given.
  struct Occupant {
    int64_t layer = -1;
    std::vector<int> nodes;  // its ops on the slot so far
  };
  std::vector<Occupant> slot_of;
  for (int x = 0; x < N; ++x) {
    const Op& op = op_at(x);
    if (op.slot < 0) continue;
    if (size_t(op.slot) >= slot_of.size()) slot_of.resize(size_t(op.slot) + 1);
    Occupant& o = slot_of[size_t(op.slot)];
    if (op.kind == OpKind::upload) {
      for (int y : o.nodes)
        if (!reaches(x, y))
          throw std::logic_error(fmt::format("plan: '{}' writes slot {} while {} may still use it", op.name, op.slot,
                                             name_at(y)));
      o.layer = op.layer;
      o.nodes = {x};
      continue;
    }
    if (o.layer < 0 && (x < P ? prev->continues : continues && !prev)) o.layer = op.layer;
    if (o.layer != op.layer)
      throw std::logic_error(fmt::format("plan: '{}' uses slot {}, which holds {}", op.name, op.slot,
                                         o.layer < 0 ? std::string("no block") : fmt::format("block {}", o.layer)));
    o.nodes.push_back(x);
  }
}

}  // namespace zo2
