// The Kafka checkers (kafka_checkers.h). Facts from Jepsen's
// jepsen.tests.kafka (jepsen/src/jepsen/tests/kafka.clj): the version order
// of a partition comes from sends whose effect must have happened and from
// every poll; lost-write is bounded by the highest offset polled in a
// partition; poll-skip / nonmonotonic-poll compare a process's successive
// polls of a partition and forget partitions an assign takes away; the int-*
// anomalies look inside one operation.
#include "invariants/kafka_checkers.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <deque>
#include <set>
#include <span>
#include <tuple>
#include <unordered_map>

#include "invariants/checker.h"
#include "invariants/snapshot.h"

namespace samsa::invariants {

namespace {

using json = nlohmann::json;

std::string name_of(const Tp& tp) { return fmt::format("{}-{}", tp.topic, tp.partition); }

std::string text_of(ValueRef v) {
  if (v.is_string()) return std::string(v.str());
  if (v.is_null()) return "";
  return v.dump();
}

// Views into the history's op values (or Records' owned texts): the History
// outlives every View of it.
struct Rec {
  const Tp* tp = nullptr;    // interned by Records; null: no partition
  std::int64_t offset = -1;  // -1: unknown
  std::optional<std::string_view> key;
  std::string_view topic, value;
  std::uint32_t id = 0;  // (topic, value) interned by Records: ids ordered as the strings
  std::int32_t partition = -1;  // as parsed, until Records interns tp; -1 with no tp: none
};

std::optional<Tp> opt_tp(const Tp* tp) { return tp ? std::optional<Tp>(*tp) : std::nullopt; }

// (topic, value): values are unique per run. Views, ordered as the strings.
using RecordId = std::pair<std::string_view, std::string_view>;
RecordId record_name(const Rec& r) { return {r.topic, r.value}; }
// For Records::intern's lookups (only looked up, never iterated: its
// order reaches nothing).
struct RecordIdHash {
  std::size_t operator()(const RecordId& id) const {
    const std::size_t a = std::hash<std::string_view>{}(id.first);
    return a ^ (std::hash<std::string_view>{}(id.second) + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  }
};

// A field's text: a string's bytes in place, anything else dumped into `owned`.
std::string_view text_in(ValueRef v, std::deque<std::string>& owned) {
  if (v.is_string()) return v.str();
  if (v.is_null()) return {};
  return owned.emplace_back(v.dump());
}

// A parsed record's tp until Records::intern points it at the interned one.
const Tp k_unset_tp{};

// One pass over the record's fields (this runs for every record of every op).
std::optional<Rec> parse_record(ValueRef j, std::deque<std::string>& owned) {
  if (!j.is_object()) return std::nullopt;
  Rec r;
  bool has_value = false;
  std::optional<std::int32_t> partition;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string_view k = it.key();
    const ValueRef v = it.value();
    if (k == "topic") {
      if (v.is_string()) r.topic = v.str();
    } else if (k == "value") {
      has_value = true;
      r.value = text_in(v, owned);
    } else if (k == "partition") {
      if (v.is_number_integer()) partition = v.get<std::int32_t>();
    } else if (k == "offset") {
      if (v.is_number_integer()) r.offset = v.get<std::int64_t>();
    } else if (k == "key") {
      if (!v.is_null()) r.key = text_in(v, owned);
    }
  }
  if (!has_value) return std::nullopt;
  if (partition) r.partition = *partition, r.tp = &k_unset_tp;  // interned by Records::intern
  return r;
}

using Owned = std::deque<std::string>;  // texts that are not a string in the history (dumped)

void parse_list(ValueRef v, const char* field, std::vector<Rec>& out, Owned& owned) {
  const ValueRef list = v[field];
  if (!list.is_array()) return;
  for (const ValueRef j : list)
    if (auto r = parse_record(j, owned)) out.push_back(std::move(*r));
}

void sent_records(const Op& op, std::vector<Rec>& out, Owned& owned) {
  if (op.f == "txn") return parse_list(op.value, "sends", out, owned);
  if (op.f != "send") return;
  if (op.value.is_object() && op.value.contains("records")) return parse_list(op.value, "records", out, owned);
  if (auto r = parse_record(op.value, owned)) out.push_back(std::move(*r));
}

void polled_records(const Op& op, std::vector<Rec>& out, Owned& owned) {
  if (op.f == "txn") return parse_list(op.value, "polls", out, owned);
  if (op.f == "poll") return parse_list(op.value, "records", out, owned);
}

// One completed send of one record.
struct Send {
  const Op* done = nullptr;
  std::int64_t invoked = 0;  // index of the invoke (the completion's when none)
  std::size_t pos = 0;       // position in its op
  std::string_view producer;  // interned by the View
  const Rec& rec;  // in the View's Records (a copy per send was 88 bytes more)
};

// A record at an offset of a partition and the first op that showed it there
// (16 bytes: a view holds two per witnessed pair, so the op's index is 32 bits).
struct Witness {
  std::int64_t offset;
  std::uint32_t id;
  std::int32_t op;
};

// The log of one partition as the history shows it: flat sorted vectors (a
// tree node per offset and per record cost more than the checks that read them).
struct Log {
  std::vector<Witness> at;           // by (offset, id): one per pair, its first witness
  std::vector<Witness> of;           // the same by (id, offset): each record's offsets, ascending
  std::vector<std::int64_t> offsets;  // index -> offset (distinct, ascending)
  std::int64_t max_read = -1, max_read_op = -1;  // highest offset an ok poll read
  std::size_t part = 0;  // its position in View::logs (the partitions' order), View::parts
  // The dense index of `offset`, or -1.
  std::int64_t dense(std::int64_t offset) const {
    const auto it = std::lower_bound(offsets.begin(), offsets.end(), offset);
    return it != offsets.end() && *it == offset ? it - offsets.begin() : -1;
  }
  // The record's entries in `of` (its offsets, ascending).
  std::span<const Witness> offsets_of(std::uint32_t id) const {
    const auto lo = std::lower_bound(of.begin(), of.end(), id, [](const Witness& w, std::uint32_t i) { return w.id < i; });
    auto hi = lo;
    while (hi != of.end() && hi->id == id) ++hi;
    return {lo, hi};
  }
};

// Walks `entries` in runs of equal `key(entry)`: f(run) for each.
template <class T, class K, class F>
void for_runs(std::span<const T> entries, K key, F f) {
  for (std::size_t i = 0; i < entries.size();) {
    std::size_t j = i + 1;
    while (j < entries.size() && key(entries[j]) == key(entries[i])) ++j;
    f(entries.subspan(i, j - i));
    i = j;
  }
}

struct Position {
  std::int64_t op = 0;
  std::size_t pos = 0;
  auto operator<=>(const Position&) const = default;
};

// Every completed op's sent and polled records, parsed once: the checkers over one
// View read them many times (a flat vector and per-op starts, so an op
// without records costs 8 bytes).
class Records {
 public:
  explicit Records(const History& h);
  std::span<const Rec> sent(const Op& op) const { return slice(sent_, pos(op)); }
  std::span<const Rec> polled(const Op& op) const { return slice(polled_, pos(op)); }
  // How many distinct records (ids 0..count-1), and each one's (topic, value).
  std::uint32_t count() const { return static_cast<std::uint32_t>(names_.size()); }
  std::size_t sent_count() const { return sent_.recs.size(); }
  const RecordId& name(std::uint32_t id) const { return names_[id]; }

