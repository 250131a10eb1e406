// NumPy .npy arrays: reading (versions 1.0, 2.0, 3.0; C order; little-endian) and atomic writing of float32/int64.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace zo2::io {

// A parsed .npy header.
struct NpyHeader {
  std::string descr;           // e.g. "<i8", "<f4", "|u1"
  bool fortran_order = false;
  std::vector<int64_t> shape;  // empty for a 0-d array
  size_t item_bytes = 0;       // from descr
  size_t data_offset = 0;      // bytes before the data (magic + version + length + header)
  int major = 1, minor = 0;

  int64_t numel() const;
};

// Any dtype numpy writes with a plain descr string, as raw bytes (the model code uses the typed readers below).
struct NpyArray {
  NpyHeader header;
  std::vector<std::byte> data;
};

template <class T>
struct NpyArrayOf {
  std::vector<int64_t> shape;
  std::vector<T> values;  // C order
};

// Reads and validates the header. Throws std::runtime_error naming the file and what was expected for a bad magic
// string, an unknown format version, a header that is not numpy's dict literal, a structured or object dtype,
// fortran_order True (the data would be transposed), or data shorter than shape × item size (truncated).
NpyHeader read_npy_header(const std::filesystem::path& path);
NpyArray read_npy(const std::filesystem::path& path);
// read_npy over a file's bytes already in memory (the fuzz targets use it); `name` stands for the file in errors.
NpyArray read_npy_bytes(std::string_view bytes, const std::filesystem::path& name);
// As read_npy, and the dtype must be exactly int64 ('<i8') or float32 ('<f4'); otherwise the error says
// "expected int64 ('<i8'), got '<f4'".
NpyArrayOf<int64_t> read_npy_int64(const std::filesystem::path& path);
NpyArrayOf<float> read_npy_float32(const std::filesystem::path& path);

// Writes C-order little-endian arrays as np.save does, byte for byte (version 1.0, header padded with spaces and a
// newline to a 64-byte multiple, including numpy's spare room for growing the first axis; version 2.0 only if the
// header does not fit 1.0's 16-bit length). Atomic: temporary name, then rename.
void write_npy_float32(const std::filesystem::path& path, const float* data, const std::vector<int64_t>& shape);
void write_npy_int64(const std::filesystem::path& path, const int64_t* data, const std::vector<int64_t>& shape);

}  // namespace zo2::io
