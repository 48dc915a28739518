#pragma once
// The coordinator's vocabulary, with ZooKeeper's numbers: error codes, op
// codes, create modes, watch event types, the znode Stat, and the write
// operations that become transactions.
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/runtime/bytes.h"

namespace samsa::coord {

using SessionId = std::int64_t;
using Zxid = std::int64_t;

// ZooKeeper's KeeperException codes (the `err` of a ReplyHeader).
enum class Code : std::int32_t {
  ok = 0,
  system_error = -1,
  runtime_inconsistency = -2,
  data_inconsistency = -3,
  connection_loss = -4,
  marshalling_error = -5,
  unimplemented = -6,
  operation_timeout = -7,
  bad_arguments = -8,
  api_error = -100,
  no_node = -101,
  no_auth = -102,
  bad_version = -103,
  no_children_for_ephemerals = -108,
  node_exists = -110,
  not_empty = -111,
  session_expired = -112,
  invalid_acl = -114,
  session_moved = -118,
};
std::string_view to_string(Code c);

enum class OpCode : std::int32_t {
  error = -1,
  create = 1,
  remove = 2,  // ZooKeeper's "delete"
  exists = 3,
  get_data = 4,
  set_data = 5,
  get_children = 8,
  ping = 11,
  get_children2 = 12,
  check = 13,
  multi = 14,
  create2 = 15,
  create_session = -10,
  close_session = -11,
  set_watches = 101,
};

enum class CreateMode : std::int32_t {
  persistent = 0,
  ephemeral = 1,
  persistent_sequential = 2,
  ephemeral_sequential = 3,
};
inline bool is_ephemeral(CreateMode m) {
  return m == CreateMode::ephemeral || m == CreateMode::ephemeral_sequential;
}
inline bool is_sequential(CreateMode m) {
  return m == CreateMode::persistent_sequential || m == CreateMode::ephemeral_sequential;
}

enum class EventType : std::int32_t {
  none = -1,
  node_created = 1,
  node_deleted = 2,
  node_data_changed = 3,
  node_children_changed = 4,
};

enum class KeeperState : std::int32_t {
  disconnected = 0,
  sync_connected = 3,
  expired = -112,
};

// A znode's Stat, field for field as ZooKeeper's jute record.
struct Stat {
  Zxid czxid = 0;
  Zxid mzxid = 0;
  std::int64_t ctime = 0;
  std::int64_t mtime = 0;
  std::int32_t version = 0;
  std::int32_t cversion = 0;
  std::int32_t aversion = 0;
  SessionId ephemeral_owner = 0;
  std::int32_t data_length = 0;
  std::int32_t num_children = 0;
  Zxid pzxid = 0;
  friend auto operator<=>(const Stat&, const Stat&) = default;
};

// --- write operations (each becomes one transaction with one zxid) ----------
struct CreateOp {
  std::string path;
  Bytes data;
  CreateMode mode = CreateMode::persistent;
  bool with_stat = false;  // create2: the reply carries the new node's Stat
};
struct DeleteOp {
  std::string path;
  std::int32_t version = -1;  // -1: any version
};
struct SetDataOp {
  std::string path;
  Bytes data;
  std::int32_t version = -1;
};
struct CheckOp {
  std::string path;
  std::int32_t version = -1;
};
using SubOp = std::variant<CreateOp, DeleteOp, SetDataOp, CheckOp>;
struct MultiOp {
  std::vector<SubOp> ops;
};
struct CreateSessionOp {
  std::int32_t timeout_ms = 0;
  Bytes password;
};
struct CloseSessionOp {};
using WriteOp =
    std::variant<CreateOp, DeleteOp, SetDataOp, CheckOp, MultiOp, CreateSessionOp, CloseSessionOp>;

// One transaction: the write as the client sent it, the zxid the server gave
// it, the server's wall time and the session that asked. Applying the same
// transactions to the same state always gives the same state and results, so
// the log stores them as they are (a failed write, too, takes a zxid, as in
// ZooKeeper).
struct Txn {
  Zxid zxid = 0;
  std::int64_t time_ms = 0;
  SessionId session = 0;
  WriteOp op;
};

// The outcome of one (sub-)operation.
struct OpResult {
  OpCode type = OpCode::error;
  Code err = Code::ok;
  std::string path;  // create: the created path (with the sequence suffix)
  Stat stat;         // create2 and set_data
};

struct WatchEvent {
  SessionId session = 0;
  EventType type = EventType::none;
  std::string path;
  friend bool operator==(const WatchEvent&, const WatchEvent&) = default;
};

struct TxnResult {
  Code err = Code::ok;            // the reply header's err
  OpResult single;                // for a single operation
  std::vector<OpResult> multi;    // for multi: one per sub-operation
  std::vector<WatchEvent> events; // watches this transaction fired
};

}  // namespace samsa::coord
