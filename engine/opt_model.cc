// Model allocation (any family's shape) and HF-style random initialisation.
#include "engine/opt_model.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "core/fault_points.h"

namespace zo2 {

OptModel OptModel::allocate(const ModelShape& shape, DType dtype, c10::Device device, const std::vector<bool>& offload,
                            std::optional<DType> master, std::optional<DType> wire) {
  OptModel m;
  m.shape = shape;
  m.dtype = dtype;
  m.device = device;
  m.master_dtype = master.value_or(dtype);
  m.wire_dtype = wire.value_or(m.master_dtype);
  m.offloaded = offload.empty() ? std::vector<bool>(size_t(shape.layers), false) : offload;
  m.resident = ParamSlab::allocate(resident_layout(shape, dtype), device);
  m.blocks.reserve(shape.layers);
  m.wire.resize(size_t(shape.layers));
  for (int64_t l = 0; l < shape.layers; ++l) {
    const bool host = m.offloaded[size_t(l)];
    const DType format = host ? m.master_dtype : dtype;
    if (host)
      fault_point("pin:alloc", fmt::format("host memory for block {} ({} bytes{}) refused", l,
                                           block_layout(shape, l, format).bytes(), device.is_cuda() ? ", pinned" : "")
                                   .c_str());
    // The master travels itself (pinned) unless a wire copy below it travels instead.
    const bool pin_master = host && device.is_cuda() && !m.has_wire_copies();
    m.blocks.push_back(ParamSlab::allocate(block_layout(shape, l, format), host ? c10::Device(c10::kCPU) : device,
                                           pin_master));
    if (host && m.has_wire_copies())
      m.wire[size_t(l)] = allocate_wire(m.blocks.back().layout, m.wire_dtype, c10::kCPU, device.is_cuda());
  }
  return m;
}

void OptModel::refresh_wire() {
  for (size_t l = 0; l < blocks.size(); ++l)
    if (!wire[l].empty()) encode_wire(blocks[l], wire[l]);
}

void OptModel::init_random(uint64_t seed) {
  at::Generator gen = device.is_cuda() ? at::globalContext().defaultGenerator(device)
                                       : at::detail::createCPUGenerator(seed);
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  for (ParamSlab* slab : slabs()) {
    // Draw where the generator lives, then copy into the slab (host memory for offloaded blocks).
    ParamSlab drawn = slab->flat.device() == device ? *slab : ParamSlab::allocate(slab->layout, device);
    for (size_t i = 0; i < drawn.layout.entries.size(); ++i) {
      const auto& e = drawn.layout.entries[i];
      at::Tensor v = drawn.views[i];
      // The family's spec says how (TensorSpec::init): norm weights 1, biases 0, the rest normal(0, 0.02).
      switch (e.init) {
        case TensorInit::ones: v.fill_(1.0); break;
        case TensorInit::zeros: v.zero_(); break;
        case TensorInit::normal: v.normal_(0.0, 0.02, gen); break;
      }
    }
    if (drawn.flat.data_ptr() != slab->flat.data_ptr()) slab->flat.copy_(drawn.flat);
  }
  refresh_wire();
}

int64_t OptModel::parameter_count() const {
  int64_t n = resident.layout.params();
  for (const auto& b : blocks) n += b.layout.params();
  return n;
}

std::vector<ParamSlab*> OptModel::slabs() {
  std::vector<ParamSlab*> all{&resident};
  for (auto& b : blocks) all.push_back(&b);
  return all;
}

}  // namespace zo2
