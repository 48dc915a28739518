#include "system/coord/state_machine.h"

#include <fmt/format.h>

#include <algorithm>

namespace samsa::coord {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// Nodes ZooKeeper keeps for itself: never deleted by clients.
bool special_path(std::string_view p) {
  return p == "/" || p == "/zookeeper" || p == "/zookeeper/quota" || p == "/zookeeper/config";
}

bool version_matches(std::int32_t expected, std::int32_t actual) {
  return expected == -1 || expected == actual;
}

OpResult fail(OpCode type, Code err) { return OpResult{type, err, {}, {}}; }

}  // namespace

std::string_view to_string(Code c) {
  switch (c) {
    case Code::ok: return "ok";
    case Code::system_error: return "system error";
    case Code::runtime_inconsistency: return "runtime inconsistency";
    case Code::data_inconsistency: return "data inconsistency";
    case Code::connection_loss: return "connection loss";
    case Code::marshalling_error: return "marshalling error";
    case Code::unimplemented: return "unimplemented";
    case Code::operation_timeout: return "operation timeout";
    case Code::bad_arguments: return "bad arguments";
    case Code::api_error: return "api error";
    case Code::no_node: return "no node";
    case Code::no_auth: return "no auth";
    case Code::bad_version: return "bad version";
    case Code::no_children_for_ephemerals: return "no children for ephemerals";
    case Code::node_exists: return "node exists";
    case Code::not_empty: return "not empty";
    case Code::session_expired: return "session expired";
    case Code::invalid_acl: return "invalid acl";
    case Code::session_moved: return "session moved";
  }
  return "unknown";
}

bool valid_path(std::string_view path, bool sequential) {
  // A sequential path is checked as ZooKeeper does: with a digit appended.
  if (sequential) return valid_path(std::string(path) + "1", false);
  if (path.empty() || path[0] != '/') return false;
  if (path.size() == 1) return true;
  if (path.back() == '/') return false;
  std::size_t start = 1;
  for (;;) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) return false;
    }
    if (end == path.size()) return true;
    start = end + 1;
  }
}

std::string parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return std::string(path.substr(0, slash));
}

namespace {
std::string child_name(std::string_view path) {
  return std::string(path.substr(path.rfind('/') + 1));
}
}  // namespace

// What a multi changed, to restore when a later sub-operation fails. It
// keeps data and Stat of touched nodes and the child names added or removed,
// never whole child sets: undo costs what the multi changed, not the tree.
struct StateMachine::Undo {
  struct Saved {
    Bytes data;
    Stat stat;
  };
  struct ChildChange {
    std::string parent;
    std::string name;
    bool added;
  };
  struct FiredWatch {
    bool child;
    std::string path;
    std::set<SessionId> sessions;
  };
  std::map<std::string, std::optional<Saved>> nodes;  // nullopt: did not exist
  std::vector<ChildChange> children;
  std::vector<FiredWatch> watches;
  std::map<SessionId, std::set<std::string>> ephemerals;
};

StateMachine::StateMachine() {
  nodes_["/"].children = {"zookeeper"};
  nodes_["/"].stat.num_children = 1;
  nodes_["/zookeeper"].children = {"config", "quota"};
  nodes_["/zookeeper"].stat.num_children = 2;
  nodes_["/zookeeper/config"];
  nodes_["/zookeeper/quota"];
}

const Znode* StateMachine::find(std::string_view path) const {
  auto it = nodes_.find(path);
  return it == nodes_.end() ? nullptr : &it->second;
}

SessionId StateMachine::max_session_id() const {
  return sessions_.empty() ? 0 : sessions_.rbegin()->first;
}

Znode* StateMachine::mut(const std::string& path, Undo* undo) {
  auto it = nodes_.find(path);
  if (undo && !undo->nodes.count(path))
    undo->nodes[path] = it == nodes_.end() ? std::nullopt
                                           : std::optional(Undo::Saved{it->second.data, it->second.stat});
  return it == nodes_.end() ? &nodes_[path] : &it->second;
}

void StateMachine::erase_node(const std::string& path, Undo* undo) {
  mut(path, undo);
  nodes_.erase(path);
}

void StateMachine::change_child(Znode& parent, const std::string& parent_path,
                                const std::string& name, bool add, Undo* undo) {
  if (add) parent.children.insert(name);
  else parent.children.erase(name);
  parent.stat.num_children = static_cast<std::int32_t>(parent.children.size());
  if (undo) undo->children.push_back({parent_path, name, add});
}

void StateMachine::fire(std::map<std::string, std::set<SessionId>, std::less<>>& watches,
                        const std::string& path, EventType type, TxnResult& out,
                        std::set<SessionId>* skip) {
  auto it = watches.find(path);
  if (it == watches.end()) return;
  for (SessionId s : it->second) {
    if (skip && !skip->insert(s).second) continue;
    out.events.push_back({s, type, path});
  }
  if (undo_) undo_->watches.push_back({&watches == &child_watches_, path, it->second});
  watches.erase(it);
}

