#include "scenarios/trace_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

namespace samsa::scenarios {

namespace {

std::optional<sim::TraceKind> kind_from_string(std::string_view s) {
  for (int k = static_cast<int>(sim::TraceKind::pick); k <= static_cast<int>(sim::TraceKind::disk_write); ++k)
    if (to_string(static_cast<sim::TraceKind>(k)) == s) return static_cast<sim::TraceKind>(k);
  return std::nullopt;
}

std::optional<sim::TraceEvent> event_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  const auto kind = kind_from_string(j.value("kind", ""));
  const std::string hash = j.value("hash", "");
  if (!kind || hash.empty() || !j.contains("index") || !j["index"].is_number_unsigned()) return std::nullopt;
  sim::TraceEvent e;
  e.index = j["index"].get<std::uint64_t>();
  e.time = sim::Duration(j.value("time_ns", std::int64_t{0}));
  e.kind = *kind;
  e.node = j.value("node", -1);
  e.what = j.value("what", "");
  std::size_t used = 0;
  try {
    e.hash = std::stoull(hash, &used, 16);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != hash.size()) return std::nullopt;
  return e;
}

nlohmann::json event_json(const sim::TraceEvent& e) {
  return {{"index", e.index}, {"time_ns", e.time.count()}, {"kind", to_string(e.kind)},
          {"node", e.node},   {"what", e.what},            {"hash", fmt::format("{:016x}", e.hash)}};
}

nlohmann::json event_at(const sim::TraceLog& log, std::size_t i) {
  return i < log.events.size() ? event_json(log.events[i]) : nlohmann::json(nullptr);
}

std::string event_line(const nlohmann::json& e) {
  if (e.is_null()) return "(the run ended here)";
  // `what` starts with the kind in words ("pick n1/main", "deliver conn 2").
  return fmt::format("#{} at {} ns, node {}: {}", e["index"].get<std::uint64_t>(),
                     e["time_ns"].get<std::int64_t>(), e["node"].get<int>(), e["what"].get<std::string>());
}

}  // namespace

std::optional<sim::TraceLog> read_trace_jsonl(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = fmt::format("{}: cannot open", path);
    return std::nullopt;
  }
  sim::TraceLog log;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    auto e = event_from_json(j);
    if (!e || e->index != log.events.size()) {
      error = fmt::format("{}:{}: not a trace event written by `--trace` (index, time_ns, kind, node, what, hash)",
                          path, n);
      return std::nullopt;
    }
    log.events.push_back(std::move(*e));
  }
  return log;
}

std::string write_trace_jsonl(const std::string& path, const sim::TraceLog& log) {
  std::ofstream out(path);
  log.write_jsonl(out);
  out.flush();
  return out ? "" : "cannot write " + path;
}

nlohmann::json trace_diff(const sim::TraceLog& mine, const sim::TraceLog& other) {
  const auto at = sim::first_divergence(mine, other);
  if (!at) return {{"diverged", false}, {"events", mine.events.size()}};
  const std::size_t i = *at;
  nlohmann::json before = nlohmann::json::array();
  for (std::size_t k = i >= 3 ? i - 3 : 0; k < i; ++k) before.push_back(event_json(mine.events[k]));
  const sim::TraceLog& longer = i < mine.events.size() ? mine : other;
  return {{"diverged", true},          {"index", i},
          {"time_ns", longer.events[i].time.count()},
          {"this", event_at(mine, i)}, {"other", event_at(other, i)},
          {"before", before}};
}

std::string trace_diff_text(const nlohmann::json& diff, const std::string& other_name) {
  if (!diff["diverged"].get<bool>())
    return fmt::format("trace: all {} events agree with {}\n", diff["events"].get<std::size_t>(), other_name);
  std::string out = fmt::format("trace: this run and {} part at event {}\n", other_name,
                                diff["index"].get<std::size_t>());
  for (const auto& e : diff["before"]) out += fmt::format("  same   {}\n", event_line(e));
  out += fmt::format("  this   {}\n", event_line(diff["this"]));
  out += fmt::format("  other  {}\n", event_line(diff["other"]));
  return out;
}

}  // namespace samsa::scenarios