 private:
  void intern();
  struct Table {
    std::vector<Rec> recs;
    std::vector<std::uint32_t> start;  // op position -> its first record; one more at the end
  };
  std::size_t pos(const Op& op) const;
  std::span<const Rec> slice(const Table& t, std::size_t i) const {
    return {t.recs.data() + t.start[i], t.recs.data() + t.start[i + 1]};
  }
  bool dense_ = true;  // ops()[i].index == i (recorded histories); else by address
  std::unordered_map<const Op*, std::size_t> pos_;  // lookups only, never iterated
  Table sent_, polled_;
  Owned owned_;
  std::vector<RecordId> names_;  // id -> (topic, value)
  std::deque<Tp> tps_;           // the partitions records name, once each (Rec::tp)
};

// The first 16 bytes of `s` as two big-endian words, zero-padded: ordered
// as the strings are wherever they differ.
std::pair<std::uint64_t, std::uint64_t> prefix_of(std::string_view s) {
  std::uint64_t w[2] = {0, 0};
  for (std::size_t i = 0; i < 16 && i < s.size(); ++i)
    w[i / 8] |= std::uint64_t{static_cast<unsigned char>(s[i])} << (56 - 8 * (i % 8));
  return {w[0], w[1]};
}

// The positions of `names` in the (topic, value) strings' order (names are
// distinct): by each topic's rank and the value's 16-byte prefix, the
// strings compared only on a tie (comparing the string pairs every time was
// most of the interning at 1,000 records/s).
std::vector<std::uint32_t> string_order(const std::vector<RecordId>& names) {
  std::map<std::string_view, std::uint32_t> topics;
  for (const auto& n : names) topics.emplace(n.first, 0);
  std::uint32_t t = 0;
  for (auto& [topic, r] : topics) r = t++;
  struct Key {
    std::uint32_t topic;
    std::pair<std::uint64_t, std::uint64_t> prefix;
    std::uint32_t index;
  };
  std::vector<Key> keys;
  keys.reserve(names.size());
  for (std::uint32_t i = 0; i < names.size(); ++i)
    keys.push_back({topics.at(names[i].first), prefix_of(names[i].second), i});
  std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
    if (a.topic != b.topic) return a.topic < b.topic;
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return names[a.index].second < names[b.index].second;
  });
  std::vector<std::uint32_t> order;
  order.reserve(keys.size());
  for (const Key& k : keys) order.push_back(k.index);
  return order;
}

// Numbers each distinct (topic, value) so that the checkers compare and
// index integers, not strings (the string pairs' sorts and tree lookups were
// most of the checks at 1,000 records/s): ids in first-seen order, then
// renumbered in the strings' order, so walking ids in order walks records
// as a map of the strings did.
void Records::intern() {
  // One Tp per partition, not a string per record (memory at 1,000 records/s).
  std::map<std::pair<std::string_view, std::int32_t>, const Tp*> tps;
  for (Table* t : {&sent_, &polled_})
    for (Rec& r : t->recs) {
      if (!r.tp) continue;
      const auto [it, fresh] = tps.emplace(std::pair{r.topic, r.partition}, nullptr);
      if (fresh) it->second = &tps_.emplace_back(Tp{std::string(r.topic), r.partition});
      r.tp = it->second;
    }
  std::unordered_map<RecordId, std::uint32_t, RecordIdHash> seen;
  seen.reserve(sent_.recs.size() + polled_.recs.size());
  for (Table* t : {&sent_, &polled_})
    for (Rec& r : t->recs) {
      const auto [it, fresh] = seen.emplace(record_name(r), static_cast<std::uint32_t>(names_.size()));
      if (fresh) names_.push_back(record_name(r));
      r.id = it->second;
    }
  const std::vector<std::uint32_t> order = string_order(names_);
  std::vector<std::uint32_t> rank(names_.size());
  std::vector<RecordId> sorted(names_.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) rank[order[i]] = i, sorted[i] = names_[order[i]];
  names_ = std::move(sorted);
  for (Table* t : {&sent_, &polled_})
    for (Rec& r : t->recs) r.id = rank[r.id];
}

// At most how many records sent_records and polled_records find in `op`.
std::pair<std::size_t, std::size_t> record_counts(const Op& op) {
  if (op.type == OpType::invoke) return {0, 0};
  const auto size = [&](const char* field) { return op.value[field].is_array() ? op.value[field].size() : 0; };
  if (op.f == "txn") return {size("sends"), size("polls")};
  if (op.f == "poll") return {0, size("records")};
  if (op.f == "send") return {op.value.contains("records") ? size("records") : 1, 0};
  return {0, 0};
}

Records::Records(const History& h) {
  // Exact room first: the tables are the view's largest part, and growing
  // them by doubling had half again as much alive at the end of a long run.
  std::size_t sent = 0, polled = 0;
  for (const Op& op : h.ops()) {
    const auto [s, p] = record_counts(op);
    sent += s, polled += p;
  }
  sent_.recs.reserve(sent), polled_.recs.reserve(polled);
  sent_.start.reserve(h.size() + 1), polled_.start.reserve(h.size() + 1);
  std::size_t i = 0;
  for (const Op& op : h.ops()) {
    if (op.index != static_cast<std::int64_t>(i)) dense_ = false;
    sent_.start.push_back(static_cast<std::uint32_t>(sent_.recs.size()));
    polled_.start.push_back(static_cast<std::uint32_t>(polled_.recs.size()));
    // An invoke's records are not kept: no checker reads them (what was
    // asked, not what happened), and they were a third of the table.
    if (op.type != OpType::invoke) {
      sent_records(op, sent_.recs, owned_);
      polled_records(op, polled_.recs, owned_);
    }
    ++i;
  }
  sent_.start.push_back(static_cast<std::uint32_t>(sent_.recs.size()));
  polled_.start.push_back(static_cast<std::uint32_t>(polled_.recs.size()));
  intern();
  if (!dense_) {
    i = 0;
    for (const Op& op : h.ops()) pos_.emplace(&op, i++);
  }
}

std::size_t Records::pos(const Op& op) const {
  return dense_ ? static_cast<std::size_t>(op.index) : pos_.at(&op);
}

struct Case {
  Violation v;
  std::optional<Tp> tp;
};

class View {
 public:
  explicit View(const History& h);

  const History& h;
  Records records;
  bool kafka = false;
  std::map<Tp, Log> logs;
  std::set<std::string, std::less<>> producers;  // Send::producer's texts, once each
  std::vector<Send> sends;  // ok/info/fail completions, history order
  // By record id (Records::intern), so in the (topic, value) order:
  std::vector<const Send*> writer;  // the send that best shows each record's fate: ok, else info, else fail; null: none
  std::vector<Position> first_read;  // by an ok poll; op -1: none
  std::vector<const Tp*> read_tp;    // the partition an ok poll read it in (null: none)

  // The cases of the analyses the delivery summary and then the checker of
  // the same name both ask for over one shared view, by analysis and
  // arguments: computed once (see memoized).
  mutable std::map<std::string, std::vector<Case>, std::less<>> memo;

  bool read(std::uint32_t id) const { return first_read[id].op >= 0; }
  const RecordId& name(std::uint32_t id) const { return records.name(id); }
  // The record's dense index in its partition's version order.
  struct Located {
    const Tp* tp;  // a key of logs
    const Log* log;
    std::int64_t index;
  };
  std::optional<Located> locate(const Rec& r) const;
  std::vector<const Tp*> parts;  // Log::part -> its partition

