// The CUDA executor in a build without CUDA: asking for it says so.
#include <stdexcept>

#include "engine/executor.h"

namespace zo2 {

std::unique_ptr<Executor> make_cuda_executor() {
  throw std::runtime_error("this zo2 was built without CUDA: no CUDA executor (use --device cpu)");
}

}  // namespace zo2