void StateMachine::restore(Undo& undo) {
  for (auto it = undo.children.rbegin(); it != undo.children.rend(); ++it) {
    std::set<std::string>& kids = nodes_[it->parent].children;
    if (it->added) kids.erase(it->name);
    else kids.insert(it->name);
  }
  for (auto& [path, saved] : undo.nodes) {
    if (!saved) {
      nodes_.erase(path);
      continue;
    }
    Znode& n = nodes_[path];
    n.data = std::move(saved->data);
    n.stat = saved->stat;
  }
  for (auto& [session, paths] : undo.ephemerals) {
    if (paths.empty()) ephemerals_.erase(session);
    else ephemerals_[session] = paths;
  }
  for (auto& w : undo.watches)
    (w.child ? child_watches_ : data_watches_)[w.path].merge(w.sessions);
}

TxnResult StateMachine::apply(const Txn& t) {
  SAMSA_ASSERT(t.zxid > last_zxid_, "transactions apply in zxid order");
  last_zxid_ = t.zxid;
  return std::visit(
      Overloaded{
          [&](const MultiOp& op) { return multi(op, t); },
          [&](const CreateSessionOp& op) {
            sessions_[t.session] = SessionInfo{op.timeout_ms, op.password};
            return TxnResult{};
          },
          [&](const CloseSessionOp&) { return close_session(t); },
          [&](const auto& op) {
            TxnResult r;
            r.single = run(SubOp{op}, t, r, nullptr);
            r.err = r.single.err;
            return r;
          },
      },
      t.op);
}

OpResult StateMachine::run(const SubOp& op, const Txn& t, TxnResult& out, Undo* undo) {
  return std::visit(Overloaded{
                        [&](const CreateOp& o) { return create(o, t, out, undo); },
                        [&](const DeleteOp& o) { return remove(o, t, out, undo); },
                        [&](const SetDataOp& o) { return set_data(o, t, out, undo); },
                        [&](const CheckOp& o) { return check(o); },
                    },
                    op);
}

OpResult StateMachine::create(const CreateOp& op, const Txn& t, TxnResult& out, Undo* undo) {
  const OpCode type = op.with_stat ? OpCode::create2 : OpCode::create;
  // ZooKeeper's order: a path without '/' is bad, then the parent must
  // exist, then the full path (with its sequence suffix) must be valid.
  if (op.path.find('/') == std::string::npos || op.path.find('\0') != std::string::npos)
    return fail(type, Code::bad_arguments);
  const std::string parent_path = parent_of(op.path);
  const Znode* parent = find(parent_path);
  if (!parent) return fail(type, Code::no_node);
  std::string path = op.path;
  if (is_sequential(op.mode)) path += fmt::format("{:010}", parent->stat.cversion);
  if (!valid_path(path)) return fail(type, Code::bad_arguments);
  if (find(path)) return fail(type, Code::node_exists);
  if (parent->stat.ephemeral_owner != 0) return fail(type, Code::no_children_for_ephemerals);
  if (is_ephemeral(op.mode) && !sessions_.count(t.session))
    return fail(type, Code::session_expired);

  Znode* p = mut(parent_path, undo);
  change_child(*p, parent_path, child_name(path), true, undo);
  p->stat.cversion += 1;
  p->stat.pzxid = t.zxid;
  Znode* n = mut(path, undo);
  n->data = op.data;
  n->stat = Stat{t.zxid, t.zxid, t.time_ms, t.time_ms, 0, 0, 0,
                 is_ephemeral(op.mode) ? t.session : 0,
                 static_cast<std::int32_t>(op.data.size()), 0, t.zxid};
  if (is_ephemeral(op.mode)) {
    if (undo && !undo->ephemerals.count(t.session))
      undo->ephemerals[t.session] = ephemerals_[t.session];
    ephemerals_[t.session].insert(path);
  }
  fire(data_watches_, path, EventType::node_created, out);
  fire(child_watches_, parent_path, EventType::node_children_changed, out);
  return OpResult{type, Code::ok, path, n->stat};
}