 private:
  void add(const Rec& r, std::int64_t op);
  void choose_writers();
  void finish();
  std::map<Tp, std::vector<Witness>> witnessed_;  // add()'s, in call order, until finish()
};

std::string producer_of(const Op& op) {
  if (op.value.is_object() && op.value.contains("producer")) return text_of(op.value["producer"]);
  return fmt::format("process {}", op.process);
}

int rank(OpType t) { return t == OpType::ok ? 3 : t == OpType::info ? 2 : 1; }

// Transactions whose outcome is unknown (info) but some of whose writes were
// read: they committed, and a transaction is atomic, so what they polled
// was consumed (a consume-transform-produce round whose output is seen).
std::set<std::int64_t> committed_info_txns(const History& h, const Records& recs) {
  std::vector<bool> polled(recs.count());
  for (const Op& op : h.ops())
    if (op.type != OpType::invoke)
      for (auto& r : recs.polled(op)) polled[r.id] = true;
  std::set<std::int64_t> out;
  for (const Op& op : h.ops()) {
    if (op.f != "txn" || op.type != OpType::info) continue;
    for (auto& r : recs.sent(op))
      if (polled[r.id]) {
        out.insert(op.index);
        break;
      }
  }
  return out;
}

View::View(const History& hist)
    : h(hist), records(hist), first_read(records.count(), Position{-1, 0}), read_tp(records.count(), nullptr) {
  std::map<std::int64_t, const Op*> pending;
  std::vector<bool> read_by_any(records.count());
  sends.reserve(records.sent_count());  // every kept sent record is one Send, or none
  const std::set<std::int64_t> committed_info = committed_info_txns(h, records);
  for (const Op& op : h.ops()) {
    if (op.f != "send" && op.f != "poll" && op.f != "txn") continue;
    kafka = true;
    if (op.type == OpType::invoke) {
      pending[op.process] = &op;
      continue;
    }
    const auto it = pending.find(op.process);
    const std::int64_t invoked = it != pending.end() && it->second->f == op.f ? it->second->index : op.index;
    if (it != pending.end()) pending.erase(it);
    std::size_t pos = 0;
    for (const Rec& r : records.polled(op)) {
      // Jepsen: every poll, whatever its outcome, shows what the log holds.
      if (r.tp) add(r, op.index);
      read_by_any[r.id] = true;
      if (op.type == OpType::ok || committed_info.count(op.index)) {
        if (first_read[r.id].op < 0) first_read[r.id] = Position{op.index, pos};
        if (r.tp) {
          if (!read_tp[r.id]) read_tp[r.id] = r.tp;
          Log& log = logs[*r.tp];
          if (r.offset > log.max_read) log.max_read = r.offset, log.max_read_op = op.index;
        }
      }
      ++pos;
    }
    pos = 0;
    const auto sent = records.sent(op);
    if (sent.empty()) continue;
    const std::string_view producer = *producers.insert(producer_of(op)).first;
    for (const Rec& r : sent) sends.push_back({&op, invoked, pos++, producer, r});
  }
  choose_writers();
  for (const Send& s : sends) {
    // A send's offset is in the log when it was ok, or info and read (Jepsen's must-have-committed?).
    const bool happened = s.done->type == OpType::ok || (s.done->type == OpType::info && read_by_any[s.rec.id]);
    if (happened && s.rec.tp && s.rec.offset >= 0) add(s.rec, s.done->index);
  }
  finish();
}

// Each record's writer: the first of its sends with the best outcome.
void View::choose_writers() {
  writer.assign(records.count(), nullptr);
  for (const Send& s : sends) {
    const Send*& best = writer[s.rec.id];
    if (!best || rank(s.done->type) > rank(best->done->type)) best = &s;
  }
}

void View::add(const Rec& r, std::int64_t op) {
  if (r.offset < 0) return;
  logs[*r.tp];  // the partition has a log even before finish()
  SAMSA_ASSERT(op >= 0 && op <= INT32_MAX, "a history of 2^31 ops or more");
  witnessed_[*r.tp].push_back({r.offset, r.id, static_cast<std::int32_t>(op)});
}

// Each (offset, record)'s first witness, as the first add() of it left it.
void View::finish() {
  for (auto& [tp, w] : witnessed_) {
    Log& log = logs[tp];
    std::stable_sort(w.begin(), w.end(),
                     [](const Witness& a, const Witness& b) { return std::tie(a.offset, a.id) < std::tie(b.offset, b.id); });
    w.erase(std::unique(w.begin(), w.end(), [](const Witness& a, const Witness& b) { return a.offset == b.offset && a.id == b.id; }),
            w.end());
    for (const Witness& e : w)
      if (log.offsets.empty() || log.offsets.back() != e.offset) log.offsets.push_back(e.offset);
    log.of = w;
    std::sort(log.of.begin(), log.of.end(),
              [](const Witness& a, const Witness& b) { return std::tie(a.id, a.offset) < std::tie(b.id, b.offset); });
    log.at = std::move(w);
  }
  witnessed_.clear();
  for (auto& [tp, log] : logs) log.part = parts.size(), parts.push_back(&tp);
}

std::optional<View::Located> View::locate(const Rec& r) const {
  const Tp* tp = r.tp ? r.tp : read_tp[r.id];
  if (!tp) return std::nullopt;
  const auto log = logs.find(*tp);
  if (log == logs.end()) return std::nullopt;
  if (r.offset >= 0)
    if (const std::int64_t d = log->second.dense(r.offset); d >= 0) return Located{&log->first, &log->second, d};
  const auto o = log->second.offsets_of(r.id);
  if (o.empty()) return std::nullopt;
  return Located{&log->first, &log->second, log->second.dense(o.front().offset)};
}

// A violation and the partition it is about (for the per-partition summary).

std::vector<Violation> strip(std::vector<Case> cases) {
  std::vector<Violation> out;
  out.reserve(cases.size());
  for (auto& c : cases) out.push_back(std::move(c.v));
  return out;
}

std::string describe(const Rec& r) {
  std::string s = fmt::format("{:?}", r.value);
  if (r.tp) s += fmt::format(" ({}{})", name_of(*r.tp), r.offset >= 0 ? fmt::format(" offset {}", r.offset) : "");
  return s;
}

// --- the log itself ------------------------------------------------------------------

std::vector<Case> compute_inconsistent_offsets(const View& v) {
  std::vector<Case> out;
  for (const auto& [tp, log] : v.logs)
    for_runs(std::span<const Witness>(log.at), [](const Witness& w) { return w.offset; },
             [&](std::span<const Witness> values) {
               if (values.size() < 2) return;
               std::vector<std::int64_t> ops;
               std::vector<std::string> names;
               for (const Witness& w : values) ops.push_back(w.op), names.push_back(fmt::format("{:?}", v.name(w.id).second));
               std::sort(ops.begin(), ops.end());
               out.push_back({Violation::safety("inconsistent-offsets",
                                                fmt::format("{} offset {} holds {} values: {}", name_of(tp),
                                                            values.front().offset, values.size(), fmt::join(names, ", ")),
                                                ops),
                              tp});
             });
  return out;
}

