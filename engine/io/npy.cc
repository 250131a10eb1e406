// .npy reading and writing; the header is a Python dict literal, parsed here by a small scanner.
#include "engine/io/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/atomic_file.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy I/O copies little-endian data without swapping");

namespace zo2::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kAlign = 64;             // numpy's ARRAY_ALIGN
constexpr size_t kGrowthAxisDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", path.string(), what));
}

// Scanner over numpy's header: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class DictScanner {
 public:
  DictScanner(const std::filesystem::path& path, std::string_view text) : path_(path), s_(text) {}

  void skip_ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool peek(char c) {
    skip_ws();
    return i_ < s_.size() && s_[i_] == c;
  }
  void expect(char c, const char* where) {
    if (!peek(c))
      fail(path_, fmt::format("header: expected '{}' {} at position {} of \"{}\"", c, where, i_, escaped()));
    ++i_;
  }
  std::string string(const char* where) {
    skip_ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"'))
      fail(path_, fmt::format("header: expected a quoted string {} at position {} of \"{}\"", where, i_, escaped()));
    const char q = s_[i_++];
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) fail(path_, fmt::format("header: unterminated string {} in \"{}\"", where, escaped()));
    return std::string(s_.substr(start, i_++ - start));
  }
  bool boolean(const char* where) {
    skip_ws();
    for (auto [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}})
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return value;
      }
    fail(path_, fmt::format("header: expected True or False {} in \"{}\"", where, escaped()));
  }
  std::vector<int64_t> tuple(const char* where) {
    expect('(', where);
    std::vector<int64_t> out;
    while (!peek(')')) {
      skip_ws();
      const size_t start = i_;
      uint64_t v = 0;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
        if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, uint64_t(s_[i_] - '0'), &v) ||
            v > uint64_t(INT64_MAX))
          fail(path_, fmt::format("header: dimension too large {} in \"{}\"", where, escaped()));
        ++i_;
      }
      if (i_ == start)
        fail(path_, fmt::format("header: expected a non-negative integer {} at position {} of \"{}\"", where, i_,
                                escaped()));
      if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 long suffix in old files
      out.push_back(static_cast<int64_t>(v));
      if (peek(',')) ++i_;
      else if (!peek(')')) expect(')', where);
    }
    ++i_;
    return out;
  }
  bool at_end() {
    skip_ws();
    return i_ == s_.size();
  }
  std::string escaped() const {
    std::string out;
    for (char c : s_.substr(0, 200)) out += (c == '\n') ? std::string("\\n") : std::string(1, c);
    return out;
  }

 private:
  const std::filesystem::path& path_;
  std::string_view s_;
  size_t i_ = 0;
};

size_t descr_item_bytes(const std::filesystem::path& path, const std::string& descr) {
  // <byteorder><kind><size>[unit], e.g. "<f4", "|b1", "<U10", "<M8[ns]".
  auto bad = [&](const std::string& why) {
    fail(path, fmt::format("header field 'descr': '{}' {}", descr, why));
  };
  if (descr.size() < 3 || std::string_view("<>|=").find(descr[0]) == std::string_view::npos)
    bad("is not a numpy dtype string (expected byte order, kind and size, e.g. '<f4')");
  const char kind = descr[1];
  if (kind == 'O') bad("is an object array (pickled Python objects), not supported");
  size_t pos = 2, size = 0;
  while (pos < descr.size() && std::isdigit(static_cast<unsigned char>(descr[pos])))
    if (__builtin_mul_overflow(size, 10u, &size) || __builtin_add_overflow(size, size_t(descr[pos++] - '0'), &size) ||
        size > (size_t(1) << 40))
      bad("has an item size beyond 2^40 bytes");
  if (pos == 2 || (pos < descr.size() && descr[pos] != '[')) bad("is not a numpy dtype string (e.g. '<f4')");
  if (kind == 'U') size *= 4;  // UCS-4 characters
  if (descr[0] == '>' && size > 1) bad("is big-endian, only little-endian data is supported");
  return size;
}

