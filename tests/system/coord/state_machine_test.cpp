// Model-based test of the coordinator's state machine: random sequences of
// writes, reads, session opens/expiries, snapshots and crash-recoveries run
// against StateMachine and against a deliberately naive model (a flat map
// of paths; children found by scanning), comparing every result and Stat.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>
#include <rapidcheck/state.h>

#include <fmt/format.h>

#include <map>
#include <set>

#include "system/coord/state_machine.h"

using namespace samsa;
using namespace samsa::coord;

namespace {

struct MNode {
  std::string data;
  Stat stat;
};

struct Model {
  std::map<std::string, MNode> nodes = {{"/", {}}, {"/zookeeper", {}},
                                        {"/zookeeper/quota", {}}, {"/zookeeper/config", {}}};
  std::set<SessionId> sessions;
  SessionId next_session = 1;
  Zxid zxid = 0;

  std::vector<std::string> children(const std::string& path) const {
    std::vector<std::string> out;
    for (const auto& [p, n] : nodes)
      if (p != "/" && parent_of(p) == path) out.push_back(p.substr(p.rfind('/') + 1));
    return out;
  }
  Stat stat(const std::string& path) const {
    Stat s = nodes.at(path).stat;
    s.num_children = static_cast<std::int32_t>(children(path).size());
    s.data_length = static_cast<std::int32_t>(nodes.at(path).data.size());
    return s;
  }
};

struct Sut {
  StateMachine sm;
  Bytes snapshot;            // the last snapshot taken
  std::vector<Txn> log;      // transactions since it
  Sut() { take_snapshot(); }
  void take_snapshot() {
    JuteWriter w;
    sm.encode(w);
    snapshot = w.finish();
    log.clear();
  }
  TxnResult apply(Txn t) {
    log.push_back(t);
    return sm.apply(t);
  }
};

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string str_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

const std::vector<std::string> k_paths = {"/a", "/b", "/a/a", "/a/b", "/b/a", "/a/a/a",
                                          "/a/b/a", "/", "/zookeeper", "bad", "/a/", "/a//b"};

rc::Gen<std::string> gen_path(const Model& m) {
  std::vector<std::string> existing;
  for (const auto& [p, n] : m.nodes) existing.push_back(p);
  return rc::gen::oneOf(rc::gen::elementOf(k_paths), rc::gen::elementOf(existing));
}

rc::Gen<std::int32_t> gen_version() { return rc::gen::inRange<std::int32_t>(-1, 3); }

// --- the model's semantics, written plainly -----------------------------------

Code model_create(Model& m, const CreateOp& op, SessionId s, OpResult& r) {
  const bool seq = is_sequential(op.mode);
  if (op.path.find('/') == std::string::npos) return Code::bad_arguments;
  const std::string parent = parent_of(op.path);
  if (!m.nodes.count(parent)) return Code::no_node;
  std::string path = op.path;
  if (seq) path += fmt::format("{:010}", m.nodes[parent].stat.cversion);
  if (!valid_path(path)) return Code::bad_arguments;
  if (m.nodes.count(path)) return Code::node_exists;
  if (m.nodes[parent].stat.ephemeral_owner != 0) return Code::no_children_for_ephemerals;
  if (is_ephemeral(op.mode) && !m.sessions.count(s)) return Code::session_expired;
  MNode n;
  n.data = str_of(op.data);
  n.stat.czxid = n.stat.mzxid = n.stat.pzxid = m.zxid;
  n.stat.ctime = n.stat.mtime = m.zxid * 10;
  n.stat.ephemeral_owner = is_ephemeral(op.mode) ? s : 0;
  m.nodes[path] = n;
  m.nodes[parent].stat.cversion += 1;
  m.nodes[parent].stat.pzxid = m.zxid;
  r.path = path;
  r.stat = m.stat(path);
  return Code::ok;
}

Code model_delete(Model& m, const std::string& path, std::int32_t version) {
  if (path.find('/') == std::string::npos || path == "/" || path == "/zookeeper" ||
      path == "/zookeeper/quota" || path == "/zookeeper/config")
    return Code::bad_arguments;
  if (!m.nodes.count(path)) return Code::no_node;
  if (version != -1 && version != m.nodes[path].stat.version) return Code::bad_version;
  if (!m.children(path).empty()) return Code::not_empty;
  m.nodes.erase(path);
  m.nodes[parent_of(path)].stat.cversion += 1;
  m.nodes[parent_of(path)].stat.pzxid = m.zxid;
  return Code::ok;
}

Code model_sub(Model& m, const SubOp& op, SessionId s, OpResult& r) {
  if (auto* c = std::get_if<CreateOp>(&op)) {
    r.type = c->with_stat ? OpCode::create2 : OpCode::create;
    return model_create(m, *c, s, r);
  }
  if (auto* d = std::get_if<DeleteOp>(&op)) {
    r.type = OpCode::remove;
    return model_delete(m, d->path, d->version);
  }
  const bool is_set = std::holds_alternative<SetDataOp>(op);
  const std::string& path = is_set ? std::get<SetDataOp>(op).path : std::get<CheckOp>(op).path;
  const std::int32_t version = is_set ? std::get<SetDataOp>(op).version : std::get<CheckOp>(op).version;
  r.type = is_set ? OpCode::set_data : OpCode::check;
  if (!valid_path(path)) return Code::bad_arguments;
  if (!m.nodes.count(path)) return Code::no_node;
  if (version != -1 && version != m.nodes[path].stat.version) return Code::bad_version;
  if (!is_set) return Code::ok;
  MNode& n = m.nodes[path];
  n.data = str_of(std::get<SetDataOp>(op).data);
  n.stat.version += 1;
  n.stat.mzxid = m.zxid;
  n.stat.mtime = m.zxid * 10;
  r.stat = m.stat(path);
  return Code::ok;
}

rc::Gen<SubOp> gen_sub_op(const Model& m) {
  std::vector<SessionId> live(m.sessions.begin(), m.sessions.end());
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::tuple(gen_path(m), rc::gen::element<std::string>("", "x", "yy"),
                                  rc::gen::inRange(0, 4), rc::gen::arbitrary<bool>()),
                   [](const auto& t) {
                     auto [path, data, mode, with_stat] = t;
                     return SubOp{CreateOp{path, bytes_of(data), static_cast<CreateMode>(mode),
                                           with_stat}};
                   }),
      rc::gen::map(rc::gen::tuple(gen_path(m), gen_version()),
                   [](const auto& t) { return SubOp{DeleteOp{std::get<0>(t), std::get<1>(t)}}; }),
      rc::gen::map(rc::gen::tuple(gen_path(m), rc::gen::element<std::string>("", "v", "ww"),
                                  gen_version()),
                   [](const auto& t) {
                     return SubOp{SetDataOp{std::get<0>(t), bytes_of(std::get<1>(t)),
                                            std::get<2>(t)}};
                   }),
      rc::gen::map(rc::gen::tuple(gen_path(m), gen_version()),
                   [](const auto& t) { return SubOp{CheckOp{std::get<0>(t), std::get<1>(t)}}; }));
}

