// Transaction checkers (txn_checkers.h). Facts from Jepsen's Kafka workload
// (jepsen.tests.kafka: the version order of each partition from offsets,
// ww / wr edges between transactions, G0 and G1c found as cycles by Elle)
// and Adya's definitions (G0: a cycle of write dependencies; G1c: a cycle of
// write and read dependencies).
#include "invariants/txn_checkers.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "invariants/checker.h"

namespace samsa::invariants {

namespace {

using json = nlohmann::json;

struct Rec {
  std::string topic, value;
  std::optional<std::int32_t> partition;
  std::int64_t offset = -1;
};

using RecordId = std::pair<std::string, std::string>;  // (topic, value): unique per run

std::string text_of(ValueRef v) {
  if (v.is_string()) return std::string(v.str());
  if (v.is_null()) return "";
  return v.dump();
}

std::optional<Rec> record_of(ValueRef j) {
  if (!j.is_object() || !j.contains("value")) return std::nullopt;
  Rec r;
  r.topic = j.value("topic", "");
  r.value = text_of(j["value"]);
  if (const ValueRef p = j["partition"]; p.is_number_integer()) r.partition = p.get<std::int32_t>();
  if (const ValueRef o = j["offset"]; o.is_number_integer()) r.offset = o.get<std::int64_t>();
  return r;
}

std::vector<Rec> records(ValueRef v, const char* field) {
  std::vector<Rec> out;
  const ValueRef list = v[field];
  if (!list.is_array()) return out;
  for (const ValueRef j : list)
    if (auto r = record_of(j)) out.push_back(std::move(*r));
  return out;
}

std::vector<Rec> writes_of(const Op& op) {
  if (op.f == "txn") return records(op.value, "sends");
  if (op.f != "send") return {};
  if (op.value.is_object() && op.value.contains("records")) return records(op.value, "records");
  if (auto r = record_of(op.value)) return {std::move(*r)};
  return {};
}

std::vector<Rec> reads_of(const Op& op) {
  if (op.f == "txn") return records(op.value, "polls");
  if (op.f == "poll") return records(op.value, "records");
  return {};
}

enum class Edge : std::uint8_t { ww, wr };

// The graph of one history: nodes are op indexes.
struct Graph {
  std::map<std::int64_t, std::map<std::int64_t, Edge>> out;  // from -> to -> kind (ww wins over wr)
  std::set<std::int64_t> nodes;
  std::map<std::pair<std::int64_t, std::int64_t>, std::string> why;  // edge -> where it comes from
};

int rank(OpType t) { return t == OpType::ok ? 2 : t == OpType::info ? 1 : 0; }

// Who wrote each record (the best completion: ok, else info), which ops are
// nodes, and the version order of every partition.
struct Analysis {
  const History& h;
  std::map<RecordId, const Op*> writer;
  std::set<RecordId> read_by_any;
  std::map<Tp, std::map<std::int64_t, RecordId>> order;  // partition -> offset -> record
  std::set<std::int64_t> nodes;

  explicit Analysis(const History& hist) : h(hist) {
    for (const Op& op : h.ops()) {
      if (op.type == OpType::invoke) continue;
      for (const auto& r : reads_of(op)) {
        read_by_any.insert({r.topic, r.value});
        if (r.partition && r.offset >= 0) order[{r.topic, *r.partition}].emplace(r.offset, RecordId{r.topic, r.value});
      }
      if (op.type == OpType::fail) continue;
      for (const auto& r : writes_of(op)) {
        auto& w = writer[{r.topic, r.value}];
        if (!w || rank(op.type) > rank(w->type)) w = &op;
      }
    }
    for (const Op& op : h.ops()) {
      if (op.type == OpType::invoke || op.type == OpType::fail || (op.f != "txn" && op.f != "send")) continue;
      const auto ws = writes_of(op);
      bool happened = op.type == OpType::ok;
      for (const auto& r : ws) {
        if (!happened && read_by_any.count({r.topic, r.value})) happened = true;
      }
      if (!happened) continue;
      nodes.insert(op.index);
      // A transaction that happened happened whole (atomicity): every
      // write of it with a known offset is in the version order.
      for (const auto& r : ws)
        if (r.partition && r.offset >= 0) order[{r.topic, *r.partition}].emplace(r.offset, RecordId{r.topic, r.value});
    }
  }

