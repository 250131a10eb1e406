// zo2: the command-line front end. Errors print one line naming the file, field or flag, and exit 2.
#include <csignal>
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "experiments/commands.h"

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) then fails the write with EFBIG, reported like a full disk, instead of killing the
  // process in the middle of a file.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"zo2: zeroth-order fine-tuning with blocks streamed from host memory, and its simulator"};
  app.require_subcommand(1);
  zo2::cli::add_simulate_command(app);
  zo2::cli::add_sweep_command(app);
  zo2::cli::add_plan_command(app);
  zo2::cli::add_codec_ratio_command(app);
  zo2::cli::add_knobs_command(app);
#ifdef ZO2_HAVE_TORCH
  zo2::cli::add_forward_command(app);
  zo2::cli::add_train_command(app);
  zo2::cli::add_calibrate_command(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a success; every bad flag exits 2 like every other error
  } catch (const std::exception& e) {
    fmt::print(stderr, "zo2: error: {}\n", e.what());
    return 2;
  }
  return 0;
}
