#pragma once
// `samsa live workload` (tools/live_workload.cpp) and `samsa live nemesis`
// (tools/live_process_nemesis.cpp): subcommands of `samsa live`, registered
// by tools/cmd_live.cpp.
#include "tools/commands.h"

namespace samsa::tools {

// The kafka scenario workload's clients against a running cluster, writing
// the history `samsa check` judges.
Command add_live_workload_command(CLI::App& live);
// Broker processes under kill -9, SIGSTOP/SIGCONT and restarts on a seeded
// schedule, each fault printed.
Command add_live_nemesis_command(CLI::App& live);

}  // namespace samsa::tools