std::vector<Case> compute_duplicate(const View& v) {
  std::vector<Case> out;
  for (const auto& [tp, log] : v.logs)
    for_runs(std::span<const Witness>(log.of), [](const Witness& w) { return w.id; },
             [&](std::span<const Witness> at) {
               if (at.size() < 2) return;
               std::vector<std::int64_t> ops, offsets;
               for (const Witness& w : at) ops.push_back(w.op), offsets.push_back(w.offset);
               std::sort(ops.begin(), ops.end());
               out.push_back({Violation::safety("duplicate",
                                                fmt::format("{:?} is at {} offsets of {}: {}", v.name(at.front().id).second,
                                                            offsets.size(), name_of(tp), fmt::join(offsets, ", ")),
                                                ops),
                              tp});
             });
  // One record in two partitions of its topic: every (record, partition)
  // in one flat list, stably sorted by record, so a run of one record holds
  // its partitions in log order (a map of vectors, one per record, cost more
  // than the rest of this checker at 1000 records/s).
  struct Place {
    std::uint32_t id;
    const Tp* tp;
    std::int64_t op;
  };
  std::vector<Place> places;
  for (const auto& [tp, log] : v.logs)
    for_runs(std::span<const Witness>(log.of), [](const Witness& w) { return w.id; },
             [&](std::span<const Witness> at) { places.push_back({at.front().id, &tp, at.front().op}); });
  std::stable_sort(places.begin(), places.end(), [](const Place& a, const Place& b) { return a.id < b.id; });
  for (auto run = places.begin(); run != places.end();) {
    auto end = std::find_if(run, places.end(), [&](const Place& p) { return p.id != run->id; });
    const auto n = static_cast<std::size_t>(end - run);
    if (n >= 2) {
      std::vector<std::string> names;
      std::vector<std::int64_t> ops;
      for (auto p = run; p != end; ++p) names.push_back(name_of(*p->tp)), ops.push_back(p->op);
      out.push_back({Violation::safety("duplicate", fmt::format("{:?} is in {} partitions: {}", v.name(run->id).second, n,
                                                                fmt::join(names, ", ")),
                                       ops),
                     *run->tp});
    }
    run = end;
  }
  return out;
}

// The acknowledged records a final-state snapshot shows in no replica's log:
// acknowledged before it was taken, in a partition it has, and not below
// every replica's log start (retention). Their value's record_hash is looked
// for at any offset (another offset is inconsistent-offsets' business).
std::vector<std::uint32_t> absent_from(const View& v, const Snapshot* s) {
  std::vector<std::uint32_t> out;  // ids, ascending
  if (s == nullptr) return out;
  // Every replica's hashes in one sorted vector per partition (a std::set
  // of them was most of this function at 1000 records/s).
  struct Held {
    std::vector<std::uint64_t> hashes;
    std::int64_t log_start = std::numeric_limits<std::int64_t>::max();  // the lowest of its replicas
    bool has(std::uint64_t hash) const { return std::binary_search(hashes.begin(), hashes.end(), hash); }
  };
  std::map<Tp, Held> held;
  for (const auto& p : s->partitions) {
    if (p.replicas.empty()) continue;
    Held& h = held[Tp{p.topic, p.partition}];
    for (const auto& r : p.replicas) {
      h.log_start = std::min(h.log_start, r.log_start_offset);
      for (const auto& rec : r.records) h.hashes.push_back(rec.hash);
    }
  }
  for (auto& [tp, h] : held) {
    std::sort(h.hashes.begin(), h.hashes.end());
    h.hashes.erase(std::unique(h.hashes.begin(), h.hashes.end()), h.hashes.end());
  }
  for (std::uint32_t id = 0; id < v.writer.size(); ++id) {
    const Send* w = v.writer[id];
    if (!w || w->done->type != OpType::ok || (s->time_ns >= 0 && w->done->time_ns > s->time_ns)) continue;
    const Tp* tp = w->rec.tp ? w->rec.tp : v.read_tp[id];
    if (!tp) continue;
    const auto h = held.find(*tp);
    if (h == held.end() || h->second.has(record_hash(v.name(id).second))) continue;
    if (h->second.log_start > 0 && (w->rec.offset < 0 || w->rec.offset < h->second.log_start)) continue;
    out.push_back(id);
  }
  return out;
}

// Jepsen's lost-write: in each partition, every record whose last offset is
// at or below the highest offset any ok poll read, written by an ok send,
// and read by no ok poll. With a final-state snapshot also every
// acknowledged record in no replica's log (absent_from), read or not: a loss
// is a safety violation even when no consumer got to look for it.
std::vector<Case> lost_write(const View& v, const Snapshot* final_state = nullptr) {
  std::vector<Case> out;
  std::vector<bool> reported(v.records.count());
  for (const auto& [tp, log] : v.logs) {
    if (log.max_read < 0) continue;
    for_runs(std::span<const Witness>(log.of), [](const Witness& w) { return w.id; }, [&](std::span<const Witness> at) {
      const std::uint32_t id = at.front().id;
      if (at.back().offset > log.max_read || v.read(id)) return;
      const Send* w = v.writer[id];
      if (!w || w->done->type != OpType::ok) return;
      out.push_back({Violation::safety("lost-write",
                                       fmt::format("acknowledged {} was never polled, though offset {} of {} was",
                                                   describe(w->rec), log.max_read, name_of(tp)),
                                       {w->done->index, log.max_read_op}),
                     tp});
      reported[id] = true;
    });
  }
  for (const std::uint32_t id : absent_from(v, final_state)) {
    if (reported[id]) continue;
    const Send& w = *v.writer[id];
    out.push_back({Violation::safety("lost-write",
                                     fmt::format("acknowledged {} is in no replica's log at the end", describe(w.rec)),
                                     {w.done->index}),
                   opt_tp(w.rec.tp)});
  }
  return out;
}

// Acknowledged and never polled; with a final-state snapshot, not the ones
// it shows in no replica's log (those are lost-write).
std::vector<Case> unseen(const View& v, const Snapshot* final_state = nullptr) {
  std::vector<Case> out;
  const std::vector<std::uint32_t> lost = absent_from(v, final_state);
  for (std::uint32_t id = 0; id < v.writer.size(); ++id) {
    const Send* s = v.writer[id];
    if (!s || s->done->type != OpType::ok || v.read(id) || std::binary_search(lost.begin(), lost.end(), id)) continue;
    out.push_back({Violation::liveness("unseen", fmt::format("acknowledged {} was never polled", describe(s->rec)),
                                       {s->done->index}),
                   opt_tp(s->rec.tp)});
  }
  return out;
}

std::vector<Case> g1a(const View& v) {
  std::vector<Case> out;
  for (std::uint32_t id = 0; id < v.first_read.size(); ++id) {
    const Position& pos = v.first_read[id];
    const Send* w = v.writer[id];
    if (pos.op < 0 || !w || w->done->type != OpType::fail) continue;
    out.push_back({Violation::safety("G1a",
                                     fmt::format("{:?} was polled though its send failed (aborted read)", v.name(id).second),
                                     {w->done->index, pos.op}),
                   v.read_tp[id] ? std::optional<Tp>(*v.read_tp[id]) : std::nullopt});
  }
  return out;
}

// --- order between operations of one process ------------------------------------------

// A known record's place: the partition, its dense index, and its offset.
struct Place {
  const Tp* tp;  // a key of View::logs
  const Log* log;
  std::int64_t index = 0, offset = 0;
};