OpResult StateMachine::remove(const DeleteOp& op, const Txn& t, TxnResult& out, Undo* undo) {
  // ZooKeeper checks only this much of a delete's path; any other bad path
  // simply names no node.
  if (op.path.find('/') == std::string::npos || op.path.find('\0') != std::string::npos ||
      special_path(op.path))
    return fail(OpCode::remove, Code::bad_arguments);
  const Znode* node = find(op.path);
  if (!node) return fail(OpCode::remove, Code::no_node);
  if (!version_matches(op.version, node->stat.version))
    return fail(OpCode::remove, Code::bad_version);
  if (!node->children.empty()) return fail(OpCode::remove, Code::not_empty);

  if (const SessionId owner = node->stat.ephemeral_owner; owner != 0) {
    if (undo && !undo->ephemerals.count(owner)) undo->ephemerals[owner] = ephemerals_[owner];
    ephemerals_[owner].erase(op.path);
    if (ephemerals_[owner].empty()) ephemerals_.erase(owner);
  }
  erase_node(op.path, undo);
  const std::string parent_path = parent_of(op.path);
  Znode* p = mut(parent_path, undo);
  change_child(*p, parent_path, child_name(op.path), false, undo);
  p->stat.cversion += 1;
  p->stat.pzxid = std::max(p->stat.pzxid, t.zxid);
  std::set<SessionId> told;
  fire(data_watches_, op.path, EventType::node_deleted, out, &told);
  fire(child_watches_, op.path, EventType::node_deleted, out, &told);
  fire(child_watches_, parent_path, EventType::node_children_changed, out);
  return OpResult{OpCode::remove, Code::ok, {}, {}};
}

OpResult StateMachine::set_data(const SetDataOp& op, const Txn& t, TxnResult& out, Undo* undo) {
  if (!valid_path(op.path)) return fail(OpCode::set_data, Code::bad_arguments);
  const Znode* node = find(op.path);
  if (!node) return fail(OpCode::set_data, Code::no_node);
  if (!version_matches(op.version, node->stat.version))
    return fail(OpCode::set_data, Code::bad_version);
  Znode* n = mut(op.path, undo);
  n->data = op.data;
  n->stat.version += 1;
  n->stat.mzxid = t.zxid;
  n->stat.mtime = t.time_ms;
  n->stat.data_length = static_cast<std::int32_t>(op.data.size());
  fire(data_watches_, op.path, EventType::node_data_changed, out);
  return OpResult{OpCode::set_data, Code::ok, {}, n->stat};
}

OpResult StateMachine::check(const CheckOp& op) {
  if (!valid_path(op.path)) return fail(OpCode::check, Code::bad_arguments);
  const Znode* node = find(op.path);
  if (!node) return fail(OpCode::check, Code::no_node);
  if (!version_matches(op.version, node->stat.version)) return fail(OpCode::check, Code::bad_version);
  return OpResult{OpCode::check, Code::ok, {}, {}};
}

TxnResult StateMachine::multi(const MultiOp& op, const Txn& t) {
  TxnResult out;
  Undo undo;
  undo_ = &undo;
  std::size_t failed_at = op.ops.size();
  Code failed_err = Code::ok;
  for (std::size_t i = 0; i < op.ops.size(); ++i) {
    OpResult r = run(op.ops[i], t, out, &undo);
    if (r.err != Code::ok) {
      failed_at = i;
      failed_err = r.err;
      break;
    }
    // ZooKeeper 3.8 reports a create2 inside a multi as a plain create
    // (path only); seen in the differential test.
    if (r.type == OpCode::create2) r.type = OpCode::create;
    out.multi.push_back(std::move(r));
  }
  undo_ = nullptr;
  if (failed_at == op.ops.size()) return out;
  // All or nothing: restore the tree and the watches (nothing fired),
  // and report as ZooKeeper does: ok before the failure, the failure, then
  // runtime inconsistency for the operations never tried.
  restore(undo);
  out = TxnResult{};
  for (std::size_t i = 0; i < op.ops.size(); ++i) {
    const Code c = i < failed_at ? Code::ok
                   : i == failed_at ? failed_err
                                    : Code::runtime_inconsistency;
    out.multi.push_back(fail(OpCode::error, c));
  }
  return out;
}

TxnResult StateMachine::close_session(const Txn& t) {
  TxnResult out;
  if (!sessions_.erase(t.session)) return out;
  const std::set<std::string> paths = ephemerals_[t.session];
  // Deepest first, so a parent never goes before its child.
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) remove(DeleteOp{*it, -1}, t, out, nullptr);
  ephemerals_.erase(t.session);
  drop_watches(t.session);
  std::erase_if(out.events, [&](const WatchEvent& e) { return e.session == t.session; });
  return out;
}

// --- reads ---------------------------------------------------------------------

// Reads do not check the path (as in ZooKeeper): a bad path names no node.
Result<Stat, Code> StateMachine::exists(SessionId s, std::string_view path, bool watch) {
  const Znode* n = find(path);
  if (watch) data_watches_[std::string(path)].insert(s);
  if (!n) return Err{Code::no_node};
  return n->stat;
}

