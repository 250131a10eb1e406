// The numbers a simulated cycle reports (names, units and definitions are in simulator/README.md, "Metrics").
#pragma once
#include <string>
#include <vector>

#include "simulator/simulator.h"

namespace zo2::sim {

struct Metric {
  std::string name;
  double value = 0;
  std::string unit;
  double min = 0, median = 0, max = 0;  // over the cycle's steps where a per-step value exists, else = value
};

std::vector<Metric> cycle_metrics(const CycleResult& cycle, const HardwareProfile& profile);
const Metric* find_metric(const std::vector<Metric>& metrics, const std::string& name);

}  // namespace zo2::sim
