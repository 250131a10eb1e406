// The median of a sample (the mean of the two middle values for an even count): one definition for the trainer's
// step statistics, the calibration's repeats and the kernel benchmark.
#pragma once
#include <algorithm>
#include <stdexcept>
#include <vector>

namespace zo2 {

inline double median(std::vector<double> v) {
  if (v.empty()) throw std::invalid_argument("median of an empty sample");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace zo2
