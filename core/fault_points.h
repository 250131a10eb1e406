// Named fault-injection points: tests set ZO2_FAULT=<name> to make the program fail exactly there, then check what
// it printed and what it left on disk. A point costs one getenv when it is not armed.
#pragma once

namespace zo2 {

// Throws std::runtime_error("<what> (fault injected at <name>)") when the environment variable ZO2_FAULT equals
// `name`. When ZO2_FAULT_STALL equals `name` it instead prints "zo2: stalled at <name>" to stderr and sleeps (up to
// a minute), so that a test can kill -9 the process exactly there. Points in use: "save:after_first_file",
// "save:before_swap", "save:after_swap", "pin:alloc", "step:oom".
void fault_point(const char* name, const char* what);

}  // namespace zo2