rc::Gen<SessionId> gen_session(const Model& m) {
  std::vector<SessionId> ids(m.sessions.begin(), m.sessions.end());
  ids.push_back(99);  // never opened
  return rc::gen::elementOf(ids);
}

using Command = rc::state::Command<Model, Sut>;

std::string describe(const SubOp& op) {
  return std::visit(
      [](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, CreateOp>)
          return fmt::format("create {} mode {} stat {}", o.path, static_cast<int>(o.mode), o.with_stat);
        else if constexpr (std::is_same_v<T, DeleteOp>)
          return fmt::format("delete {} v{}", o.path, o.version);
        else if constexpr (std::is_same_v<T, SetDataOp>)
          return fmt::format("set {} v{}", o.path, o.version);
        else
          return fmt::format("check {} v{}", o.path, o.version);
      },
      op);
}

void check_same(const OpResult& got, const OpResult& want) {
  RC_ASSERT(static_cast<int>(got.err) == static_cast<int>(want.err));
  RC_ASSERT(static_cast<int>(got.type) == static_cast<int>(want.type));
  if (want.err != Code::ok) return;
  RC_ASSERT(got.path == want.path);
  if (want.type == OpCode::create2 || want.type == OpCode::set_data) RC_ASSERT(got.stat == want.stat);
}

