#pragma once
// Subcommands of the samsa command line that live in their own files. Each
// add_* registers its options on `app` and returns the action to run when the
// subcommand was given (exit code as DESIGN.md says).
#include <CLI/CLI.hpp>

#include <functional>

namespace samsa::tools {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_decode_command(CLI::App& app);    // tools/cmd_decode.cpp
Command add_dump_log_command(CLI::App& app);  // tools/cmd_dump_log.cpp
Command add_sweep_command(CLI::App& app);     // tools/cmd_sweep.cpp
Command add_merge_command(CLI::App& app);     // tools/cmd_sweep.cpp
Command add_assign_command(CLI::App& app);    // tools/cmd_assign.cpp
Command add_partition_command(CLI::App& app); // tools/cmd_partition.cpp

}  // namespace samsa::tools
