#pragma once
// The running trace hash: every scheduling decision and delivered event folds
// into one 64-bit value, so two runs agree byte for byte or visibly differ.
// Delivered frames and disk writes fold their payload bytes (xxhash), not
// only their sizes. An optional TraceLog records each event (off by default;
// one branch per event when off), so a tool can name the first event at
// which two runs part.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/time.h"

namespace samsa::sim {

enum class TraceKind : std::uint8_t {
  pick = 1,
  timer,
  deliver,
  conn_reset,
  crash,
  restart,
  disk_crash,
  fault,
  user,
  cancel,
  disk_write,
};
std::string_view to_string(TraceKind k);

// One traced event as the recorder saw it.
struct TraceEvent {
  std::uint64_t index = 0;  // 0-based, over the whole run
  Duration time{0};         // virtual time
  TraceKind kind = TraceKind::user;
  std::int32_t node = -1;   // -1: the world or not known
  std::string what;         // a short description ("pick n/main", ...)
  std::uint64_t hash = 0;   // the running hash after this event
};

struct TraceLog {
  std::vector<TraceEvent> events;
  // Events past this many are counted in the hash but not kept.
  std::size_t max_events = 50'000'000;
  // One JSON object per line: index, time_ns, kind, node, what, hash (hex).
  void write_jsonl(std::ostream& out) const;
};

// The index of the first event at which two recorded runs differ (kind,
// node or running hash), or where the shorter one ends; nullopt when both
// logs are the same.
std::optional<std::size_t> first_divergence(const TraceLog& a, const TraceLog& b);

class Trace {
 public:
  // `node` and `detail` only reach the recorder (they are not hashed).
  void fold(TraceKind kind, std::uint64_t a, std::uint64_t b = 0, std::int32_t node = -1,
            std::string_view detail = {});
  std::uint64_t hash() const { return hash_; }
  std::uint64_t events() const { return events_; }
  bool recording() const { return log_ != nullptr; }
  // Starts (or, with nullptr, stops) recording into `log`; `clock` is the
  // world's virtual time.
  void record_into(TraceLog* log, const Duration* clock) {
    log_ = log;
    clock_ = clock;
  }

 private:
  void record(TraceKind kind, std::uint64_t a, std::uint64_t b, std::int32_t node,
              std::string_view detail);

  std::uint64_t hash_ = 0x5a5a5a5a5a5a5a5aull;
  std::uint64_t events_ = 0;
  TraceLog* log_ = nullptr;
  const Duration* clock_ = nullptr;
};

}  // namespace samsa::sim
