// Tensors across the Python boundary as DLPack capsules (torch.utils.dlpack on the Python side): no copy, and no
// dependence on libtorch_python or on the pybind11 version torch was built with.
#pragma once
#include <ATen/core/Tensor.h>
#include <pybind11/pybind11.h>

namespace zo2::py {

// Takes a "dltensor" capsule (torch.utils.dlpack.to_dlpack) and marks it used, as consumers must.
at::Tensor tensor_from_capsule(const pybind11::object& capsule);
// A "dltensor" capsule owning a reference to `tensor` (torch.utils.dlpack.from_dlpack reads it).
pybind11::object tensor_to_capsule(const at::Tensor& tensor);

}  // namespace zo2::py
