#include "system/log/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace samsa::log {

namespace {

constexpr std::string_view k_version = "0";

// Splits text into lines; the last line must end with '\n'.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  while (!line.empty()) {
    const auto sp = line.find(' ');
    words.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  return words;
}

template <class Int>
bool parse_int(std::string_view s, Int& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
}

// Checks the version and count lines; returns the entry lines.
Result<std::vector<std::string_view>, ParseError> entry_lines(std::string_view text) {
  if (!text.empty() && text.back() != '\n')
    return Err{ParseError{0, "file does not end with a newline (torn?)"}};
  auto lines = split_lines(text);
  if (lines.empty() || lines[0] != k_version) return Err{ParseError{1, "expected version 0"}};
  std::size_t count = 0;
  if (lines.size() < 2 || !parse_int(lines[1], count)) return Err{ParseError{2, "expected a count"}};
  if (lines.size() - 2 != count)
    return Err{ParseError{2, fmt::format("count {} but {} entries", count, lines.size() - 2)}};
  lines.erase(lines.begin(), lines.begin() + 2);
  return lines;
}

std::string with_header(std::size_t count, const std::string& body) {
  return fmt::format("{}\n{}\n{}", k_version, count, body);
}

}  // namespace

// --- offset checkpoints ----------------------------------------------------------

std::string encode_offset_checkpoint(const OffsetMap& offsets) {
  std::string body;
  for (const auto& [tp, offset] : offsets) body += fmt::format("{} {} {}\n", tp.first, tp.second, offset);
  return with_header(offsets.size(), body);
}

Result<OffsetMap, ParseError> decode_offset_checkpoint(std::string_view text) {
  auto lines = entry_lines(text);
  if (!lines) return Err{lines.error()};
  OffsetMap out;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const auto w = split_words((*lines)[i]);
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    if (w.size() != 3 || w[0].empty() || !parse_int(w[1], partition) || !parse_int(w[2], offset))
      return Err{ParseError{i + 3, "expected '<topic> <partition> <offset>'"}};
    out[{std::string(w[0]), partition}] = offset;
  }
  return out;
}

// --- leader epochs -----------------------------------------------------------------

bool LeaderEpochCache::assign(std::int32_t epoch, std::int64_t start_offset) {
  if (epoch < 0) return false;
  if (!entries_.empty() && epoch <= entries_.back().epoch) return false;
  // A newer epoch that starts where older ones did supersedes them (they
  // wrote nothing).
  while (!entries_.empty() && entries_.back().start_offset >= start_offset) entries_.pop_back();
  entries_.push_back({epoch, start_offset});
  return true;
}

bool LeaderEpochCache::truncate_from_end(std::int64_t end_offset) {
  const auto before = entries_.size();
  while (!entries_.empty() && entries_.back().start_offset >= end_offset) entries_.pop_back();
  return entries_.size() != before;
}

bool LeaderEpochCache::truncate_from_start(std::int64_t start_offset) {
  // The last entry starting at or below start_offset covers it.
  auto covering = std::upper_bound(
      entries_.begin(), entries_.end(), start_offset,
      [](std::int64_t o, const EpochEntry& e) { return o < e.start_offset; });
  if (covering == entries_.begin()) return false;
  --covering;
  const bool changed = covering != entries_.begin() || covering->start_offset != start_offset;
  covering->start_offset = start_offset;
  entries_.erase(entries_.begin(), covering);
  return changed;
}

std::optional<EpochEntry> LeaderEpochCache::end_offset_for(std::int32_t epoch,
                                                           std::int64_t log_end_offset) const {
  auto next = std::upper_bound(entries_.begin(), entries_.end(), epoch,
                               [](std::int32_t e, const EpochEntry& x) { return e < x.epoch; });
  if (next == entries_.begin()) return std::nullopt;
  const std::int32_t found = std::prev(next)->epoch;
  return EpochEntry{found, next == entries_.end() ? log_end_offset : next->start_offset};
}

