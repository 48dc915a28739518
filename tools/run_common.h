#pragma once
// What run, replay, sweep and shrink share: loading a scenario or failure
// file with --set overrides, and printing a report.
#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

#include "scenarios/failure_file.h"
#include "scenarios/scenario.h"

namespace samsa::tools {

// Parses --set KEY=VALUE options; prints the problem and returns nullopt.
std::optional<std::vector<scenarios::Override>> parse_overrides(const std::vector<std::string>& sets);

// A scenario name or .toml path, with overrides; prints the problem on failure.
std::optional<scenarios::Scenario> load_or_complain(const std::string& target,
                                                    const std::vector<std::string>& sets);

void print_report(const scenarios::RunReport& r);
std::string failure_file_name(const scenarios::RunReport& r);  // <scenario>-seed<N>.json

}  // namespace samsa::tools
