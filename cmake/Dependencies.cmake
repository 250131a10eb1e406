# Finds the dependencies and says what is skipped when one is missing: core and the simulator need neither LibTorch
# nor CUDA, so they always build.
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)

# Debian's CMake 3.25.1 FindCUDAToolkit marks CUDA::nvToolsExt deprecated without checking that the target exists
# whenever the project requires 3.25 or newer, and CUDA 13 ships no nvToolsExt (NVTX 3 is header-only): configuring
# stops there. Both finds of the toolkit (ours and LibTorch's) run as if 3.24 were required, which skips that line.
macro(zo2_find_package_cuda_safe)
  set(_zo2_min_required ${CMAKE_MINIMUM_REQUIRED_VERSION})
  set(CMAKE_MINIMUM_REQUIRED_VERSION 3.24)
  find_package(${ARGN})
  set(CMAKE_MINIMUM_REQUIRED_VERSION ${_zo2_min_required})
endmacro()

set(ZO2_HAVE_CUDA OFF)
if(ZO2_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)  # H100 and H200; override with -DCMAKE_CUDA_ARCHITECTURES=...
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    zo2_find_package_cuda_safe(CUDAToolkit REQUIRED)
    set(ZO2_HAVE_CUDA ON)
  else()
    message(STATUS "zo2: no CUDA compiler found: CUDA kernels and the CUDA executor are skipped")
  endif()
endif()

set(ZO2_HAVE_TORCH OFF)
if(ZO2_WITH_TORCH)
  if(NOT ZO2_HAVE_CUDA)
    set(USE_CUDA OFF)  # a CUDA LibTorch still links for CPU use; its CUDA parts are not used
  endif()
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(ENV{TORCH_CUDA_ARCH_LIST} "9.0")  # no GPU on build machines: name the target instead of probing
  endif()
  zo2_find_package_cuda_safe(Torch QUIET)
  if(Torch_FOUND)
    set(ZO2_HAVE_TORCH ON)
    # Torch's flags carry -D_GLIBCXX_USE_CXX11_ABI; everything links against one ABI.
    string(REPLACE " " ";" _zo2_torch_flags "${TORCH_CXX_FLAGS}")
    add_compile_options(${_zo2_torch_flags})
  else()
    message(STATUS "zo2: LibTorch not found (set CMAKE_PREFIX_PATH to torch.utils.cmake_prefix_path): "
                   "engine, zo2 forward/train and their tests are skipped")
  endif()
endif()
if(ZO2_HAVE_CUDA AND NOT ZO2_HAVE_TORCH)
  message(STATUS "zo2: CUDA kernels need LibTorch's engine: skipped")
  set(ZO2_HAVE_CUDA OFF)
endif()

set(ZO2_HAVE_CATCH2 OFF)
if(ZO2_BUILD_TESTS)
  find_package(Catch2 3 REQUIRED)
  include(Catch)
endif()
find_package(benchmark QUIET)
set(ZO2_HAVE_BENCHMARK ${benchmark_FOUND})
if(NOT benchmark_FOUND)
  message(STATUS "zo2: Google Benchmark not found: benchmarks are skipped")
endif()

# PyTorch ships fmt 12 headers in its include folder: use fmt header-only everywhere so no compiled fmt of another
# version is linked against them.
set(ZO2_FMT fmt::fmt-header-only)