Place place_of(const View::Located& l) { return {l.tp, l.log, l.index, l.log->offsets[l.index]}; }

// The records of one op where their index is known, by partition (in the
// partitions' order), each partition's in op order: runs of one tp in `out`
// (a buffer the caller keeps: most ops have one record, no map per op).
void places_by_partition(const View& v, std::span<const Rec> recs, std::vector<Place>& out) {
  out.clear();
  for (const auto& r : recs)
    if (auto l = v.locate(r)) out.push_back(place_of(*l));
  if (out.size() > 1)
    std::stable_sort(out.begin(), out.end(), [](const Place& a, const Place& b) { return a.tp != b.tp && *a.tp < *b.tp; });
}

// f(tp, places) for each partition's run in places_by_partition's `out`.
template <class F>
void for_partitions(const std::vector<Place>& places, F f) {
  for_runs(std::span<const Place>(places), [](const Place& p) { return p.tp; },
           [&](std::span<const Place> run) { f(*run.front().tp, run); });
}

std::string skipped_text(const Log& log, std::int64_t from_index, std::int64_t to_index) {
  const std::int64_t n = to_index - from_index - 1;
  return fmt::format("skipped {} record{} (offset{} {}{})", n, n == 1 ? "" : "s", n == 1 ? "" : "s",
                     log.offsets[from_index + 1], n == 1 ? "" : fmt::format("..{}", log.offsets[to_index - 1]));
}

// poll-skip and nonmonotonic-poll: Jepsen's poll-skip+nonmonotonic-cases-per-process.
std::vector<Case> compute_poll_order(const View& v, bool skips, const json& options) {
  const bool reset_on_assign = options.is_object() && options.value("reset_on_assign", false);
  struct Last {
    std::int64_t index, offset, op;
  };
  // process -> by Log::part, its last read of the partition
  std::map<std::int64_t, std::vector<std::optional<Last>>> last;
  std::vector<Case> out;
  std::vector<Place> places_buf;
  for (const Op& op : v.h.ops()) {
    if (op.type != OpType::ok) continue;
    if (op.f == "assign") {
      const auto mine = last.find(op.process);
      if (mine == last.end()) continue;
      std::set<Tp> kept;
      if (op.value.is_object() && op.value.contains("partitions") && op.value["partitions"].is_array())
        for (const auto& p : op.value["partitions"])
          if (p.is_object() && p.contains("partition") && p["partition"].is_number_integer())
            kept.insert({p.value("topic", ""), p["partition"].get<std::int32_t>()});
      for (std::size_t part = 0; part < mine->second.size(); ++part)
        if (reset_on_assign || !kept.count(*v.parts[part])) mine->second[part].reset();
      continue;
    }
    if (op.f != "poll" && op.f != "txn") continue;
    places_by_partition(v, v.records.polled(op), places_buf);
    if (places_buf.empty()) continue;
    auto& mine = last[op.process];
    mine.resize(v.parts.size());
    for_partitions(places_buf, [&](const Tp& tp, std::span<const Place> places) {
      std::optional<Last>& slot = mine[places.front().log->part];
      if (slot) {
        const Last& prev = *slot;
        const std::int64_t delta = places.front().index - prev.index;
        if (skips && delta > 1)
          out.push_back({Violation::safety("poll-skip",
                                           fmt::format("process {} polled {} offset {} after offset {}: {}", op.process,
                                                       name_of(tp), places.front().offset, prev.offset,
                                                       skipped_text(*places.front().log, prev.index, places.front().index)),
                                           {prev.op, op.index}),
                         tp});
        if (!skips && delta < 1)
          out.push_back({Violation::safety("nonmonotonic-poll",
                                           fmt::format("process {} polled {} offset {} after offset {}", op.process,
                                                       name_of(tp), places.front().offset, prev.offset),
                                           {prev.op, op.index}),
                         tp});
      }
      slot = Last{places.back().index, places.back().offset, op.index};
    });
  }
  return out;
}

// The ok and info sends of each producer, in the order they were invoked.
std::map<std::string_view, std::vector<const Send*>> sends_by_producer(const View& v, bool with_fail) {
  std::map<std::string_view, std::vector<const Send*>> out;
  for (const Send& s : v.sends)
    if (with_fail || s.done->type != OpType::fail) out[s.producer].push_back(&s);
  for (auto& [p, list] : out)
    std::stable_sort(list.begin(), list.end(), [](const Send* a, const Send* b) {
      return std::tie(a->invoked, a->pos) < std::tie(b->invoked, b->pos);
    });
  return out;
}

// Jepsen's nonmonotonic-send-cases: a producer's later send lands at or
// before its earlier one in the partition's log.
std::vector<Case> compute_nonmonotonic_send(const View& v) {
  std::vector<Case> out;
  for (const auto& [producer, list] : sends_by_producer(v, false)) {
    std::vector<std::optional<std::pair<Place, const Send*>>> last(v.parts.size());  // by Log::part
    for (const Send* s : list) {
      const auto l = v.locate(s->rec);
      if (!l) continue;
      const Place here = place_of(*l);
      const auto& prev = last[here.log->part];
      if (prev && prev->second->done != s->done && here.index <= prev->first.index)
        out.push_back({Violation::safety("nonmonotonic-send",
                                         fmt::format("{} sent {:?} after {:?}, but it is at {} offset {}, not after {}",
                                                     producer, s->rec.value, prev->second->rec.value,
                                                     name_of(*here.tp), here.offset, prev->first.offset),
                                         {prev->second->done->index, s->done->index}),
                       *here.tp});
      last[here.log->part] = {here, s};
    }
  }
  return out;
}

// --- order inside one operation ---------------------------------------------------------

std::vector<Case> compute_inside(const View& v, bool polls, bool skips) {
  const std::string name = polls ? (skips ? "int-poll-skip" : "int-nonmonotonic-poll")
                                 : (skips ? "int-send-skip" : "int-nonmonotonic-send");
  std::vector<Case> out;
  std::vector<Place> places_buf;
  for (const Op& op : v.h.ops()) {
    if (op.type != OpType::ok && op.type != OpType::info) continue;
    const auto recs = polls ? v.records.polled(op) : v.records.sent(op);
    if (recs.size() < 2) continue;
    places_by_partition(v, recs, places_buf);
    for_partitions(places_buf, [&](const Tp& tp, std::span<const Place> places) {
      for (std::size_t i = 1; i < places.size(); ++i) {
        const std::int64_t delta = places[i].index - places[i - 1].index;
        if (skips && delta > 1)
          out.push_back({Violation::safety(name,
                                           fmt::format("one {} of process {} went from {} offset {} to {}: {}", op.f,
                                                       op.process, name_of(tp), places[i - 1].offset, places[i].offset,
                                                       skipped_text(*places[i].log, places[i - 1].index, places[i].index)),
                                           {op.index}),
                         tp});
        if (!skips && delta < 1)
          out.push_back({Violation::safety(name,
                                           fmt::format("one {} of process {} went from {} offset {} back to {}", op.f,
                                                       op.process, name_of(tp), places[i - 1].offset, places[i].offset),
                                           {op.index}),
                         tp});
      }
    });
  }
  return out;
}

