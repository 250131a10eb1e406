// DLPack capsules in and out (the protocol's legacy "dltensor" capsule, which every torch reads and writes).
#include "python/bindings/dlpack_tensor.h"

#include <ATen/DLConvertor.h>

#include <stdexcept>

namespace zo2::py {

at::Tensor tensor_from_capsule(const pybind11::object& capsule) {
  PyObject* o = capsule.ptr();
  if (!PyCapsule_IsValid(o, "dltensor"))
    throw std::invalid_argument("expected a DLPack capsule (torch.utils.dlpack.to_dlpack), unused");
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(o, "dltensor"));
  at::Tensor t = at::fromDLPack(managed);  // owns it now: its deleter runs when the tensor dies
  PyCapsule_SetName(o, "used_dltensor");
  return t;
}

namespace {
void delete_unused(PyObject* capsule) {
  if (!PyCapsule_IsValid(capsule, "dltensor")) return;  // consumed: the consumer deletes it
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
  if (managed && managed->deleter) managed->deleter(managed);
}
}  // namespace

pybind11::object tensor_to_capsule(const at::Tensor& tensor) {
  DLManagedTensor* managed = at::toDLPack(tensor);
  PyObject* capsule = PyCapsule_New(managed, "dltensor", delete_unused);
  if (!capsule) {
    managed->deleter(managed);
    throw pybind11::error_already_set();
  }
  return pybind11::reinterpret_steal<pybind11::object>(capsule);
}

}  // namespace zo2::py
