#pragma once
// Subcommands of the samsa command line, each in its own file. Each add_*
// registers its options on `app` and returns the action to run when the
// subcommand was given (exit code as DESIGN.md says). The one list of them
// all is in samsa_main.cpp: a new command adds one line there and one here.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace samsa::tools {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_list_command(CLI::App& app);      // tools/cmd_run.cpp
Command add_run_command(CLI::App& app);       // tools/cmd_run.cpp
Command add_replay_command(CLI::App& app);    // tools/cmd_run.cpp
Command add_sweep_command(CLI::App& app);     // tools/cmd_sweep.cpp
Command add_merge_command(CLI::App& app);     // tools/cmd_sweep.cpp
Command add_shrink_command(CLI::App& app);    // tools/cmd_shrink.cpp
Command add_check_command(CLI::App& app);     // tools/cmd_check.cpp
Command add_zoo_command(CLI::App& app);       // tools/cmd_zoo.cpp
Command add_decode_command(CLI::App& app);    // tools/cmd_decode.cpp
Command add_dump_log_command(CLI::App& app);  // tools/cmd_dump_log.cpp
Command add_assign_command(CLI::App& app);    // tools/cmd_assign.cpp
Command add_partition_command(CLI::App& app); // tools/cmd_partition.cpp
Command add_live_command(CLI::App& app);      // tools/cmd_live.cpp

}  // namespace samsa::tools