std::vector<Case> precommitted_read(const View& v) {
  std::vector<Case> out;
  for (const Op& op : v.h.ops()) {
    if (op.f != "txn" || (op.type != OpType::ok && op.type != OpType::info)) continue;
    std::set<std::uint32_t> sent;
    for (const auto& r : v.records.sent(op)) sent.insert(r.id);
    for (const auto& r : v.records.polled(op))
      if (sent.count(r.id)) {
        out.push_back({Violation::safety("precommitted-read",
                                         fmt::format("transaction of process {} polled {}, which it sent itself",
                                                     op.process, describe(r)),
                                         {op.index}),
                       opt_tp(r.tp)});
        break;
      }
  }
  return out;
}

// --- samsa's own ----------------------------------------------------------------------

// per-key-order: one producer's records of one key are consumed (first
// consumption, by history order of the ok polls) in the order it sent them.
std::vector<Case> compute_per_key_order(const View& v) {
  std::vector<Case> out;
  for (const auto& [producer, list] : sends_by_producer(v, false)) {
    std::map<RecordId, std::pair<Position, const Send*>> latest;  // (topic, key) -> latest first consumption so far
    for (const Send* s : list) {
      if (!s->rec.key) continue;
      const Position& read = v.first_read[s->rec.id];
      if (read.op < 0) continue;
      const RecordId key{s->rec.topic, *s->rec.key};
      const auto it = latest.find(key);
      if (it != latest.end() && read < it->second.first) {
        const Send* earlier = it->second.second;
        std::vector<std::int64_t> ops = {earlier->done->index, s->done->index, read.op};
        if (it->second.first.op != read.op) ops.push_back(it->second.first.op);
        std::sort(ops.begin(), ops.end());
        out.push_back({Violation::safety("per-key-order",
                                         fmt::format("{} sent {:?} then {:?} with key {:?}; they were consumed the "
                                                     "other way round",
                                                     producer, earlier->rec.value, s->rec.value, *s->rec.key),
                                         ops),
                       v.read_tp[s->rec.id] ? std::optional<Tp>(*v.read_tp[s->rec.id]) : std::nullopt});
        continue;
      }
      latest[key] = {read, s};
    }
  }
  return out;
}

// The group of each ok poll's process: from its latest ok assign (a process
// that never joined a group is a consumer group of its own).
std::vector<Case> compute_redelivery(const View& v) {
  // Groups by number: "group G" or "process P" (a name each, numbered as first met).
  std::map<std::string, std::uint32_t, std::less<>> group_ids;
  std::vector<std::string> groups;
  auto group_id = [&](std::string name) {
    const auto [it, fresh] = group_ids.emplace(std::move(name), static_cast<std::uint32_t>(groups.size()));
    if (fresh) groups.push_back(it->first);
    return it->second;
  };
  std::map<std::int64_t, std::uint32_t> group_of;
  std::unordered_map<std::uint64_t, std::int64_t> consumed;  // (group << 32 | record id) -> first op; lookups only
  std::vector<Case> out;
  for (const Op& op : v.h.ops()) {
    if (op.type != OpType::ok) continue;
    if (op.f == "assign" && op.value.is_object()) group_of[op.process] = group_id("group " + op.value.value("group", ""));
    if (op.f != "poll" && op.f != "txn") continue;
    const auto recs = v.records.polled(op);
    if (recs.empty()) continue;
    const auto g = group_of.find(op.process);
    const std::uint32_t gid = g != group_of.end() ? g->second : group_id(fmt::format("process {}", op.process));
    const std::string& group = groups[gid];
    for (const auto& r : recs) {
      const auto [it, fresh] = consumed.emplace(std::uint64_t{gid} << 32 | r.id, op.index);
      if (fresh) continue;
      out.push_back({Violation::safety("redelivery",
                                       fmt::format("{} consumed {} again (process {})", group, describe(r), op.process),
                                       {it->second, op.index}),
                     opt_tp(r.tp)});
    }
  }
  return out;
}

// --- the analyses, each computed once per view ------------------------------------------

template <class F>
std::vector<Case> memoized(const View& v, std::string key, F compute) {
  if (const auto it = v.memo.find(key); it != v.memo.end()) return it->second;
  std::vector<Case> cases = compute();
  v.memo.emplace(std::move(key), cases);
  return cases;
}

std::vector<Case> inconsistent_offsets(const View& v) {
  return memoized(v, "inconsistent-offsets", [&] { return compute_inconsistent_offsets(v); });
}
std::vector<Case> duplicate(const View& v) {
  return memoized(v, "duplicate", [&] { return compute_duplicate(v); });
}
std::vector<Case> poll_order(const View& v, bool skips, const json& options) {
  return memoized(v, fmt::format("poll-order {} {}", skips, options.dump()),
                  [&] { return compute_poll_order(v, skips, options); });
}
std::vector<Case> nonmonotonic_send(const View& v) {
  return memoized(v, "nonmonotonic-send", [&] { return compute_nonmonotonic_send(v); });
}
std::vector<Case> inside(const View& v, bool polls, bool skips) {
  return memoized(v, fmt::format("inside {} {}", polls, skips), [&] { return compute_inside(v, polls, skips); });
}
std::vector<Case> per_key_order(const View& v) {
  return memoized(v, "per-key-order", [&] { return compute_per_key_order(v); });
}
std::vector<Case> redelivery(const View& v) {
  return memoized(v, "redelivery", [&] { return compute_redelivery(v); });
}

Tp tp_of(ValueRef j) { return {j.value("topic", ""), j.value("partition", 0)}; }

std::vector<Case> committed_offset_regression(const History& h) {
  std::map<std::pair<std::string, Tp>, std::pair<std::int64_t, std::int64_t>> committed;  // -> (offset, op)
  std::vector<Case> out;
  for (const Op& op : h.ops()) {
    // Only these two read the group (a lookup and a string per op was most of this checker).
    if (op.f != "commit" && op.f != "reset-offsets") continue;
    if (!op.value.is_object()) continue;
    const std::string group = op.value.value("group", "");
    if (op.f == "reset-offsets" && op.type != OpType::invoke && op.type != OpType::fail) {
      for (auto it = committed.begin(); it != committed.end();)
        it = it->first.first == group ? committed.erase(it) : std::next(it);
      continue;
    }
    if (op.f != "commit" || op.type != OpType::ok || !op.value.contains("offsets") || !op.value["offsets"].is_array())
      continue;
    const bool reset = op.value.value("reset", false);
    for (const auto& o : op.value["offsets"]) {
      if (!o.is_object() || !o.contains("offset") || !o["offset"].is_number_integer()) continue;
      const Tp tp = tp_of(o);
      const std::int64_t offset = o["offset"].get<std::int64_t>();
      auto& slot = committed[{group, tp}];
      if (!reset && slot.second > 0 && offset < slot.first)
        out.push_back({Violation::safety("committed-offset-regression",
                                         fmt::format("group {} committed {} offset {} after offset {}", group,
                                                     name_of(tp), offset, slot.first),
                                         {slot.second - 1, op.index}),
                       tp});
      slot = {offset, op.index + 1};
    }
  }
  return out;
}

