// Placeholder until the component behind it lands: the command exists, says
// so, and exits 2 (bad usage) rather than pretending to work.
#include <fmt/format.h>

#include "tools/commands.h"

namespace samsa::tools {

Command add_dump_log_command(CLI::App& app) {
  Command c;
  c.app = app.add_subcommand("dump-log", "(not built yet)");
  c.app->allow_extras();
  c.run = [] {
    fmt::print(stderr, "samsa dump-log: not built yet\n");
    return 2;
  };
  return c;
}

}  // namespace samsa::tools