  std::optional<std::int64_t> writer_node(const RecordId& id) const {
    auto it = writer.find(id);
    if (it == writer.end() || !nodes.count(it->second->index)) return std::nullopt;
    return it->second->index;
  }

  Graph graph(bool with_wr) const {
    Graph g;
    g.nodes = nodes;
    auto add = [&](std::int64_t a, std::int64_t b, Edge e, std::string why) {
      if (a == b) return;
      auto [it, fresh] = g.out[a].emplace(b, e);
      if (!fresh && e == Edge::ww) it->second = Edge::ww;
      if (fresh || e == Edge::ww) g.why[{a, b}] = std::move(why);
    };
    for (const auto& [tp, offsets] : order) {
      std::optional<std::pair<std::int64_t, std::int64_t>> prev;  // offset, writer node
      for (const auto& [offset, id] : offsets) {
        const auto w = writer_node(id);
        if (prev && w)
          add(prev->second, *w, Edge::ww,
              fmt::format("{}-{} offsets {} then {}", tp.topic, tp.partition, prev->first, offset));
        prev.reset();
        if (w) prev = std::make_pair(offset, *w);
      }
    }
    if (with_wr)
      for (const Op& op : h.ops()) {
        if (!nodes.count(op.index) || op.f != "txn") continue;
        for (const auto& r : reads_of(op))
          if (auto w = writer_node({r.topic, r.value}))
            add(*w, op.index, Edge::wr, fmt::format("polled {:?}", r.value));
      }
    return g;
  }
};

// Tarjan's strongly connected components (iterative), each sorted.
std::vector<std::vector<std::int64_t>> components(const Graph& g) {
  std::map<std::int64_t, int> index, low;
  std::set<std::int64_t> on_stack;
  std::vector<std::int64_t> stack;
  std::vector<std::vector<std::int64_t>> out;
  int next = 0;
  static const std::map<std::int64_t, Edge> k_none;
  for (std::int64_t root : g.nodes) {
    if (index.count(root)) continue;
    // (node, iterator position into its out-edges)
    std::vector<std::pair<std::int64_t, std::map<std::int64_t, Edge>::const_iterator>> work;
    auto enter = [&](std::int64_t v) {
      index[v] = low[v] = next++;
      stack.push_back(v);
      on_stack.insert(v);
      auto it = g.out.find(v);
      work.emplace_back(v, it == g.out.end() ? k_none.begin() : it->second.begin());
    };
    enter(root);
    while (!work.empty()) {
      auto& [v, it] = work.back();
      auto edges = g.out.find(v);
      const auto end = edges == g.out.end() ? k_none.end() : edges->second.end();
      if (it != end) {
        const std::int64_t w = it->first;
        ++it;
        if (!g.nodes.count(w)) continue;
        if (!index.count(w)) {
          enter(w);
        } else if (on_stack.count(w)) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      const std::int64_t done = v;
      work.pop_back();
      if (!work.empty()) low[work.back().first] = std::min(low[work.back().first], low[done]);
      if (low[done] == index[done]) {
        std::vector<std::int64_t> comp;
        for (;;) {
          const std::int64_t x = stack.back();
          stack.pop_back();
          on_stack.erase(x);
          comp.push_back(x);
          if (x == done) break;
        }
        std::sort(comp.begin(), comp.end());
        if (comp.size() > 1) out.push_back(std::move(comp));
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A shortest path from `from` to `to` inside `comp` (BFS); empty if none.
std::vector<std::int64_t> path(const Graph& g, const std::set<std::int64_t>& comp, std::int64_t from, std::int64_t to) {
  std::map<std::int64_t, std::int64_t> parent;
  std::deque<std::int64_t> q{from};
  parent[from] = from;
  while (!q.empty()) {
    const std::int64_t v = q.front();
    q.pop_front();
    if (v == to) break;
    auto it = g.out.find(v);
    if (it == g.out.end()) continue;
    for (const auto& [w, e] : it->second)
      if (comp.count(w) && !parent.count(w)) {
        parent[w] = v;
        q.push_back(w);
      }
  }
  if (!parent.count(to)) return {};
  std::vector<std::int64_t> p{to};
  while (p.back() != from) p.push_back(parent[p.back()]);
  std::reverse(p.begin(), p.end());
  return p;
}

std::string describe_cycle(const Graph& g, const std::vector<std::int64_t>& cycle) {
  std::string s;
  for (std::size_t i = 0; i < cycle.size(); ++i) {
    const std::int64_t a = cycle[i], b = cycle[(i + 1) % cycle.size()];
    const Edge e = g.out.at(a).at(b);
    s += fmt::format("{}op {} <{} op {} ({})", i ? ", " : "", a, e == Edge::ww ? "ww" : "wr", b, g.why.at({a, b}));
  }
  return s;
}

std::vector<Violation> cycles(const History& h, bool g1c) {
  const Analysis a(h);
  const Graph g = a.graph(g1c);
  std::vector<Violation> out;
  for (const auto& comp : components(g)) {
    const std::set<std::int64_t> in(comp.begin(), comp.end());
    // G1c needs a wr edge on the cycle: close the cycle through one.
    std::optional<std::pair<std::int64_t, std::int64_t>> start;
    for (std::int64_t v : comp) {
      auto it = g.out.find(v);
      if (it == g.out.end()) continue;
      for (const auto& [w, e] : it->second)
        if (in.count(w) && (!g1c || e == Edge::wr) && !start) start = std::make_pair(v, w);
    }
    if (!start) continue;  // a G1c component of ww edges only: that is G0's
    std::vector<std::int64_t> cycle = path(g, in, start->second, start->first);
    if (cycle.empty()) continue;
    cycle.insert(cycle.begin(), start->first);
    cycle.pop_back();  // the path ends where it started
    std::vector<std::int64_t> ops = cycle;
    std::sort(ops.begin(), ops.end());
    out.push_back(Violation::safety(g1c ? "G1c" : "G0",
                                    fmt::format("{} over {} transactions: {}",
                                                g1c ? "circular information flow" : "write cycle", cycle.size(),
                                                describe_cycle(g, cycle)),
                                    ops));
  }
  return out;
}

}  // namespace

std::vector<Violation> check_g0(const History& h, const json&) { return cycles(h, false); }
std::vector<Violation> check_g1c(const History& h, const json&) { return cycles(h, true); }

std::vector<Violation> check_exactly_once(const History& h, const json&) {
  const Analysis a(h);
  // input record -> the committed transactions that consumed it
  std::map<RecordId, std::vector<std::int64_t>> consumers;
  for (const Op& op : h.ops()) {
    if (op.f != "txn" || !a.nodes.count(op.index)) continue;
    std::set<RecordId> seen;
    for (const auto& r : reads_of(op))
      if (seen.insert({r.topic, r.value}).second) consumers[{r.topic, r.value}].push_back(op.index);
  }
  std::vector<Violation> out;
  for (const auto& [id, ops] : consumers) {
    if (ops.size() < 2) continue;
    out.push_back(Violation::safety(
        "exactly-once",
        fmt::format("{} from {} was consumed by {} committed transactions (ops {})", id.second, id.first, ops.size(),
                    fmt::join(ops, ", ")),
        ops));
  }
  return out;
}

std::vector<Checker> txn_checkers() {
  return {
      {"G0", "write cycle: transactions whose writes order each other both ways in the partitions' logs", check_g0},
      {"G1c", "circular information flow: a cycle of write and read dependencies between transactions", check_g1c},
      {"exactly-once", "one input record consumed by two transactions that committed (consume-transform-produce)",
       check_exactly_once},
  };
}

}  // namespace samsa::invariants