std::optional<EpochEntry> LeaderEpochCache::latest() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

std::string LeaderEpochCache::encode() const {
  std::string body;
  for (const auto& e : entries_) body += fmt::format("{} {}\n", e.epoch, e.start_offset);
  return with_header(entries_.size(), body);
}

Result<LeaderEpochCache, ParseError> LeaderEpochCache::decode(std::string_view text) {
  auto lines = entry_lines(text);
  if (!lines) return Err{lines.error()};
  LeaderEpochCache cache;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const auto w = split_words((*lines)[i]);
    EpochEntry e;
    if (w.size() != 2 || !parse_int(w[0], e.epoch) || !parse_int(w[1], e.start_offset))
      return Err{ParseError{i + 3, "expected '<epoch> <start offset>'"}};
    if (!cache.entries_.empty() && (e.epoch <= cache.entries_.back().epoch ||
                                    e.start_offset < cache.entries_.back().start_offset))
      return Err{ParseError{i + 3, "epochs and start offsets must increase"}};
    cache.entries_.push_back(e);
  }
  return cache;
}

// --- producer state --------------------------------------------------------------------

std::string encode_producer_snapshot(const ProducerSnapshot& snapshot) {
  std::string body;
  for (const auto& [pid, p] : snapshot) {
    body += fmt::format("{} {} {} {}", pid, p.epoch, p.last_timestamp_ms, p.recent.size());
    for (const auto& b : p.recent)
      body += fmt::format(" {} {} {}", b.first_sequence, b.last_sequence, b.last_offset);
    if (p.coordinator_epoch >= 0) body += fmt::format(" {}", p.coordinator_epoch);
    body += '\n';
  }
  return with_header(snapshot.size(), body);
}

Result<ProducerSnapshot, ParseError> decode_producer_snapshot(std::string_view text) {
  auto lines = entry_lines(text);
  if (!lines) return Err{lines.error()};
  ProducerSnapshot out;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const auto w = split_words((*lines)[i]);
    std::int64_t pid = 0;
    ProducerEntry p;
    std::size_t n = 0;
    const ParseError bad{i + 3,
                         "expected '<pid> <epoch> <timestamp> <n> (<first> <last> <offset>){n} [<coordinator epoch>]'"};
    if (w.size() < 4 || !parse_int(w[0], pid) || !parse_int(w[1], p.epoch) ||
        !parse_int(w[2], p.last_timestamp_ms) || !parse_int(w[3], n) ||
        (w.size() != 4 + 3 * n && w.size() != 5 + 3 * n))
      return Err{bad};
    if (w.size() == 5 + 3 * n && (!parse_int(w[4 + 3 * n], p.coordinator_epoch) || p.coordinator_epoch < 0))
      return Err{bad};
    for (std::size_t k = 0; k < n; ++k) {
      ProducerBatchMeta b;
      if (!parse_int(w[4 + 3 * k], b.first_sequence) || !parse_int(w[5 + 3 * k], b.last_sequence) ||
          !parse_int(w[6 + 3 * k], b.last_offset))
        return Err{bad};
      p.recent.push_back(b);
    }
    if (!out.emplace(pid, std::move(p)).second) return Err{ParseError{i + 3, "duplicate producer id"}};
  }
  return out;
}

// --- file helpers ----------------------------------------------------------------------

Result<void, LogErrc> write_text_file(sim::Disk& disk, std::string_view path, std::string_view text) {
  if (auto r = sim::write_atomic(disk, path, as_bytes(text)); !r) return Err{from_disk(r.error())};
  return {};
}

Result<std::string, LogErrc> read_text_file(sim::Disk& disk, std::string_view path) {
  auto bytes = sim::read_all(disk, path);
  if (!bytes) return Err{from_disk(bytes.error())};
  return std::string(as_chars(*bytes));
}

}  // namespace samsa::log