std::vector<Case> assignment_overlap(const History& h) {
  std::map<std::tuple<std::string, std::int64_t, Tp>, const Op*> owner;
  std::vector<Case> out;
  for (const Op& op : h.ops()) {
    if (op.f != "assign" || op.type != OpType::ok || !op.value.is_object() || !op.value.contains("partitions") ||
        !op.value["partitions"].is_array())
      continue;
    const std::string group = op.value.value("group", "");
    const std::int64_t generation = op.value.value("generation", std::int64_t{-1});
    for (const auto& p : op.value["partitions"]) {
      if (!p.is_object()) continue;
      const Tp tp = tp_of(p);
      const auto [it, fresh] = owner.emplace(std::tuple{group, generation, tp}, &op);
      if (fresh || it->second->process == op.process) continue;
      out.push_back({Violation::safety("assignment-overlap",
                                       fmt::format("group {} generation {} gave {} to process {} and process {}", group,
                                                   generation, name_of(tp), it->second->process, op.process),
                                       {it->second->index, op.index}),
                     tp});
    }
  }
  return out;
}

// A rebalance storm: after the last heal a group goes on making
// generations none of which consumes anything (option storm_generations,
// default 10, in a row up to the end of the run): its members polled no
// record between one generation's first assignment and the next.
std::vector<Case> rebalance_storm(const View& v, const Op& heal, const json& options) {
  const History& h = v.h;
  const std::int64_t limit = options.is_object() ? options.value("storm_generations", std::int64_t{10}) : 10;
  struct Streak {
    std::int64_t generation = -1;
    std::int64_t unproductive = 0;  // generations in a row that consumed nothing, the current one included
    const Op* first = nullptr;      // the first assignment of the streak
    const Op* last = nullptr;
    bool consumed = false;          // by the current generation
  };
  std::map<std::string, Streak> groups;
  std::map<std::int64_t, std::string> group_of;  // consumer process -> its group
  for (const Op& op : h.ops()) {
    if (op.type != OpType::ok || op.index < heal.index || !op.value.is_object()) continue;
    if (op.f == "assign") {
      const std::string group = op.value.value("group", "");
      group_of[op.process] = group;
      Streak& s = groups[group];
      const std::int64_t gen = op.value.value("generation", std::int64_t{-1});
      if (gen == s.generation && s.last) continue;
      if (s.consumed) s = Streak{};
      s.generation = gen;
      s.consumed = false;
      ++s.unproductive;
      if (!s.first) s.first = &op;
      s.last = &op;
    } else if (op.f == "poll" && !v.records.polled(op).empty()) {
      auto g = group_of.find(op.process);
      if (g == group_of.end()) continue;
      Streak& s = groups[g->second];
      s.consumed = true;
      s.unproductive = 0;
      s.first = nullptr;
    }
  }
  std::vector<Case> out;
  for (const auto& [group, s] : groups)
    if (!s.consumed && s.unproductive >= limit && s.first)
      out.push_back({Violation::liveness("liveness",
                                         fmt::format("group {} rebalanced {} times after the heal without consuming "
                                                     "(a rebalance storm)",
                                                     group, s.unproductive),
                                         {s.first->index, s.last->index}),
                     std::nullopt});
  return out;
}

bool is_heal(const Op& op) { return op.process == k_nemesis && (op.f == "heal-all" || op.f == "heal"); }

// liveness: after the last heal, every acknowledged record is consumed
// (within `within_ms` of the heal, or of its ack when that came later), and
// no group is in a rebalance storm (rebalance_storm).
std::vector<Case> liveness(const View& v, const json& options) {
  const Op* heal = nullptr;
  for (const Op& op : v.h.ops())
    if (is_heal(op)) heal = &op;
  if (!heal || v.h.ops().empty()) return {};
  const std::int64_t within_ms = options.is_object() ? options.value("within_ms", std::int64_t{-1}) : -1;
  const std::int64_t end_ns = v.h.ops().back().time_ns;
  std::vector<std::int64_t> read_at_ns(v.records.count(), -1);  // by record id; -1: never
  for (const Op& op : v.h.ops())
    if (op.type == OpType::ok)
      for (const auto& r : v.records.polled(op))
        if (read_at_ns[r.id] < 0) read_at_ns[r.id] = op.time_ns;
  std::vector<Case> out = rebalance_storm(v, *heal, options);
  for (std::uint32_t id = 0; id < v.writer.size(); ++id) {
    const Send* s = v.writer[id];
    if (!s || s->done->type != OpType::ok) continue;
    const std::int64_t acked_ns = s->done->time_ns;
    const std::int64_t from_ns = std::max(acked_ns, heal->time_ns);
    std::int64_t deadline_ns = end_ns;
    if (within_ms >= 0) {
      deadline_ns = from_ns + within_ms * 1'000'000;
      if (deadline_ns > end_ns) continue;  // the run ended before its bound
    }
    if (read_at_ns[id] >= 0 && read_at_ns[id] <= deadline_ns) continue;
    out.push_back({Violation::liveness(
                       "liveness",
                       within_ms >= 0
                           ? fmt::format("acknowledged {} was not consumed within {} ms after the heal", describe(s->rec),
                                         within_ms)
                           : fmt::format("acknowledged {} was not consumed after the heal", describe(s->rec)),
                       {s->done->index, heal->index}),
                   opt_tp(s->rec.tp)});
  }
  return out;
}

// The view shared by the checkers inside a SharedAnalysis scope: built on
// first use, for that history only (built again when it has grown).
struct Shared {
  const History* h = nullptr;
  std::size_t size = 0;
  std::unique_ptr<View> view;
};
thread_local Shared* shared = nullptr;

// The view of `h`: the shared one inside a scope over `h`, else `own`, built now.
const View& view_of(const History& h, std::optional<View>& own) {
  if (shared && shared->h == &h) {
    if (shared->size != h.size()) shared->view.reset(), shared->size = h.size();  // it grew: a new view
    if (!shared->view) shared->view = std::make_unique<View>(h);
    return *shared->view;
  }
  return own.emplace(h);
}

template <class F>
std::vector<Violation> over_view(const History& h, F f) {
  std::optional<View> own;
  const View& v = view_of(h, own);
  if (!v.kafka) return {};
  return strip(f(v));
}

}  // namespace

namespace {
thread_local const Snapshot* scoped_final_state = nullptr;  // a FinalState scope's

// The final state lost-write and unseen judge from: the option "snapshot"
// (a Snapshot as JSON) parsed into `parsed`, else a FinalState scope's for
// options that are an object, else none.
const Snapshot* final_state_of(const json& options, std::optional<Snapshot>& parsed) {
  if (!options.is_object()) return nullptr;
  if (options.contains("snapshot")) return &parsed.emplace(snapshot_from_json(options["snapshot"]));
  return scoped_final_state;
}
}  // namespace

FinalState::FinalState(const Snapshot& s) : previous_(scoped_final_state) { scoped_final_state = &s; }
FinalState::~FinalState() { scoped_final_state = previous_; }