Result<DataAndStat, Code> StateMachine::get_data(SessionId s, std::string_view path, bool watch) {
  const Znode* n = find(path);
  if (!n) return Err{Code::no_node};
  if (watch) data_watches_[std::string(path)].insert(s);
  return DataAndStat{n->data, n->stat};
}

Result<ChildrenAndStat, Code> StateMachine::get_children(SessionId s, std::string_view path,
                                                         bool watch) {
  const Znode* n = find(path);
  if (!n) return Err{Code::no_node};
  if (watch) child_watches_[std::string(path)].insert(s);
  return ChildrenAndStat{{n->children.begin(), n->children.end()}, n->stat};
}

// --- watches -------------------------------------------------------------------

void StateMachine::drop_watches(SessionId s) {
  for (auto* watches : {&data_watches_, &child_watches_}) {
    for (auto it = watches->begin(); it != watches->end();) {
      it->second.erase(s);
      it = it->second.empty() ? watches->erase(it) : std::next(it);
    }
  }
}

std::size_t StateMachine::watch_count() const {
  std::size_t n = 0;
  for (const auto* watches : {&data_watches_, &child_watches_})
    for (const auto& [path, sessions] : *watches) n += sessions.size();
  return n;
}

std::vector<WatchEvent> StateMachine::set_watches(SessionId s, Zxid relative_zxid,
                                                  const std::vector<std::string>& data,
                                                  const std::vector<std::string>& exist,
                                                  const std::vector<std::string>& child) {
  std::vector<WatchEvent> fired;
  for (const auto& path : data) {
    const Znode* n = find(path);
    if (!n) fired.push_back({s, EventType::node_deleted, path});
    else if (n->stat.mzxid > relative_zxid) fired.push_back({s, EventType::node_data_changed, path});
    else data_watches_[path].insert(s);
  }
  for (const auto& path : exist) {
    if (find(path)) fired.push_back({s, EventType::node_created, path});
    else data_watches_[path].insert(s);
  }
  for (const auto& path : child) {
    const Znode* n = find(path);
    if (!n) fired.push_back({s, EventType::node_deleted, path});
    else if (n->stat.pzxid > relative_zxid)
      fired.push_back({s, EventType::node_children_changed, path});
    else child_watches_[path].insert(s);
  }
  return fired;
}

// --- snapshots -----------------------------------------------------------------

void StateMachine::encode(JuteWriter& w) const {
  w.int64(last_zxid_);
  w.int32(static_cast<std::int32_t>(sessions_.size()));
  for (const auto& [id, info] : sessions_) {
    w.int64(id);
    w.int32(info.timeout_ms);
    w.buffer(info.password);
  }
  w.int32(static_cast<std::int32_t>(nodes_.size()));
  for (const auto& [path, node] : nodes_) {  // parents sort before children
    w.string(path);
    w.buffer(node.data);
    w.stat(node.stat);
  }
}

Result<StateMachine, ParseError> StateMachine::decode(JuteReader& r) {
  StateMachine sm;
  sm.nodes_.clear();
  auto zxid = r.int64();
  if (!zxid) return Err{zxid.error()};
  sm.last_zxid_ = *zxid;
  auto count = r.int32();
  if (!count) return Err{count.error()};
  for (std::int32_t i = 0; i < *count; ++i) {
    auto id = r.int64();
    if (!id) return Err{id.error()};
    auto timeout = r.int32();
    if (!timeout) return Err{timeout.error()};
    auto password = r.buffer();
    if (!password) return Err{password.error()};
    sm.sessions_[*id] = SessionInfo{*timeout, std::move(*password)};
  }
  auto nodes = r.int32();
  if (!nodes) return Err{nodes.error()};
  for (std::int32_t i = 0; i < *nodes; ++i) {
    const std::size_t at = r.offset();
    auto path = r.string();
    if (!path) return Err{path.error()};
    auto data = r.buffer();
    if (!data) return Err{data.error()};
    auto stat = r.stat();
    if (!stat) return Err{stat.error()};
    if (!valid_path(*path) || (*path != "/" && !sm.nodes_.count(parent_of(*path))))
      return Err{ParseError{at, "snapshot node without parent: " + *path}};
    Znode& n = sm.nodes_[*path];
    n.data = std::move(*data);
    n.stat = *stat;
    if (*path != "/") sm.nodes_[parent_of(*path)].children.insert(child_name(*path));
    if (stat->ephemeral_owner != 0) sm.ephemerals_[stat->ephemeral_owner].insert(*path);
  }
  if (!sm.nodes_.count("/")) return Err{r.error("snapshot without a root")};
  return sm;
}

bool StateMachine::same_state(const StateMachine& o) const {
  return last_zxid_ == o.last_zxid_ && nodes_ == o.nodes_ && sessions_ == o.sessions_ &&
         ephemerals_ == o.ephemerals_;
}

}  // namespace samsa::coord
