#pragma once
// `--trace FILE` and `--trace-diff OTHER` on run and replay: record every
// traced event of a run, and name the first event at which two runs part
// (sim/world/trace.h). OTHER is a trace written by `--trace` (JSON lines)
// or a failure file, which is then replayed with recording on.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "sim/world/trace.h"

namespace samsa::scenarios {

// Reads a trace written by TraceLog::write_jsonl; nullopt and `error` set
// ("file:line: why") when it cannot.
std::optional<sim::TraceLog> read_trace_jsonl(const std::string& path, std::string& error);

// Writes `log` to `path`; returns an error message or "".
std::string write_trace_jsonl(const std::string& path, const sim::TraceLog& log);

// Where `mine` and `other` part: {"diverged": false, "events": N} when they
// agree; else {"diverged": true, "index": I, "time_ns": T, "this": event or
// null, "other": event or null, "before": [the last agreeing events]}.
nlohmann::json trace_diff(const sim::TraceLog& mine, const sim::TraceLog& other);

// The diff as lines for a terminal.
std::string trace_diff_text(const nlohmann::json& diff, const std::string& other_name);

}  // namespace samsa::scenarios
