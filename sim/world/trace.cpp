#include "sim/world/trace.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <ostream>

namespace samsa::sim {

std::string_view to_string(TraceKind k) {
  switch (k) {
    case TraceKind::pick: return "pick";
    case TraceKind::timer: return "timer";
    case TraceKind::deliver: return "deliver";
    case TraceKind::conn_reset: return "conn_reset";
    case TraceKind::crash: return "crash";
    case TraceKind::restart: return "restart";
    case TraceKind::disk_crash: return "disk_crash";
    case TraceKind::fault: return "fault";
    case TraceKind::user: return "user";
    case TraceKind::cancel: return "cancel";
    case TraceKind::disk_write: return "disk_write";
  }
  return "unknown";
}

void Trace::fold(TraceKind kind, std::uint64_t a, std::uint64_t b, std::int32_t node,
                 std::string_view detail) {
  const std::uint64_t words[3] = {static_cast<std::uint64_t>(kind), a, b};
  hash_ = XXH3_64bits_withSeed(words, sizeof words, hash_);
  if (log_ != nullptr) [[unlikely]]
    record(kind, a, b, node, detail);
  ++events_;
}

void Trace::record(TraceKind kind, std::uint64_t a, std::uint64_t b, std::int32_t node,
                   std::string_view detail) {
  if (log_->events.size() >= log_->max_events) return;
  std::string what;
  switch (kind) {
    case TraceKind::pick: what = fmt::format("pick {} (fiber {})", detail, a); break;
    case TraceKind::timer: what = fmt::format("timer seq {}", b); break;
    case TraceKind::deliver:
      what = fmt::format("deliver conn {} dir {} payload {:016x}", a >> 1, a & 1, b);
      break;
    case TraceKind::disk_write:
      what = fmt::format("disk write at {} payload {:016x}", a & ((1ull << 48) - 1), b);
      break;
    case TraceKind::conn_reset: what = fmt::format("reset conn {}", a); break;
    case TraceKind::crash: what = fmt::format("crash (incarnation {})", b); break;
    case TraceKind::restart: what = fmt::format("start (incarnation {})", b); break;
    case TraceKind::disk_crash: what = fmt::format("disk crash mode {}", b); break;
    case TraceKind::cancel: what = fmt::format("cancel scope {} ({} fibers)", a, b); break;
    default: what = fmt::format("{} {:x} {:x}", to_string(kind), a, b); break;
  }
  log_->events.push_back(TraceEvent{events_, clock_ ? *clock_ : Duration{0}, kind, node,
                                    std::move(what), hash_});
}

namespace {

void write_json_string(std::ostream& out, std::string_view s) {
  out << '"';
  for (char c : s) {
    if (c == '"' || c == '\\')
      out << '\\' << c;
    else if (static_cast<unsigned char>(c) < 0x20)
      out << fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    else
      out << c;
  }
  out << '"';
}

}  // namespace

void TraceLog::write_jsonl(std::ostream& out) const {
  for (const TraceEvent& e : events) {
    out << "{\"index\":" << e.index << ",\"time_ns\":" << e.time.count() << ",\"kind\":\""
        << to_string(e.kind) << "\",\"node\":" << e.node << ",\"what\":";
    write_json_string(out, e.what);
    out << ",\"hash\":\"" << fmt::format("{:016x}", e.hash) << "\"}\n";
  }
}

std::optional<std::size_t> first_divergence(const TraceLog& a, const TraceLog& b) {
  const std::size_t n = std::min(a.events.size(), b.events.size());
  for (std::size_t i = 0; i < n; ++i) {
    const TraceEvent& x = a.events[i];
    const TraceEvent& y = b.events[i];
    if (x.hash != y.hash || x.kind != y.kind || x.node != y.node) return i;
  }
  if (a.events.size() != b.events.size()) return n;
  return std::nullopt;
}

}  // namespace samsa::sim
