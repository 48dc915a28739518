// The mirror checker (mirror_checker.h): at-least-once of a MirrorMaker-style
// copy, by the values the readers found in the source and target topics.
#include "invariants/mirror_checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace samsa::invariants {

namespace {

using json = nlohmann::json;
using Position = std::pair<std::int64_t, std::int64_t>;  // (partition, offset)

struct Acked {
  Position at;
  std::int64_t ack_ns = 0;
  std::int64_t op = 0;
};

struct Copy {
  std::string value;
  std::int64_t op = 0;
};

struct Facts {
  std::map<std::string, Acked> acked;              // acknowledged source sends by value
  std::set<std::string> sent;                      // every value a source send carried
  std::map<std::int64_t, std::map<std::int64_t, std::string>> source;  // source reads: partition -> offset -> value
  std::map<std::string, Position> source_at;       // value -> where the source read found it
  std::map<std::int64_t, std::map<std::int64_t, Copy>> target;  // target reads
  std::map<std::string, std::vector<Position>> copies;  // value -> target positions (ascending)
  std::map<std::string, std::int64_t> first_in_target_ns;  // first evidence it is in the target
  std::int64_t heal_ns = 0;
};

template <class V>  // nlohmann::json (options) or ValueRef (op values)
std::int64_t int_of(const V& v, const char* key, std::int64_t otherwise = -1) {
  if (!v.is_object() || !v.contains(key) || !v[key].is_number_integer()) return otherwise;
  return v[key].template get<std::int64_t>();
}

template <class V>
std::string string_of(const V& v, const char* key) {
  if (!v.is_object() || !v.contains(key) || !v[key].is_string()) return {};
  return v[key].template get<std::string>();
}

void note_first(Facts& f, const std::string& value, std::int64_t ns) {
  auto [it, fresh] = f.first_in_target_ns.emplace(value, ns);
  if (!fresh) it->second = std::min(it->second, ns);
}

void read_send(Facts& f, const Op& op, const std::string& source) {
  if (string_of(op.value, "topic") != source) return;
  const std::string value = string_of(op.value, "value");
  f.sent.insert(value);
  const std::int64_t p = int_of(op.value, "partition"), o = int_of(op.value, "offset");
  if (op.type == OpType::ok && p >= 0 && o >= 0) f.acked[value] = Acked{{p, o}, op.time_ns, op.index};
}

void read_poll(Facts& f, const Op& op, const std::string& source, const std::string& target) {
  if (op.type != OpType::ok || !op.value.is_object() || !op.value.contains("records")) return;
  for (const auto& r : op.value["records"]) {
    const std::string topic = string_of(r, "topic"), value = string_of(r, "value");
    const std::int64_t p = int_of(r, "partition"), o = int_of(r, "offset");
    if (p < 0 || o < 0) continue;
    if (topic == source) {
      f.source[p][o] = value;
      f.source_at.emplace(value, Position{p, o});
    } else if (topic == target && f.target[p].emplace(o, Copy{value, op.index}).second) {
      f.copies[value].push_back({p, o});
      note_first(f, value, op.time_ns);
    }
  }
}

void read_mirror(Facts& f, const Op& op, const std::string& target) {
  if ((op.type != OpType::ok && op.type != OpType::info) || !op.value.is_object() || !op.value.contains("sends")) return;
  for (const auto& s : op.value["sends"])
    if (string_of(s, "topic") == target && int_of(s, "offset") >= 0) note_first(f, string_of(s, "value"), op.time_ns);
}

Facts read_facts(const History& h, const std::string& source, const std::string& target) {
  Facts f;
  for (const Op& op : h.ops()) {
    if (op.process == k_nemesis) {
      if (op.f == "heal-all") f.heal_ns = op.time_ns;
    } else if (op.f == "send") {
      read_send(f, op, source);
    } else if (op.f == "poll") {
      read_poll(f, op, source, target);
    } else if (op.f == "mirror") {
      read_mirror(f, op, target);
    }
  }
  for (auto& [value, at] : f.copies) std::sort(at.begin(), at.end());
  return f;
}

std::string where(const Position& p) { return fmt::format("{}/{}", p.first, p.second); }

// An acknowledged record missing from the target: the mirror lost it, unless
// the source lost it first (its read passed the offset without the value).
void check_lost(const Facts& f, std::vector<Violation>& out) {
  for (const auto& [value, a] : f.acked) {
    if (f.copies.count(value)) continue;
    const auto part = f.source.find(a.at.first);
    const bool passed = part != f.source.end() && !part->second.empty() && part->second.rbegin()->first >= a.at.second;
    const auto at = f.source_at.find(value);
    if (at == f.source_at.end() && passed) {
      out.push_back(Violation::safety(
          "lost-write",
          fmt::format("'{}' was acknowledged at source {} but the source read passed that offset without it: "
                      "the source cluster lost it, so no mirror could copy it",
                      value, where(a.at)),
          {a.op}));
      continue;
    }
    out.push_back(Violation::safety(
        "mirror-lost",
        fmt::format("'{}' was acknowledged at source {} and {}, but no target read found it", value, where(a.at),
                    at != f.source_at.end() ? "the source still has it at " + where(at->second)
                                            : std::string("the source read did not get that far")),
        {a.op}));
  }
}

void check_phantoms(const Facts& f, std::vector<Violation>& out) {
  for (const auto& [p, offsets] : f.target)
    for (const auto& [o, copy] : offsets)
      if (!f.sent.count(copy.value))
        out.push_back(Violation::safety(
            "mirror-phantom", fmt::format("target {} holds '{}', which no source send carried", where({p, o}), copy.value),
            {copy.op}));
}

std::optional<Position> source_position(const Facts& f, const std::string& value) {
  if (auto it = f.source_at.find(value); it != f.source_at.end()) return it->second;
  if (auto it = f.acked.find(value); it != f.acked.end()) return it->second.at;
  return std::nullopt;
}

// Per target partition, in offset order: each record's first copy comes
// from the same source partition, later in source order than the first
// copies before it. A re-sent batch (a duplicate) replays a suffix and is
// not judged again.
void check_order(const Facts& f, std::vector<Violation>& out) {
  constexpr int k_per_partition = 10;
  for (const auto& [p, offsets] : f.target) {
    std::set<std::string> seen;
    std::int64_t last_source = -1, last_target = -1;
    int reported = 0;
    for (const auto& [o, copy] : offsets) {
      if (reported >= k_per_partition) break;
      if (!seen.insert(copy.value).second) continue;
      const auto src = source_position(f, copy.value);
      if (!src) continue;
      if (src->first != p) {
        ++reported;
        out.push_back(Violation::safety(
            "mirror-order",
            fmt::format("'{}' is in target partition {} but came from source partition {}", copy.value, p, src->first),
            {copy.op}));
        continue;
      }
      if (src->second < last_source) {
        ++reported;
        out.push_back(Violation::safety(
            "mirror-order",
            fmt::format("target partition {}: the first copy of source offset {} ('{}', target offset {}) comes after "
                        "the first copy of source offset {} (target offset {})",
                        p, src->second, copy.value, o, last_source, last_target),
            {copy.op}));
        continue;
      }
      last_source = src->second;
      last_target = o;
    }
  }
}

void check_duplicates(const Facts& f, std::vector<Violation>& out) {
  std::int64_t records = 0, extra = 0;
  std::vector<std::string> examples;
  std::vector<std::int64_t> ops;
  for (const auto& [value, at] : f.copies) {
    if (at.size() < 2) continue;
    ++records;
    extra += static_cast<std::int64_t>(at.size()) - 1;
    if (examples.size() < 3) {
      std::vector<std::string> places;
      for (const auto& p : at) places.push_back(where(p));
      examples.push_back(fmt::format("'{}' at {}", value, fmt::join(places, ", ")));
      for (const auto& p : at) ops.push_back(f.target.at(p.first).at(p.second).op);
    }
  }
  if (records == 0) return;
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  out.push_back(Violation::safety(
      "duplicate",
      fmt::format("{} source records are in the target more than once ({} extra copies), e.g. {}", records, extra,
                  fmt::join(examples, "; ")),
      ops));
}

void check_lag(const Facts& f, std::int64_t within_ms, std::vector<Violation>& out) {
  const std::int64_t within_ns = within_ms * 1'000'000;
  std::int64_t late = 0, worst_ns = 0;
  std::string worst;
  std::vector<std::int64_t> ops;
  for (const auto& [value, a] : f.acked) {
    const auto first = f.first_in_target_ns.find(value);
    if (first == f.first_in_target_ns.end()) continue;  // lost: check_lost reports it
    const std::int64_t from = std::max(f.heal_ns, a.ack_ns);
    const std::int64_t over = first->second - from - within_ns;
    if (over <= 0) continue;
    ++late;
    if (ops.size() < 10) ops.push_back(a.op);
    if (over > worst_ns) {
      worst_ns = over;
      worst = value;
    }
  }
  if (late == 0) return;
  out.push_back(Violation::liveness(
      "mirror-lag",
      fmt::format("{} acknowledged source records reached the target more than {} ms after the heal (or their ack, "
                  "if later); the latest, '{}', {} ms past the bound",
                  late, within_ms, worst, worst_ns / 1'000'000),
      ops));
}

// Without options (`samsa check` runs every checker): the topics of the
// first `mirror` op that names both; none, and the history is no mirror's.
std::pair<std::string, std::string> topics_of(const History& h) {
  for (const Op& op : h.ops()) {
    if (op.f != "mirror" || !op.value.is_object()) continue;
    const ValueRef polls = op.value["polls"];
    const ValueRef sends = op.value["sends"];
    if (!polls.is_array() || polls.empty() || !sends.is_array() || sends.empty()) continue;
    return {string_of(polls[0], "topic"), string_of(sends[0], "topic")};
  }
  return {};
}

}  // namespace

std::vector<Violation> check_mirror(const History& h, const json& options) {
  std::string source = string_of(options, "source_topic"), target = string_of(options, "target_topic");
  if (source.empty() && target.empty()) std::tie(source, target) = topics_of(h);
  if (source.empty() && target.empty()) return {};
  if (source.empty() || target.empty() || source == target)
    return {Violation::safety("mirror-options", "the mirror checker needs distinct source_topic and target_topic")};
  const std::int64_t within_ms = int_of(options, "within_ms", 10000);
  const Facts f = read_facts(h, source, target);
  std::vector<Violation> out;
  check_lost(f, out);
  check_phantoms(f, out);
  check_order(f, out);
  check_duplicates(f, out);
  check_lag(f, within_ms, out);
  return out;
}

}  // namespace samsa::invariants
