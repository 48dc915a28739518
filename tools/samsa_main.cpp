// The samsa command line. Exit codes (DESIGN.md): 0 all invariants held,
// 1 safety violation, 2 bad usage or input, 3 liveness violation, 4 internal
// error of samsa itself.
#include <CLI/CLI.hpp>

#include "sim/runtime/assert.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"samsa: a deterministic fault-injection testbed for Kafka-style systems"};
  app.set_version_flag("--version", "samsa 0.1.0");
  app.require_subcommand(1);

  // Every command, in the order `samsa --help` lists them.
  using namespace samsa::tools;
  std::vector<Command> commands = {
      add_list_command(app),   add_run_command(app),    add_replay_command(app),
      add_sweep_command(app),  add_merge_command(app),  add_shrink_command(app),
      add_check_command(app),  add_zoo_command(app),    add_decode_command(app), add_dump_log_command(app),
      add_assign_command(app), add_partition_command(app), add_live_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    for (auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const samsa::InternalError&) {
    return 4;
  }
  return 2;
}
