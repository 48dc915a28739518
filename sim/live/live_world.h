#pragma once
// The live world: the runtime seam on real time, real sockets (Asio) and
// real files (POSIX), so the system code that runs in the simulated world
// runs unchanged for real clients. One LiveWorld per thread (it owns that
// thread's io_context); it hosts nodes (a coordinator, brokers: servers of
// one process), each with its own data directory, listen address, actors
// and logger.
//
// Differences from the simulated world, by design:
// - time, scheduling and I/O are real: nothing is reproducible by seed;
//   the seed (from the OS, printed) only feeds the nodes' random streams;
// - buggify is always false; there are no injected faults (yet);
// - a node ends by shutdown (its drain hook, then every fiber woken with
//   Crashed and joined) or by kill (no drain); the OS keeps its files.
#include <boost/fiber/fiber.hpp>
#include <boost/intrusive/list.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/live/live_disk.h"
#include "sim/live/live_network.h"
#include "sim/live/live_scheduler.h"
#include "sim/runtime/runtime.h"

namespace samsa::sim {

struct LiveConfig {
  // nullopt: drawn from the OS (getrandom). Printed by whoever runs the world.
  std::optional<std::uint64_t> seed;
  std::string log_level = "info";  // spdlog level name
  std::shared_ptr<spdlog::sinks::sink> log_sink;  // default: stderr
  // SIGTERM and SIGINT start a controlled shutdown; a second SIGINT exits
  // the process at once (exit code 130).
  bool handle_signals = false;
  // How long a node's drain hook (controlled shutdown) may take.
  Duration drain_timeout = 30s;
};

struct LiveNodeConfig {
  std::string name;
  // The node's disk: every path the node's Disk sees is relative to it.
  // Created when missing.
  std::string data_dir;
  // Where the node's listeners bind (Kafka's listeners host, ZooKeeper's
  // clientPortAddress). "0.0.0.0" binds every interface.
  std::string listen_host = "127.0.0.1";
  // Kafka's socket.request.max.bytes (ZooKeeper's jute.maxbuffer): a
  // larger frame is a bad_frame error on that connection.
  std::size_t max_frame_bytes = k_max_frame_bytes;
  std::size_t send_buffer_bytes = 16 * 1024 * 1024;  // per connection; send parks beyond
  // max.connections, max.connections.per.ip(.overrides) for its listeners.
  ConnectionLimits connection_limits;
  // Sees the frames of its accepted connections (request metrics); may be null.
  std::shared_ptr<FrameObserver> frame_observer;
};

enum class LiveStop : std::uint8_t {
  requested,       // request_stop() or a signal
  idle,            // every fiber ended
  internal_error,  // an assertion of samsa's own code failed (or a fiber threw)
};
std::string_view to_string(LiveStop s);

struct LiveRunResult {
  LiveStop reason = LiveStop::requested;
  std::string message;  // the error, for internal_error
  int signal = 0;       // the signal that asked for the stop, if any
};

class LiveRuntime;
class LiveTaskScope;

struct LiveNode {
  NodeId id = 0;
  LiveNodeConfig config;
  std::function<void(Runtime&)> main;
  std::uint64_t incarnation = 0;
  bool up = false;
  bool stopping = false;  // shutdown/kill is joining its fibers
  std::unique_ptr<LiveDisk> disk;
  std::shared_ptr<spdlog::logger> logger;
  std::unique_ptr<LiveRuntime> runtime;  // of the current incarnation
  std::function<void()> drain;           // controlled shutdown, set by the node's code
  std::map<std::uint64_t, boost::fibers::fiber> fibers;
  std::vector<std::uint64_t> finished;
  boost::intrusive::list<Waiter,
                         boost::intrusive::member_hook<Waiter, WaitHook, &Waiter::node_hook>,
                         boost::intrusive::constant_time_size<false>>
      parked;
};

class LiveWorld final : public Parker {
 public:
  explicit LiveWorld(LiveConfig config = {});
  ~LiveWorld() override;
  LiveWorld(const LiveWorld&) = delete;
  LiveWorld& operator=(const LiveWorld&) = delete;

  std::uint64_t seed() const { return seed_; }
  const LiveConfig& config() const { return config_; }
  asio::io_context& io() { return io_; }

  // --- nodes -----------------------------------------------------------------
  // Adds a server of this process; an error when its data dir cannot be made.
  Result<NodeId, std::string> add_node(LiveNodeConfig config, std::function<void(Runtime&)> main);
  // Starts the node's main actor (a new incarnation when it ran before).
  void start(NodeId id);
  // Controlled shutdown: runs the node's drain hook (bounded by
  // drain_timeout), then wakes every parked fiber of it with Crashed and
  // joins them all. Call from a fiber (not one of that node's).
  void shutdown(NodeId id);
  // Like a process kill inside this process: no drain.
  void kill(NodeId id);
  // The node's controlled-shutdown hook: runs on a fiber of the node, may
  // park (move leadership away, flush logs).
  void set_drain(NodeId id, std::function<void()> drain);
  bool is_up(NodeId id) const { return node(id).up; }
  LiveNode& node(NodeId id);
  const LiveNode& node(NodeId id) const;
  std::vector<NodeId> node_ids() const;

  // --- control actors (tests, drivers): never shut down before the nodes ------
  Runtime& control();
  void spawn(std::string name, std::function<void()> fn);

  // --- running -----------------------------------------------------------------
  // Runs until stop is requested (or a signal, with handle_signals), every
  // fiber ended, or an internal error; then shuts every node down (in reverse
  // order of adding them: brokers before the coordinator they need), then
  // the control actors. Call from the thread's main fiber, once.
  LiveRunResult run();
  // Thread-safe and signal-safe in spirit: posts the request to io().
  void request_stop();
  // True once a stop was asked for (drivers stop faulting nodes then).
  bool stopping() const { return stop_requested_ || stop_flag_.load(); }