NpyHeader parse_header(const std::filesystem::path& path, std::istream& in, uint64_t file_size) {
  NpyHeader h;
  char pre[kMagicLen + 2];
  if (file_size < sizeof pre || !in.read(pre, sizeof pre) || std::memcmp(pre, kMagic, kMagicLen) != 0)
    fail(path, "bad magic: expected a NumPy .npy file starting with \"\\x93NUMPY\"");
  h.major = static_cast<unsigned char>(pre[6]);
  h.minor = static_cast<unsigned char>(pre[7]);
  size_t len_bytes = 0;
  if (h.major == 1 && h.minor == 0) len_bytes = 2;
  else if ((h.major == 2 || h.major == 3) && h.minor == 0) len_bytes = 4;
  else fail(path, fmt::format("unsupported .npy format version {}.{} (expected 1.0, 2.0 or 3.0)", h.major, h.minor));
  unsigned char lenbuf[4] = {};
  if (!in.read(reinterpret_cast<char*>(lenbuf), len_bytes))
    fail(path, fmt::format("truncated: file ends inside the version {}.{} header length", h.major, h.minor));
  uint64_t header_len = 0;
  for (size_t i = 0; i < len_bytes; ++i) header_len |= uint64_t(lenbuf[i]) << (8 * i);
  h.data_offset = kMagicLen + 2 + len_bytes + header_len;
  if (h.data_offset > file_size)
    fail(path, fmt::format("truncated: header length {} goes beyond the file size {}", header_len, file_size));
  std::string text(header_len, '\0');
  in.read(text.data(), header_len);

  DictScanner sc(path, text);
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;
  sc.expect('{', "at the start of the header dict");
  while (!sc.peek('}')) {
    const std::string key = sc.string("(a header key)");
    sc.expect(':', fmt::format("after key '{}'", key).c_str());
    if (key == "descr") {
      if (sc.peek('[')) fail(path, "header field 'descr': structured dtypes (a list of fields) are not supported");
      descr = sc.string("for 'descr'");
    } else if (key == "fortran_order") {
      fortran = sc.boolean("for 'fortran_order'");
    } else if (key == "shape") {
      shape = sc.tuple("for 'shape'");
    } else {
      fail(path, fmt::format("header: unexpected key '{}' (expected descr, fortran_order, shape)", key));
    }
    if (sc.peek(',')) sc.expect(',', "");
    else if (!sc.peek('}')) sc.expect('}', "after a header value");
  }
  sc.expect('}', "");
  if (!sc.at_end()) fail(path, fmt::format("header: unexpected text after the dict in \"{}\"", sc.escaped()));
  if (!descr || !fortran || !shape)
    fail(path, fmt::format("header: missing key '{}' (expected descr, fortran_order and shape)",
                           !descr ? "descr" : !fortran ? "fortran_order" : "shape"));
  h.descr = *descr;
  h.fortran_order = *fortran;
  h.shape = *shape;
  h.item_bytes = descr_item_bytes(path, h.descr);
  if (h.fortran_order)
    fail(path, "header field 'fortran_order' is True: only C-order arrays are supported (save with "
               "np.ascontiguousarray)");

  // The element count must fit too (numel() multiplies it out): with a zero item size the byte count never
  // overflows, whatever the shape.
  uint64_t bytes = h.item_bytes;
  int64_t count = 1;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes) || __builtin_mul_overflow(count, d, &count))
      fail(path, fmt::format("header field 'shape' ({}) overflows a 64-bit byte count", fmt::join(h.shape, ", ")));
  const uint64_t have = file_size - h.data_offset;
  if (have < bytes)
    fail(path, fmt::format("truncated: shape ({}) of '{}' needs {} data bytes, the file holds {}",
                           fmt::join(h.shape, ", "), h.descr, bytes, have));
  return h;
}

struct Opened {
  std::ifstream in;
  NpyHeader header;
};

Opened open_npy(const std::filesystem::path& path) {
  Opened o;
  o.in.open(path, std::ios::binary);
  if (!o.in) fail(path, "cannot open (does it exist?)");
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, fmt::format("cannot read the file size: {}", ec.message()));
  o.header = parse_header(path, o.in, size);
  o.in.seekg(static_cast<std::streamoff>(o.header.data_offset));
  return o;
}

