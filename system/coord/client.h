#pragma once
// The coordinator client for system code (brokers, the controller): one
// session over sim::Network, reconnecting on its own, pinging at a third of
// the session timeout, re-setting its watches after a reconnect. Operations
// block the calling fiber. Two failures are kept apart:
//  - Code::connection_loss: the connection broke while the operation was in
//    flight; it may or may not have happened. The session may still live.
//  - Code::session_expired: the session is gone, and with it its ephemeral
//    nodes and watches. The client is finished; the owner makes a new one
//    and registers again.
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/coord/state_machine.h"
#include "system/coord/wire.h"

namespace samsa::coord {

struct ClientConfig {
  std::vector<sim::Address> servers;
  std::int32_t session_timeout_ms = 4000;
  sim::Duration connect_timeout = std::chrono::seconds(1);
};

enum class SessionState : std::uint8_t { connecting, connected, expired, closed };
std::string_view to_string(SessionState s);

struct WatchedEvent {
  EventType type = EventType::none;
  KeeperState state = KeeperState::sync_connected;
  std::string path;
};
// A one-shot watch callback. It runs in the client's reader fiber before any
// later reply is handed over (ZooKeeper's ordering guarantee), so it must
// not park: note the event and return.
using Watcher = std::function<void(const WatchedEvent&)>;

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> start(sim::Runtime& rt, ClientConfig config);
  Client(sim::Runtime& rt, ClientConfig config);  // use start()

  // Parks until the session is connected; false on deadline, expiry or close.
  bool wait_connected(std::optional<sim::MonoTime> deadline = {});
  SessionState state() const { return state_; }
  SessionId session_id() const { return session_id_; }
  std::int32_t negotiated_timeout_ms() const { return timeout_ms_; }
  // Called on every state change. Like watchers, it runs in the client's
  // reader fiber and must not park (set an Event, try_send to a Channel).
  void on_state(std::function<void(SessionState)> fn) { state_listener_ = std::move(fn); }

  Result<std::string, Code> create(const std::string& path, Bytes data,
                                   CreateMode mode = CreateMode::persistent);
  Result<void, Code> remove(const std::string& path, std::int32_t version = -1);
  Result<Stat, Code> exists(const std::string& path, Watcher watcher = {});
  Result<DataAndStat, Code> get_data(const std::string& path, Watcher watcher = {});
  Result<Stat, Code> set_data(const std::string& path, Bytes data, std::int32_t version = -1);
  Result<ChildrenAndStat, Code> get_children(const std::string& path, Watcher watcher = {});
  // All or nothing. On failure the error is the failing op's code.
  Result<std::vector<OpResult>, Code> multi(std::vector<SubOp> ops);
  // Ends the session (its ephemerals go at once) and stops the client.
  void close();

  std::uint64_t reconnects() const { return reconnects_; }

 private:
  enum class WatchKind : std::uint8_t { data, exist, child };
  struct Pending {
    OpCode type;
    // Registered when the reply arrives, before any later frame is read, so
    // an event right behind the reply finds its watcher.
    Watcher watcher;
    std::string watch_path;
    std::optional<Result<Response, Code>> result;
    Pending(sim::Parker& p, OpCode t) : type(t), done(p) {}
    sim::Event done;
  };

  Result<Response, Code> call(Request req, Watcher watcher = {});
  void session_loop();
  bool connect_once();
  void read_loop(sim::Connection& conn);
  void on_frame(const Bytes& frame, const ReplyHeader& header);
  void lose_connection(Code why);
  void set_state(SessionState s);
  void add_watch(WatchKind kind, const std::string& path, Watcher w);
  void fire_watches(const WatchedEvent& e);
  void end_session(SessionState final_state);

  sim::Runtime& rt_;
  ClientConfig config_;
  SessionState state_ = SessionState::connecting;
  SessionId session_id_ = 0;
  Bytes password_ = Bytes(k_password_bytes, 0);
  std::int32_t timeout_ms_ = 0;
  Zxid last_zxid_ = 0;
  std::int32_t next_xid_ = 1;
  bool closing_ = false;
  std::uint64_t reconnects_ = 0;
  std::shared_ptr<sim::Connection> conn_;
  std::map<std::int32_t, std::shared_ptr<Pending>> pending_;  // by xid, in send order
  std::map<std::string, std::vector<Watcher>> watches_[3];
  sim::MonoTime last_send_;
  sim::WaitQueue state_changed_;
  std::function<void(SessionState)> state_listener_;
};

}  // namespace samsa::coord
