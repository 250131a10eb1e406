// Results CSV rows: fixed columns, quoting, atomic append.
#include "core/results_csv.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/atomic_file.h"

namespace zo2 {

const std::vector<std::string>& result_columns() {
  static const std::vector<std::string> kColumns = [] {
    std::vector<std::string> c{"commit", "date", "card", "driver", "executor", "model", "batch", "seq"};
    for (const auto& k : policy_knobs()) c.emplace_back(k.name);  // dtype first, gpu_mem_budget last
    for (const char* t : {"metric", "value", "unit", "repeats", "min", "median", "max"}) c.emplace_back(t);
    return c;
  }();
  return kColumns;
}

void ResultRow::set(const std::string& column, const std::string& value) {
  const auto& cols = result_columns();
  if (std::find(cols.begin(), cols.end(), column) == cols.end())
    throw std::invalid_argument(fmt::format("results row: unknown column '{}'", column));
  fields[column] = value;
}

void ResultRow::set(const std::string& column, double value) { set(column, fmt::format("{:.6g}", value)); }

void ResultRow::set_policy(const Policy& p) {
  for (const auto& [column, value] : policy_fields(p)) set(column, value);
}

namespace {
std::string quote(const std::string& v) {
  if (v.find_first_of(",\"\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
}  // namespace

void append_result_rows(const std::filesystem::path& path, const std::vector<ResultRow>& rows) {
  const auto& cols = result_columns();
  std::string header;
  for (size_t i = 0; i < cols.size(); ++i) header += (i ? "," : "") + cols[i];
  std::string existing;
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    existing = ss.str();
    const std::string first = existing.substr(0, existing.find('\n'));
    if (first != header)
      throw std::runtime_error(fmt::format("{}: header '{}' is not the results header (expected '{}')", path.string(),
                                           first, header));
    if (!existing.empty() && existing.back() != '\n') existing += '\n';
  } else {
    existing = header + "\n";
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < cols.size(); ++i) {
      auto it = row.fields.find(cols[i]);
      line += (i ? "," : "") + (it == row.fields.end() ? std::string() : quote(it->second));
    }
    existing += line + "\n";
  }
  AtomicFile out(path);
  out.write(existing);
  out.commit();
}

std::string current_commit() {
  if (const char* env = std::getenv("ZO2_COMMIT"); env && *env) return env;
  std::array<char, 64> buf{};
  std::string out;
  if (FILE* p = ::popen("git rev-parse --short HEAD 2>/dev/null", "r")) {
    while (std::fgets(buf.data(), int(buf.size()), p)) out += buf.data();
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

std::string current_date_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace zo2
