// Shared helpers for the zo2_io tests: temporary directories, raw file bytes, fresh seeds and calls into python3.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

namespace zo2::io::test {

// A fresh directory under the system temp dir, removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("zo2_io_test_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline uint64_t fresh_seed() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) | rd();
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string le_u64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

struct PythonResult {
  int rc = -1;
  std::string output;  // stdout and stderr together
};

// Runs `script` (written to a file, so no shell quoting of the code) with python3 and the given arguments.
inline PythonResult run_python(const std::string& script, const std::vector<std::string>& args = {}) {
  TempDir dir;
  const auto file = dir / "script.py";
  write_bytes(file, script);
  std::string cmd = "python3 '" + file.string() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";  // arguments are temp paths and numbers: no quotes inside
  cmd += " 2>&1";
  PythonResult r;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int status = ::pclose(p);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return r;
}

// Empty when python3 imports every module of `modules` (e.g. "numpy, safetensors.torch"), else why not.
inline std::string python_missing(const std::string& modules) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(modules);
  if (it != cache.end()) return it->second;
  std::string why;
  if (std::system("python3 -c 'pass' >/dev/null 2>&1") != 0) {
    why = "python3 is not available";
  } else {
    PythonResult r = run_python("import " + modules + "\n");
    if (r.rc != 0) why = "python3 cannot import " + modules + ": " + r.output;
  }
  return cache[modules] = why;
}

}  // namespace zo2::io::test

// Skips the running test, with the reason, when python3 or one of the modules is missing.
#define ZO2_REQUIRE_PYTHON(modules)                                                          \
  do {                                                                                       \
    const std::string zo2_why_ = ::zo2::io::test::python_missing(modules);                  \
    if (!zo2_why_.empty()) SKIP(zo2_why_);                                                   \
  } while (0)

// Runs a python check and fails the test with its output when it does not exit 0.
#define ZO2_REQUIRE_PYTHON_OK(result)        \
  do {                                       \
    const auto& zo2_r_ = (result);           \
    INFO("python3 output:\n" << zo2_r_.output); \
    REQUIRE(zo2_r_.rc == 0);                 \
  } while (0)