void read_data(const std::filesystem::path& path, std::istream& in, void* dst, size_t bytes) {
  if (bytes && !in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes)))
    fail(path, fmt::format("read of {} data bytes failed", bytes));
}

NpyArray read_array(const std::filesystem::path& path, std::istream& in, const NpyHeader& header) {
  NpyArray out;
  out.header = header;
  out.data.resize(static_cast<size_t>(header.numel()) * header.item_bytes);
  read_data(path, in, out.data.data(), out.data.size());
  return out;
}

template <class T>
NpyArrayOf<T> read_typed(const std::filesystem::path& path, const char* type_name, const char* descr) {
  Opened o = open_npy(path);
  if (o.header.descr != descr)
    fail(path, fmt::format("expected {} ('{}'), got '{}'", type_name, descr, o.header.descr));
  NpyArrayOf<T> out;
  out.shape = o.header.shape;
  out.values.resize(static_cast<size_t>(o.header.numel()));
  read_data(path, o.in, out.values.data(), out.values.size() * sizeof(T));
  return out;
}

std::string shape_repr(const std::vector<int64_t>& shape) {  // Python's repr of a tuple
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

void write_npy(const std::filesystem::path& path, const char* descr, const void* data, size_t item,
               const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      throw std::invalid_argument(
          fmt::format("{}: negative dimension in shape {}", path.string(), shape_repr(shape)));
    n *= static_cast<uint64_t>(d);
  }
  if (n > 0 && !data) throw std::invalid_argument(fmt::format("{}: null data pointer", path.string()));
  // The same bytes as numpy's _write_array_header: sorted keys, repr values, spare room for the first axis.
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_repr(shape));
  if (!shape.empty()) header.append(kGrowthAxisDigits - std::to_string(shape[0]).size(), ' ');
  int major = 1;
  size_t len_bytes = 2;
  size_t hlen = header.size() + 1;  // + '\n'
  size_t pad = kAlign - (kMagicLen + 2 + len_bytes + hlen) % kAlign;
  if (hlen + pad > 0xFFFF) {
    major = 2;
    len_bytes = 4;
    pad = kAlign - (kMagicLen + 2 + len_bytes + hlen) % kAlign;
  }
  header.append(pad, ' ');
  header.push_back('\n');

  std::string pre(kMagic, kMagicLen);
  pre.push_back(static_cast<char>(major));
  pre.push_back('\0');
  for (size_t i = 0; i < len_bytes; ++i) pre.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  AtomicFile out(path);
  out.write(pre);
  out.write(header);
  out.write(data, n * item);
  out.commit();
}

}  // namespace

int64_t NpyHeader::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyHeader read_npy_header(const std::filesystem::path& path) { return open_npy(path).header; }

NpyArray read_npy(const std::filesystem::path& path) {
  Opened o = open_npy(path);
  return read_array(path, o.in, o.header);
}

NpyArray read_npy_bytes(std::string_view bytes, const std::filesystem::path& name) {
  std::istringstream in{std::string(bytes), std::ios::binary};
  const NpyHeader header = parse_header(name, in, bytes.size());
  in.seekg(static_cast<std::streamoff>(header.data_offset));
  return read_array(name, in, header);
}

NpyArrayOf<int64_t> read_npy_int64(const std::filesystem::path& path) {
  return read_typed<int64_t>(path, "int64", "<i8");
}

NpyArrayOf<float> read_npy_float32(const std::filesystem::path& path) {
  return read_typed<float>(path, "float32", "<f4");
}

void write_npy_float32(const std::filesystem::path& path, const float* data, const std::vector<int64_t>& shape) {
  write_npy(path, "<f4", data, sizeof(float), shape);
}

void write_npy_int64(const std::filesystem::path& path, const int64_t* data, const std::vector<int64_t>& shape) {
  write_npy(path, "<i8", data, sizeof(int64_t), shape);
}

}  // namespace zo2::io