  // --- Parker --------------------------------------------------------------------
  Wake park(Waiter& w, std::optional<MonoTime> deadline) override;
  void wake(Waiter& w) noexcept override;
  bool check_alive() override;
  void yield_now();

  // --- clocks ------------------------------------------------------------------------
  static MonoTime mono_now();
  static std::int64_t wall_now_ms();

  // --- used by the scheduler ------------------------------------------------------------
  // Runs ready Asio handlers and fires due timers (never blocks).
  void poll_io() noexcept;
  // Blocks in Asio until a handler ran, the next timer is due, or `tp`.
  void wait_io(std::chrono::steady_clock::time_point tp) noexcept;
  // Counts for tests: fibers alive in nodes and control actors.
  std::size_t fiber_count() const;
  const LiveNetStats& net_stats() const { return net_stats_; }
  // The links between this world's nodes, for injected faults.
  LiveLinks& links() { return links_; }

 private:
  struct Timer {
    MonoTime at;
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint64_t park_seq;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void spawn_on(LiveNode& n, std::string name, std::function<void()> fn,
                LiveTaskScope* scope = nullptr);
  // Throws Crashed or Cancelled when the running fiber must unwind; true
  // when it already unwinds (its wait must end at once).
  static bool doomed(const LiveFiberProps* p, const LiveNode& n, std::uint64_t incarnation);
  void reap(LiveNode& n);
  void end_incarnation(LiveNode& n);
  void record_failure(std::exception_ptr e) noexcept;
  void fiber_ended() noexcept;
  void wake_main() noexcept;
  bool fire_due_timers() noexcept;
  std::optional<MonoTime> next_deadline() const;
  std::uint32_t take_slot(Waiter* w);
  void setup_signals();
  LiveNode& current_node();
  std::shared_ptr<spdlog::logger> make_logger(const std::string& name);
  void run_drain(LiveNode& n);

  LiveConfig config_;
  std::uint64_t seed_ = 0;
  LiveLinks links_;  // before io_: handlers destroyed with it unregister here
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::optional<asio::signal_set> signals_;
  std::function<void(const std::error_code&, int)> signal_handler_;
  int signals_seen_ = 0;
  int stop_signal_ = 0;
  bool stop_requested_ = false;
  std::atomic<bool> stop_flag_{false};  // set by request_stop from any thread
  bool main_waiting_ = false;
  bool running_ = false;
  boost::fibers::context* main_ctx_ = nullptr;
  std::optional<std::string> internal_error_;
  std::uint64_t next_fiber_id_ = 1;
  std::size_t live_fibers_ = 0;  // spawned and not yet ended
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_park_seq_ = 1;
  std::vector<Timer> timers_;  // min-heap by (at, seq)
  std::vector<Waiter*> waiter_slots_;
  std::vector<std::uint64_t> waiter_slot_seq_;
  std::vector<std::uint32_t> free_slots_;
  std::shared_ptr<spdlog::sinks::sink> sink_;
  std::uint64_t next_conn_id_ = 0;
  LiveNetStats net_stats_;
  LiveNode control_node_;
  std::vector<std::unique_ptr<LiveNode>> nodes_;

  friend class LiveRuntime;
  friend class LiveTaskScope;
};

// A TaskScope of one live node incarnation (the same contract as the
// simulated world's SimTaskScope: stop() cancels and joins).
class LiveTaskScope final : public TaskScope {
 public:
  LiveTaskScope(LiveWorld& world, LiveNode& node, std::string name);
  ~LiveTaskScope() override { stop(); }
  LiveTaskScope(const LiveTaskScope&) = delete;
  LiveTaskScope& operator=(const LiveTaskScope&) = delete;

  void spawn(std::string name, std::function<void()> fn) override;
  void stop() override;
  std::size_t size() const override { return live_.size(); }
  bool cancelled() const { return cancelled_; }

  // --- used by LiveWorld ---------------------------------------------------------
  void fiber_started(std::uint64_t fid) { live_.insert(fid); }
  void fiber_ended(std::uint64_t fid) noexcept;

 private:
  LiveWorld& world_;
  LiveNode& node_;
  std::uint64_t incarnation_;
  std::string name_;
  bool cancelled_ = false;
  std::set<std::uint64_t> live_;                   // fiber ids
  std::vector<boost::fibers::context*> stoppers_;  // fibers waiting in stop()
};

// The Runtime of one live node incarnation.
class LiveRuntime final : public Runtime {
 public:
  LiveRuntime(LiveWorld& world, LiveNode& node);
  NodeId node_id() const override { return node_.id; }
  const std::string& node_name() const override { return node_.config.name; }
  std::uint64_t incarnation() const override { return incarnation_; }
  MonoTime now() override { return LiveWorld::mono_now(); }
  std::int64_t wall_ms() override { return LiveWorld::wall_now_ms(); }
  void sleep(Duration d) override;
  void yield() override { world_.yield_now(); }
  Random random(std::string_view stream) override;
  void spawn(std::string name, std::function<void()> fn) override;
  std::unique_ptr<TaskScope> make_scope(std::string name) override;
  Parker& parker() override { return world_; }
  Network& net() override { return net_; }
  Disk& disk() override;
  spdlog::logger& log() override { return *node_.logger; }
  bool buggify(std::string_view) override { return false; }

 private:
  LiveWorld& world_;
  LiveNode& node_;
  std::uint64_t incarnation_;
  LiveNetwork net_;
};

}  // namespace samsa::sim