struct SingleWrite : Command {
  SubOp op;
  SessionId session;
  explicit SingleWrite(const Model& m) : op(*gen_sub_op(m)), session(*gen_session(m)) {}

  OpResult expect(Model& m) const {
    m.zxid += 1;
    OpResult r;
    r.err = model_sub(m, op, session, r);
    if (r.err != Code::ok) r.path.clear();
    return r;
  }
  void apply(Model& m) const override {
    Model copy = m;
    OpResult r = expect(copy);
    if (r.err == Code::ok) m = copy;
    else m.zxid += 1;  // a failed write, too, takes a zxid
  }
  void run(const Model& m, Sut& sut) const override {
    Model copy = m;
    const OpResult want = expect(copy);
    const TxnResult got = sut.apply(Txn{m.zxid + 1, (m.zxid + 1) * 10, session, std::visit(
        [](const auto& o) { return WriteOp{o}; }, op)});
    RC_ASSERT(static_cast<int>(got.err) == static_cast<int>(want.err));
    check_same(got.single, want);
  }
  void show(std::ostream& os) const override {
    os << describe(op) << " by session " << session;
  }
};

struct Multi : Command {
  std::vector<SubOp> ops;
  SessionId session;
  explicit Multi(const Model& m)
      : ops(*rc::gen::resize(4, rc::gen::container<std::vector<SubOp>>(gen_sub_op(m)))),
        session(*gen_session(m)) {}

  std::vector<OpResult> expect(Model& m) const {
    m.zxid += 1;
    Model scratch = m;
    std::vector<OpResult> out;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      OpResult r;
      r.err = model_sub(scratch, ops[i], session, r);
      if (r.err == Code::ok) {
        if (r.type == OpCode::create2) r.type = OpCode::create;  // as ZooKeeper 3.8 reports it
        out.push_back(r);
        continue;
      }
      out.clear();
      for (std::size_t j = 0; j < ops.size(); ++j)
        out.push_back({OpCode::error, j < i ? Code::ok : j == i ? r.err : Code::runtime_inconsistency, {}, {}});
      return out;
    }
    m = scratch;
    return out;
  }
  void apply(Model& m) const override { (void)expect(m); }
  void run(const Model& m, Sut& sut) const override {
    Model copy = m;
    const auto want = expect(copy);
    const TxnResult got = sut.apply(Txn{m.zxid + 1, (m.zxid + 1) * 10, session, MultiOp{ops}});
    RC_ASSERT(got.err == Code::ok);
    RC_ASSERT(got.multi.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) check_same(got.multi[i], want[i]);
  }
  void show(std::ostream& os) const override { 
    os << "multi by session " << session << ":";
    for (const auto& op : ops) os << " [" << describe(op) << "]";
  }
};

struct OpenSession : Command {
  void apply(Model& m) const override {
    m.zxid += 1;
    m.sessions.insert(m.next_session++);
  }
  void run(const Model& m, Sut& sut) const override {
    auto r = sut.apply(Txn{m.zxid + 1, 0, m.next_session, CreateSessionOp{6000, Bytes(16, 7)}});
    RC_ASSERT(r.err == Code::ok);
    RC_ASSERT(sut.sm.has_session(m.next_session));
  }
  void show(std::ostream& os) const override { os << "open session"; }
};

struct ExpireSession : Command {
  SessionId session;
  explicit ExpireSession(const Model& m) : session(*gen_session(m)) {}
  void apply(Model& m) const override {
    m.zxid += 1;
    if (!m.sessions.erase(session)) return;
    for (auto it = m.nodes.begin(); it != m.nodes.end();) {
      if (it->second.stat.ephemeral_owner != session) {
        ++it;
        continue;
      }
      Stat& parent = m.nodes[parent_of(it->first)].stat;
      parent.cversion += 1;
      parent.pzxid = m.zxid;
      it = m.nodes.erase(it);
    }
  }
  void run(const Model& m, Sut& sut) const override {
    auto r = sut.apply(Txn{m.zxid + 1, 0, session, CloseSessionOp{}});
    RC_ASSERT(r.err == Code::ok);
    RC_ASSERT(!sut.sm.has_session(session));
  }
  void show(std::ostream& os) const override { os << "expire session " << session; }
};