std::vector<Violation> check_lost_write(const History& h, const json& o) {
  std::optional<Snapshot> parsed;
  const Snapshot* s = final_state_of(o, parsed);
  return over_view(h, [&](const View& v) { return lost_write(v, s); });
}
std::vector<Violation> check_unseen(const History& h, const json& o) {
  std::optional<Snapshot> parsed;
  const Snapshot* s = final_state_of(o, parsed);
  return over_view(h, [&](const View& v) { return unseen(v, s); });
}
std::vector<Violation> check_duplicate(const History& h, const json&) { return over_view(h, duplicate); }
std::vector<Violation> check_inconsistent_offsets(const History& h, const json&) {
  return over_view(h, inconsistent_offsets);
}
std::vector<Violation> check_poll_skip(const History& h, const json& o) {
  return over_view(h, [&](const View& v) { return poll_order(v, true, o); });
}
std::vector<Violation> check_nonmonotonic_poll(const History& h, const json& o) {
  return over_view(h, [&](const View& v) { return poll_order(v, false, o); });
}
std::vector<Violation> check_nonmonotonic_send(const History& h, const json&) {
  return over_view(h, nonmonotonic_send);
}
std::vector<Violation> check_int_poll_skip(const History& h, const json&) {
  return over_view(h, [](const View& v) { return inside(v, true, true); });
}
std::vector<Violation> check_int_nonmonotonic_poll(const History& h, const json&) {
  return over_view(h, [](const View& v) { return inside(v, true, false); });
}
std::vector<Violation> check_int_nonmonotonic_send(const History& h, const json&) {
  return over_view(h, [](const View& v) { return inside(v, false, false); });
}
std::vector<Violation> check_int_send_skip(const History& h, const json&) {
  return over_view(h, [](const View& v) { return inside(v, false, true); });
}
std::vector<Violation> check_precommitted_read(const History& h, const json&) {
  return over_view(h, precommitted_read);
}
std::vector<Violation> check_g1a(const History& h, const json&) { return over_view(h, g1a); }
std::vector<Violation> check_per_key_order(const History& h, const json&) { return over_view(h, per_key_order); }
std::vector<Violation> check_redelivery(const History& h, const json&) { return over_view(h, redelivery); }
std::vector<Violation> check_committed_offset_regression(const History& h, const json&) {
  return strip(committed_offset_regression(h));
}
std::vector<Violation> check_assignment_overlap(const History& h, const json&) {
  return strip(assignment_overlap(h));
}
std::vector<Violation> check_kafka_liveness(const History& h, const json& o) {
  return over_view(h, [&](const View& v) { return liveness(v, o); });
}

std::vector<Checker> kafka_checkers() {
  auto snapshot_checker = [](const History&, const json& o) {
    if (!o.is_object() || !o.contains("snapshot")) return std::vector<Violation>{};
    return check_replica_divergence(snapshot_from_json(o["snapshot"]));
  };
  return {
      {"lost-write",
       "an acknowledged record at or below the highest offset polled in its partition was never polled, or (option "
       "snapshot: the final state) is in no replica's log",
       check_lost_write},
      {"unseen",
       "an acknowledged record was never polled (liveness: nothing proves it lost; option snapshot: it is still in "
       "a replica's log)",
       check_unseen},
      {"duplicate", "one record at two offsets of its partition, or in two partitions", check_duplicate},
      {"inconsistent-offsets", "two different records reported at one offset of a partition",
       check_inconsistent_offsets},
      {"poll-skip", "a process's next poll of a partition skips records after its last one (forgotten on assign)",
       check_poll_skip},
      {"nonmonotonic-poll", "a process's next poll of a partition starts at or before its last one",
       check_nonmonotonic_poll},
      {"nonmonotonic-send", "a producer's later send lands at or before its earlier one in the log",
       check_nonmonotonic_send},
      {"int-poll-skip", "one poll skips records of a partition between two it returned", check_int_poll_skip},
      {"int-nonmonotonic-poll", "one poll returns a partition's records out of log order",
       check_int_nonmonotonic_poll},
      {"int-nonmonotonic-send", "one operation's sends land out of order in the log", check_int_nonmonotonic_send},
      {"int-send-skip", "other records land between two sends of one operation (normal for Kafka transactions)",
       check_int_send_skip},
      {"precommitted-read", "a transaction polls a record it sent itself", check_precommitted_read},
      {"G1a", "aborted read: a record whose send failed definitely was polled", check_g1a},
      {"per-key-order", "one producer's records of one key are consumed in another order than sent",
       check_per_key_order},
      {"redelivery", "one consumer group consumed one record twice (at-least-once, not at-most-once)",
       check_redelivery},
      {"committed-offset-regression", "a group's committed offset of a partition goes back without a reset",
       check_committed_offset_regression},
      {"assignment-overlap", "two members own one partition in one generation of a group", check_assignment_overlap},
      {"kafka-liveness",
       "after the last heal every acknowledged record is consumed (within option within_ms) and no group keeps "
       "rebalancing without consuming (option storm_generations)",
       check_kafka_liveness},
      {"replica-divergence", "two replicas differ below the high watermark (option snapshot: a Snapshot as JSON)",
       snapshot_checker},
  };
}

const std::vector<std::string>& kafka_checker_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& c : kafka_checkers()) n.push_back(c.name);
    return n;
  }();
  return names;
}

SharedAnalysis::SharedAnalysis(const History& h) {
  if (shared) return;  // an outer scope already shares (or another history is being judged)
  shared = new Shared{&h, h.size(), nullptr};
  owner_ = true;
}

SharedAnalysis::~SharedAnalysis() {
  if (!owner_) return;
  delete shared;
  shared = nullptr;
}

DeliverySummary delivery_summary(const History& h, const Snapshot* final_state) {
  std::optional<View> own;
  const View& v = view_of(h, own);
  DeliverySummary s;
  s.kafka = v.kafka;
  if (!v.kafka) return s;
  for (const Send* w : v.writer) s.acked += w && w->done->type == OpType::ok;
  for (const Position& p : v.first_read) s.consumed += p.op >= 0;
  const auto lost = lost_write(v, final_state), not_seen = unseen(v, final_state), dups = duplicate(v),
             again = redelivery(v);
  s.lost = static_cast<std::int64_t>(lost.size());
  s.unseen = static_cast<std::int64_t>(not_seen.size());
  s.duplicated = static_cast<std::int64_t>(dups.size());
  s.redelivered = static_cast<std::int64_t>(again.size());
  s.at_least_once = s.lost == 0 && s.unseen == 0;
  s.at_most_once = s.duplicated == 0 && s.redelivered == 0;
  std::map<Tp, PartitionOrder> parts;
  for (const auto& [tp, log] : v.logs)
    parts[tp] = {tp.topic, tp.partition, static_cast<std::int64_t>(log.offsets.size()), 0, 0};
  auto count = [&](const std::vector<Case>& cases, bool skip) {
    for (const auto& c : cases)
      if (c.tp && parts.count(*c.tp)) ++(skip ? parts[*c.tp].skips : parts[*c.tp].order_violations);
  };
  count(poll_order(v, false, json::object()), false);
  count(inside(v, true, false), false);
  count(nonmonotonic_send(v), false);
  count(inside(v, false, false), false);
  count(per_key_order(v), false);
  count(inconsistent_offsets(v), false);
  count(poll_order(v, true, json::object()), true);
  count(inside(v, true, true), true);
  for (auto& [tp, p] : parts) s.partitions.push_back(p);
  return s;
}

json to_json(const DeliverySummary& s) {
  if (!s.kafka) return nullptr;
  json parts = json::array();
  for (const auto& p : s.partitions)
    parts.push_back({{"topic", p.topic},
                     {"partition", p.partition},
                     {"records", p.records},
                     {"ordered", p.ordered()},
                     {"order_violations", p.order_violations},
                     {"skips", p.skips}});
  return {{"at_most_once", s.at_most_once},
          {"at_least_once", s.at_least_once},
          {"exactly_once", s.exactly_once()},
          {"acked", s.acked},
          {"consumed", s.consumed},
          {"lost", s.lost},
          {"unseen", s.unseen},
          {"duplicated", s.duplicated},
          {"redelivered", s.redelivered},
          {"partitions", parts}};
}

}  // namespace samsa::invariants
