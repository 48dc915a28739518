#pragma once
// The coordinator server (ZooKeeper standalone) as an actor on sim::Runtime:
// a listener with one fiber per connection speaking the jute protocol, a
// session tracker that expires silent sessions on the node's monotonic
// clock, and the transaction log: every write is logged and fsynced before
// it is applied and acknowledged. The state machine is separate, so a
// replicated ensemble can later put consensus between the two.
#include <map>
#include <memory>

#include "sim/runtime/runtime.h"
#include "system/coord/state_machine.h"
#include "system/coord/txn_log.h"
#include "system/coord/wire.h"

namespace samsa::coord {

struct ServerConfig {
  std::uint16_t port = 2181;
  std::int32_t tick_ms = 200;  // session timeouts negotiate to [2, 20] ticks
  // ZooKeeper's minSessionTimeout / maxSessionTimeout; -1: 2 and 20 ticks.
  std::int32_t min_session_timeout_ms = -1;
  std::int32_t max_session_timeout_ms = -1;
  std::string data_dir = "coord";
  std::int64_t snapshot_every_txns = 500;
};

struct ServerStats {
  std::uint64_t txns = 0;
  std::uint64_t sessions_expired = 0;
  std::uint64_t connections = 0;
  std::uint64_t watch_events = 0;
  RecoveryInfo recovery;
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  // Recovers from the node's disk and starts the server's actors. An error
  // means the disk could not be read back (the server does not start).
  static Result<std::shared_ptr<Server>, std::string> start(sim::Runtime& rt, ServerConfig config);

  const StateMachine& state() const { return sm_; }
  const ServerStats& stats() const { return stats_; }
  // The write being logged right now (at most one): a crash may or may not
  // keep it, since it was never acknowledged.
  const std::optional<Txn>& in_flight() const { return in_flight_; }
  std::int32_t negotiate_timeout_ms(std::int32_t requested) const;
  // The port the server listens on (the real one when config.port was 0).
  std::uint16_t port() const { return port_; }

  Server(sim::Runtime& rt, ServerConfig config);  // use start()

 private:
  struct Live {
    sim::MonoTime expires_at;
    std::int32_t timeout_ms = 0;
    std::shared_ptr<sim::Connection> conn;  // the session's current connection
  };
  class WriteLock;

  void accept_loop(std::shared_ptr<sim::Listener> listener);
  void expiry_loop();
  void serve(std::shared_ptr<sim::Connection> conn);
  std::optional<SessionId> handshake(const std::shared_ptr<sim::Connection>& conn);
  bool handle(SessionId s, sim::Connection& conn, const Request& req);
  Response read(SessionId s, const Request& req);
  // Logs (fsync), applies and delivers the watch events of one write.
  std::optional<TxnResult> write(SessionId s, WriteOp op);
  void deliver(const WatchEvent& e);
  void detach(SessionId s, const sim::Connection& conn);
  void expire(SessionId s);
  Bytes password_for(SessionId s);

  sim::Runtime& rt_;
  ServerConfig config_;
  StateMachine sm_;
  TxnLog log_;
  std::map<SessionId, Live> live_;
  SessionId next_session_id_ = 0;
  std::int64_t txns_since_snapshot_ = 0;
  std::optional<Txn> in_flight_;
  bool failed_ = false;  // the log could not be written: stop acknowledging
  bool write_locked_ = false;
  sim::WaitQueue write_waiters_;
  ServerStats stats_;
  std::uint16_t port_ = 0;
};

}  // namespace samsa::coord