// Reads the whole tree through the read API and compares it with the model.
struct ReadAll : Command {
  void run(const Model& m, Sut& sut) const override {
    for (const auto& path : k_paths) {
      if (m.nodes.count(path)) continue;
      auto got = sut.sm.exists(0, path, false);
      RC_ASSERT(!got.ok());
      RC_ASSERT(got.error() == Code::no_node);
    }
    for (const auto& [path, n] : m.nodes) {
      auto data = sut.sm.get_data(0, path, false);
      RC_ASSERT(data.ok());
      RC_ASSERT(str_of(data->data) == n.data);
      RC_ASSERT(data->stat == m.stat(path));
      auto kids = sut.sm.get_children(0, path, false);
      RC_ASSERT(kids.ok());
      RC_ASSERT(kids->children == m.children(path));
    }
    RC_ASSERT(sut.sm.nodes().size() == m.nodes.size());
    RC_ASSERT(sut.sm.last_zxid() == m.zxid);
    RC_ASSERT(sut.sm.sessions().size() == m.sessions.size());
  }
  void show(std::ostream& os) const override { os << "read all"; }
};

struct Snapshot : Command {
  void run(const Model&, Sut& sut) const override { sut.take_snapshot(); }
  void show(std::ostream& os) const override { os << "snapshot"; }
};

// The server crashes: the state is rebuilt from the last snapshot and the
// transactions logged since, and must be exactly what it was.
struct CrashRecover : Command {
  void run(const Model&, Sut& sut) const override {
    JuteReader r(sut.snapshot);
    auto restored = StateMachine::decode(r);
    RC_ASSERT(restored.ok());
    for (const Txn& t : sut.log) (void)restored->apply(t);
    RC_ASSERT(restored->same_state(sut.sm));
    sut.sm = std::move(*restored);
  }
  void show(std::ostream& os) const override { os << "crash and recover"; }
};

}  // namespace

TEST_CASE("state machine matches the model: tree, stats, multi, sessions, recovery",
          "[coord]") {
  rc::prop("every result, Stat and child list equals the model's", [] {
    Model model;
    Sut sut;
    rc::state::check(model, sut,
                     rc::state::gen::execOneOfWithArgs<SingleWrite, SingleWrite, Multi, OpenSession,
                                                       ExpireSession, ReadAll, Snapshot,
                                                       CrashRecover>());
  });
}

TEST_CASE("a failed multi fires no watch and leaves every watch set", "[coord][watch]") {
  StateMachine sm;
  Zxid z = 0;
  auto apply = [&](WriteOp op, SessionId s = 1) { return sm.apply(Txn{++z, 0, s, std::move(op)}); };
  (void)apply(CreateSessionOp{4000, {}});
  (void)apply(CreateOp{"/p", {}});
  (void)apply(CreateOp{"/p/c", {}});
  REQUIRE(sm.get_data(1, "/p/c", true).ok());
  REQUIRE(sm.get_children(1, "/p", true).ok());
  REQUIRE(sm.exists(1, "/p/new", true).error() == Code::no_node);
  REQUIRE(sm.watch_count() == 3);
  auto failed = apply(MultiOp{{DeleteOp{"/p/c", -1}, CreateOp{"/p/new", {}}, CheckOp{"/p", 9}}});
  REQUIRE(failed.events.empty());
  REQUIRE(failed.multi[2].err == Code::bad_version);
  REQUIRE(sm.watch_count() == 3);
  REQUIRE(sm.find("/p/c") != nullptr);
  REQUIRE(sm.find("/p/new") == nullptr);
  REQUIRE(sm.find("/p")->children == std::set<std::string>{"c"});
  auto ok = apply(MultiOp{{DeleteOp{"/p/c", -1}, CreateOp{"/p/new", {}}}});
  // NodeDeleted for /p/c, NodeChildrenChanged for /p (once: one-shot), NodeCreated for /p/new.
  REQUIRE(ok.events == std::vector<WatchEvent>{{1, EventType::node_deleted, "/p/c"},
                                               {1, EventType::node_children_changed, "/p"},
                                               {1, EventType::node_created, "/p/new"}});
  REQUIRE(sm.watch_count() == 0);
}
