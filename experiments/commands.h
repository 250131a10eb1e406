// The zo2 subcommands. Each lives in its own cmd_*.cc and adds itself to the CLI11 app; main() only dispatches.
#pragma once

namespace CLI {
class App;
}

namespace zo2::cli {

// Simulator side (always built).
void add_simulate_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_codec_ratio_command(CLI::App& app);  // the lossless wire codec's compression on real blocks
void add_knobs_command(CLI::App& app);  // the policy knob table, for people and for analysis/*.py
// Engine side (built with LibTorch).
void add_forward_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);  // measures the GPU into a hardware profile (needs CUDA)

}  // namespace zo2::cli
