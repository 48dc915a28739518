// The built-in history checkers and the registry that names them.
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "invariants/checker.h"
#include "invariants/kafka_checkers.h"
#include "invariants/mirror_checker.h"
#include "invariants/txn_checkers.h"

namespace samsa::invariants {

namespace {

// A value per process id, in a vector: process ids are small and dense
// (History::new_process), and checkers look them up once per operation.
template <class T>
class ProcessTable {
 public:
  explicit ProcessTable(const History& h) {
    // Ids from a file may be anything: beyond a bound, fall back to a map.
    values_.resize(static_cast<std::size_t>(std::min<std::int64_t>(h.process_count(), 1 << 22)));
  }
  T& operator[](std::int64_t process) {
    if (process >= 0 && static_cast<std::size_t>(process) < values_.size())
      return values_[static_cast<std::size_t>(process)];
    return overflow_[process];
  }

 private:
  std::vector<T> values_;
  std::map<std::int64_t, T> overflow_;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

// A deque: pointers to its elements stay valid as checkers are added.
std::deque<Checker>& registry() {
  static std::deque<Checker> all = {
      {"well-formed",
       "every ok/fail/info has a pending invoke of the same process and f; a process has at "
       "most one pending invoke; indexes increase and time does not go back",
       check_well_formed},
      {"echo",
       "selftest/pingpong's echoes: one answered twice on a connection is a duplicate, one "
       "answered with another request's number is per-key-order",
       check_echo},
      {"echo-liveness",
       "after the last heal every pair of nodes that tried to connect completes an echo",
       check_echo_liveness},
      {"election-safety",
       "one broker per controller epoch; epochs claimed over time increase; no broker reads "
       "a controller epoch below one it read before",
       check_election_safety},
      {"election-liveness",
       "after the heal exactly one broker holds the controllership, with the latest epoch, "
       "and /controller names it",
       check_election_liveness},
  };
  static const bool kafka_added = [] {
    for (auto& c : kafka_checkers()) all.push_back(std::move(c));
    for (auto& c : txn_checkers()) all.push_back(std::move(c));
    all.push_back({"mirror",
                   "a MirrorMaker copy, at-least-once: every acknowledged source record in the target topic "
                   "(mirror-lost; lost-write when the source lost it), first copies in source order per partition "
                   "(mirror-order), no phantom values, duplicates counted (duplicate), caught up within_ms after "
                   "the heal (mirror-lag)",
                   check_mirror});
    return true;
  }();
  (void)kafka_added;
  return all;
}

}  // namespace

std::vector<Checker> checkers() {
  std::lock_guard lock(registry_mutex());
  std::vector<Checker> v(registry().begin(), registry().end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return v;
}

const Checker* find_checker(std::string_view name) {
  std::lock_guard lock(registry_mutex());
  for (const Checker& c : registry())
    if (c.name == name) return &c;
  return nullptr;
}

void register_checker(Checker c) {
  std::lock_guard lock(registry_mutex());
  for (Checker& existing : registry())
    if (existing.name == c.name) {
      existing = std::move(c);
      return;
    }
  registry().push_back(std::move(c));
}

std::vector<Violation> run_checkers(const History& h, const std::vector<std::string>& names,
                                    const nlohmann::json& options) {
  std::vector<Violation> out;
  const SharedAnalysis one_analysis(h);  // the Kafka checkers read one view of h
  auto run = [&](const Checker& c) {
    // A reference, not a copy: lost-write's and unseen's options hold the
    // whole final snapshot.
    static const nlohmann::json no_options = nlohmann::json::object();
    const nlohmann::json& o = options.contains(c.name) ? options[c.name] : no_options;
    for (auto& v : c.check(h, o)) out.push_back(std::move(v));
  };
  if (names.empty()) {
    for (const Checker& c : checkers()) run(c);
  } else {
    for (const auto& n : names) {
      const Checker* c = find_checker(n);
      SAMSA_ASSERT(c != nullptr, "scenario names an unknown checker (validated at parse time)");
      run(*c);
    }
  }
  return out;
}

// --- well-formed ---------------------------------------------------------------

std::vector<Violation> check_well_formed(const History& h, const nlohmann::json&) {
  std::vector<Violation> out;
  ProcessTable<const Op*> pending(h);  // process -> its pending invoke
  const Op* prev = nullptr;
  for (const Op& op : h.ops()) {
    if (prev && op.index <= prev->index)
      out.push_back(Violation::safety(
          "malformed-history", fmt::format("index {} follows index {}", op.index, prev->index),
          {prev->index, op.index}));
    if (prev && op.time_ns < prev->time_ns)
      out.push_back(Violation::safety("malformed-history",
                                      fmt::format("time goes back from {} ns to {} ns",
                                                  prev->time_ns, op.time_ns),
                                      {prev->index, op.index}));
    prev = &op;
    if (op.process == k_nemesis) continue;
    const Op*& slot = pending[op.process];
    if (op.type == OpType::invoke) {
      if (slot)
        out.push_back(Violation::safety(
            "malformed-history",
            fmt::format("process {} invokes {} while its {} is pending", op.process, op.f,
                        slot->f),
            {slot->index, op.index}));
      slot = &op;
      continue;
    }
    if (!slot) {
      out.push_back(Violation::safety(
          "malformed-history",
          fmt::format("{} {} of process {} has no pending invoke", to_string(op.type), op.f,
                      op.process),
          {op.index}));
      continue;
    }
    if (slot->f != op.f)
      out.push_back(Violation::safety(
          "malformed-history",
          fmt::format("{} {} of process {} completes an invoke of {}", to_string(op.type), op.f,
                      op.process, slot->f),
          {slot->index, op.index}));
    slot = nullptr;
  }
  return out;
}

// --- echo (selftest/pingpong) -----------------------------------------------------
//
// A client process per connection: invoke/ok "connect" {"from","to"}, then
// invoke "echo" with the sequence number sent and ok "echo" with the one that
// came back (info when the connection broke first).

namespace {

// Sequence numbers of one connection count from 1: a vector indexed by the
// number holds each one's first answer (index + 1; 0 for none), a map the
// rest.
class FirstAnswers {
 public:
  std::int64_t& operator[](std::int64_t seq) {
    if (seq >= 0 && seq < (1 << 20)) {
      if (static_cast<std::size_t>(seq) >= dense_.size()) dense_.resize(static_cast<std::size_t>(seq) * 2 + 16);
      return dense_[static_cast<std::size_t>(seq)];
    }
    return sparse_[seq];
  }

 private:
  std::vector<std::int64_t> dense_;
  std::map<std::int64_t, std::int64_t> sparse_;
};

// An echo's number; a recorded one is signed, one read from a file unsigned.
std::optional<std::int64_t> sequence_number(ValueRef v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return std::nullopt;
}

}  // namespace

// One pass: an answer seen before on the connection is a duplicate; any other
// answer that is not the number sent is out of order.
std::vector<Violation> check_echo(const History& h, const nlohmann::json&) {
  std::vector<Violation> out;
  ProcessTable<const Op*> pending(h);
  ProcessTable<std::unique_ptr<FirstAnswers>> answers(h);
  for (const Op& op : h.ops()) {
    if (op.process == k_nemesis || op.f != "echo") continue;
    const Op*& invoke = pending[op.process];
    if (op.type == OpType::invoke) {
      invoke = &op;
      continue;
    }
    const Op* sent = invoke;
    invoke = nullptr;
    if (op.type != OpType::ok || !sent) continue;  // well-formed reports a missing invoke
    bool repeat = false;
    const std::optional<std::int64_t> got = sequence_number(op.value);
    if (got) {
      auto& table = answers[op.process];
      if (!table) table = std::make_unique<FirstAnswers>();
      std::int64_t& first = (*table)[*got];
      repeat = first != 0;
      if (repeat)
        out.push_back(Violation::safety(
            "duplicate",
            fmt::format("process {} got the echo of {} twice", op.process, op.value.dump()),
            {first - 1, op.index}));
      else
        first = op.index + 1;
    }
    const std::optional<std::int64_t> sent_seq = sequence_number(sent->value);
    const bool same = got && sent_seq ? *got == *sent_seq : op.value == sent->value;
    if (!repeat && !same)
      out.push_back(Violation::safety(
          "per-key-order",
          fmt::format("process {} sent {} and got back {}", op.process, sent->value.dump(),
                      op.value.dump()),
          {sent->index, op.index}));
  }
  return out;
}

namespace {

// The time of the last "heal everything" nemesis op, if any.
std::optional<const Op*> last_heal(const History& h) {
  std::optional<const Op*> heal;
  for (const Op& op : h.ops())
    if (op.process == k_nemesis && op.f == "heal-all") heal = &op;
  return heal;
}

}  // namespace

std::vector<Violation> check_echo_liveness(const History& h, const nlohmann::json& options) {
  const auto heal = last_heal(h);
  if (!heal) return {};
  const std::int64_t from_ns = (*heal)->time_ns;
  const std::int64_t within_ns =
      (options.is_object() ? options.value("within_ms", std::int64_t{-1}) : std::int64_t{-1}) * 1'000'000;
  using Link = std::pair<std::string, std::string>;
  // Each link tried, and whether it was answered in time; a process points at
  // its link's flag, so an answer costs no string compare.
  std::map<Link, bool> answered;
  ProcessTable<bool*> link_of(h);
  for (const Op& op : h.ops()) {
    if (op.process == k_nemesis) continue;
    if (op.type == OpType::invoke && op.f == "connect" && op.value.is_object())
      link_of[op.process] =
          &answered.try_emplace({op.value.value("from", ""), op.value.value("to", "")}, false)
               .first->second;
    if (op.type == OpType::ok && op.time_ns >= from_ns &&
        (within_ns < 0 || op.time_ns <= from_ns + within_ns) && op.f == "echo")
      if (bool* flag = link_of[op.process]) *flag = true;
  }
  std::vector<Violation> out;
  for (const auto& [p, done] : answered)
    if (!done)
      out.push_back(Violation::liveness(
          "liveness",
          within_ns < 0 ? fmt::format("no echo {} -> {} after the heal", p.first, p.second)
                        : fmt::format("no echo {} -> {} within {} ms after the heal", p.first,
                                      p.second, within_ns / 1'000'000),
          {(*heal)->index}));
  return out;
}

// --- controller election (coord/controller-election) --------------------------------
//
// A broker session is a process: invoke "elect" {"broker"} then ok {"broker",
// "epoch"} (it won) or fail (it did not); info "resign" {"broker"} when the
// session or the broker ended; invoke/ok "read-epoch" {"broker","epoch"}. After
// the heal an observer records ok "read-controller" {"broker": id or null}.

std::vector<Violation> check_election_safety(const History& h, const nlohmann::json&) {
  std::vector<Violation> out;
  std::map<std::int64_t, const Op*> holder_of;  // epoch -> the elect ok
  std::map<std::int64_t, const Op*> last_read;  // broker -> highest read-epoch ok
  const Op* last_claim = nullptr;
  for (const Op& op : h.ops()) {
    if (op.type != OpType::ok || !op.value.is_object()) continue;
    const std::int64_t broker = op.value.value("broker", std::int64_t{-1});
    const std::int64_t epoch = op.value.value("epoch", std::int64_t{-1});
    if (op.f == "elect") {
      const auto [it, fresh] = holder_of.emplace(epoch, &op);
      if (!fresh && it->second->value.value("broker", std::int64_t{-1}) != broker)
        out.push_back(Violation::safety(
            "split-brain",
            fmt::format("controller epoch {} won by broker {} and by broker {}", epoch,
                        it->second->value.value("broker", std::int64_t{-1}), broker),
            {it->second->index, op.index}));
      if (last_claim && epoch <= last_claim->value.value("epoch", std::int64_t{-1}))
        out.push_back(Violation::safety(
            "nonmonotonic-epoch",
            fmt::format("broker {} won epoch {} after epoch {} was won", broker, epoch,
                        last_claim->value.value("epoch", std::int64_t{-1})),
            {last_claim->index, op.index}));
      if (!last_claim || epoch > last_claim->value.value("epoch", std::int64_t{-1}))
        last_claim = &op;
    } else if (op.f == "read-epoch") {
      const auto it = last_read.find(broker);
      if (it != last_read.end() && epoch < it->second->value.value("epoch", std::int64_t{-1}))
        out.push_back(Violation::safety(
            "epoch-regression",
            fmt::format("broker {} read controller epoch {} after reading {}", broker, epoch,
                        it->second->value.value("epoch", std::int64_t{-1})),
            {it->second->index, op.index}));
      if (it == last_read.end() || epoch > it->second->value.value("epoch", std::int64_t{-1}))
        last_read[broker] = &op;
    }
  }
  return out;
}

std::vector<Violation> check_election_liveness(const History& h, const nlohmann::json&) {
  const Op* observed = nullptr;  // the last read-controller ok
  for (const Op& op : h.ops())
    if (op.f == "read-controller" && op.type == OpType::ok) observed = &op;
  if (!observed) {
    for (const Op& op : h.ops())
      if (op.f == "elect")
        return {Violation::liveness("liveness", "the controller was never read after the heal")};
    return {};
  }
  std::map<std::int64_t, const Op*> holding;  // broker -> its elect ok, until it resigns
  std::int64_t max_epoch = 0;
  for (const Op& op : h.ops()) {
    if (op.index >= observed->index) break;
    if (!op.value.is_object()) continue;
    const std::int64_t broker = op.value.value("broker", std::int64_t{-1});
    if (op.f == "elect" && op.type == OpType::ok) {
      holding[broker] = &op;
      max_epoch = std::max(max_epoch, op.value.value("epoch", std::int64_t{0}));
    }
    if (op.f == "resign") holding.erase(broker);
  }
  if (holding.size() != 1) {
    std::vector<std::int64_t> ops = {observed->index};
    for (const auto& [b, op] : holding) ops.push_back(op->index);
    return {Violation::liveness(
        "liveness", fmt::format("{} brokers hold the controllership after the heal", holding.size()),
        ops)};
  }
  const auto [broker, elected] = *holding.begin();
  std::vector<Violation> out;
  const std::int64_t epoch = elected->value.value("epoch", std::int64_t{0});
  if (epoch != max_epoch)
    out.push_back(Violation::liveness(
        "liveness",
        fmt::format("controller {} holds epoch {}, not the latest {}", broker, epoch, max_epoch),
        {elected->index}));
  const bool has_named = observed->value.contains("broker");
  const ValueRef named = observed->value["broker"];
  if (!has_named || !named.is_number_integer() || named.get<std::int64_t>() != broker)
    out.push_back(Violation::liveness(
        "liveness",
        fmt::format("/controller names {} after the heal, not broker {}",
                    !has_named ? "nobody" : named.dump(), broker),
        {elected->index, observed->index}));
  return out;
}

}  // namespace samsa::invariants
