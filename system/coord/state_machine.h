#pragma once
// The coordinator's state machine: the znode tree, the sessions and the
// watches, with ZooKeeper's semantics. Pure: no I/O, no clock, no
// randomness. Writes arrive as transactions (zxid, time and session chosen by
// the server) and are applied in zxid order; reads and watch registration
// are direct calls. The server, the model-based tests and the differential
// test against real ZooKeeper all drive this one class.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/result.h"
#include "system/coord/jute.h"
#include "system/coord/types.h"

namespace samsa::coord {

struct Znode {
  Bytes data;
  Stat stat;
  std::set<std::string> children;  // names, not paths
  friend bool operator==(const Znode&, const Znode&) = default;
};

struct SessionInfo {
  std::int32_t timeout_ms = 0;
  Bytes password;
  friend bool operator==(const SessionInfo&, const SessionInfo&) = default;
};

struct DataAndStat {
  Bytes data;
  Stat stat;
};
struct ChildrenAndStat {
  std::vector<std::string> children;  // sorted
  Stat stat;
};

// ZooKeeper's path rules; `sequential` allows the trailing '/' that the
// sequence suffix will follow.
bool valid_path(std::string_view path, bool sequential = false);
std::string parent_of(std::string_view path);

class StateMachine {
 public:
  StateMachine();

  Zxid last_zxid() const { return last_zxid_; }
  // Applies one write. txn.zxid must be above last_zxid().
  TxnResult apply(const Txn& txn);

  // --- reads (watch: leave a one-shot watch for the session) ---------------
  Result<Stat, Code> exists(SessionId s, std::string_view path, bool watch);
  Result<DataAndStat, Code> get_data(SessionId s, std::string_view path, bool watch);
  Result<ChildrenAndStat, Code> get_children(SessionId s, std::string_view path, bool watch);

  // --- watches ---------------------------------------------------------------
  // A session's watches live as long as its connection: dropped on
  // disconnect, re-set by the client (SetWatches) on reconnect.
  void drop_watches(SessionId s);
  // ZooKeeper's SetWatches: fires at once what changed since `relative_zxid`,
  // registers the rest.
  std::vector<WatchEvent> set_watches(SessionId s, Zxid relative_zxid,
                                      const std::vector<std::string>& data,
                                      const std::vector<std::string>& exist,
                                      const std::vector<std::string>& child);
  std::size_t watch_count() const;

  // --- sessions --------------------------------------------------------------
  const std::map<SessionId, SessionInfo>& sessions() const { return sessions_; }
  bool has_session(SessionId s) const { return sessions_.count(s) > 0; }
  SessionId max_session_id() const;

  // --- whole state (tests, snapshots) ---------------------------------------
  const std::map<std::string, Znode, std::less<>>& nodes() const { return nodes_; }
  const Znode* find(std::string_view path) const;
  // Snapshot: tree, sessions, last zxid (not watches: they belong to
  // connections, which a restart ends).
  void encode(JuteWriter& w) const;
  static Result<StateMachine, ParseError> decode(JuteReader& r);
  // Same tree, sessions and zxid.
  bool same_state(const StateMachine& o) const;

 private:
  struct Undo;
  OpResult run(const SubOp& op, const Txn& t, TxnResult& out, Undo* undo);
  OpResult create(const CreateOp& op, const Txn& t, TxnResult& out, Undo* undo);
  OpResult remove(const DeleteOp& op, const Txn& t, TxnResult& out, Undo* undo);
  OpResult set_data(const SetDataOp& op, const Txn& t, TxnResult& out, Undo* undo);
  OpResult check(const CheckOp& op);
  TxnResult multi(const MultiOp& op, const Txn& t);
  TxnResult close_session(const Txn& t);
  Znode* mut(const std::string& path, Undo* undo);
  void erase_node(const std::string& path, Undo* undo);
  void change_child(Znode& parent, const std::string& parent_path, const std::string& name,
                    bool add, Undo* undo);
  void restore(Undo& undo);
  void fire(std::map<std::string, std::set<SessionId>, std::less<>>& watches,
            const std::string& path, EventType type, TxnResult& out,
            std::set<SessionId>* skip = nullptr);

  Undo* undo_ = nullptr;  // set while a multi runs: fired watches are recorded
  Zxid last_zxid_ = 0;
  std::map<std::string, Znode, std::less<>> nodes_;
  std::map<SessionId, SessionInfo> sessions_;
  std::map<SessionId, std::set<std::string>> ephemerals_;
  std::map<std::string, std::set<SessionId>, std::less<>> data_watches_;
  std::map<std::string, std::set<SessionId>, std::less<>> child_watches_;
};

}  // namespace samsa::coord
