#pragma once
// The deterministic simulated world: virtual time, nodes with incarnations,
// seeded clocks, the simulated network and disks, faults and the trace hash.
// A run is a pure function of (config, seed, the code that runs in it).
//
// One World runs on one thread; several Worlds may run on several threads at
// once. Create, run and destroy a World on the same thread.
#include <boost/fiber/fiber.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/runtime.h"
#include "sim/world/scheduler.h"
#include "sim/world/sim_disk.h"
#include "sim/world/sim_network.h"
#include "sim/world/timer_fn.h"
#include "sim/world/trace.h"

namespace samsa::sim {

struct WorldConfig {
  std::uint64_t seed = 1;
  // Clocks: each node's monotonic clock runs at virtual time scaled by a
  // seeded drift in [-drift_max_ppm, +drift_max_ppm]; its wall clock is the
  // monotonic clock plus start_wall_ms plus a seeded offset.
  std::int64_t drift_max_ppm = 100;
  std::int64_t start_wall_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  Duration wall_offset_max = 50ms;
  NetworkConfig network;
  DiskConfig disk;
  // FoundationDB-style BUGGIFY: when enabled, each named point is active in
  // this run with `buggify_point_probability`, and an active point fires
  // with `buggify_fire_probability` each time it is reached.
  bool buggify = false;
  double buggify_point_probability = 0.25;
  double buggify_fire_probability = 0.05;
  // spdlog level name ("off", "warn", "info", "debug", "trace").
  std::string log_level = "off";
  std::shared_ptr<spdlog::sinks::sink> log_sink;  // default: stderr
};

enum class StopReason : std::uint8_t {
  time_limit,      // virtual time reached the limit given to run()
  idle,            // nothing left to run: every fiber ended
  stuck,           // fibers wait, but nothing can ever wake them
  stopped,         // stop() was called
  internal_error,  // an assertion of samsa's own code failed
};
std::string_view to_string(StopReason r);

struct RunResult {
  StopReason reason = StopReason::idle;
  std::string report;  // what each parked fiber waits on, or the error
};

class NodeRuntime;
class SimTaskScope;

// A simulated host. Owned by the World.
struct SimNode {
  NodeId id = 0;
  std::string name;
  std::function<void(Runtime&)> main;
  std::uint64_t incarnation = 0;
  bool up = false;
  std::int64_t drift_ppm = 0;
  Duration wall_offset{0};
  std::int64_t wall_skew_ppm = 0;
  Duration wall_skew_since{0};
  std::unique_ptr<NodeRuntime> runtime;  // of the current incarnation
  bool crashing = false;                 // crash() is joining the old fibers
  bool paused = false;                   // World::pause: none of its fibers runs
  std::vector<boost::fibers::context*> frozen;  // made ready while paused
  std::unique_ptr<WaitQueue> crash_done;
  std::unique_ptr<SimDisk> disk;
  std::shared_ptr<spdlog::logger> logger;
  std::map<std::uint64_t, boost::fibers::fiber> fibers;
  std::vector<std::uint64_t> finished;
  // Fibers of this node parked in a runtime primitive, in park order.
  boost::intrusive::list<Waiter,
                         boost::intrusive::member_hook<Waiter, WaitHook, &Waiter::node_hook>,
                         boost::intrusive::constant_time_size<false>>
      parked;
};

class World final : public Parker {
 public:
  explicit World(WorldConfig config);
  ~World() override;
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  const WorldConfig& config() const { return config_; }

  // --- nodes --------------------------------------------------------------
  // Adds a host. Its main actor runs from start() and again after restart().
  NodeId add_node(std::string name, std::function<void(Runtime&)> main);
  void start(NodeId id);
  // Ends the node's incarnation: its connections reset, every fiber of it
  // unwinds with Crashed and is joined, unsynced disk writes follow the disk
  // fault model. Call from a world fiber.
  // `disk_mode` forces what the disk keeps of unsynced writes (default: drawn
  // from the disk config's weights).
  void crash(NodeId id, std::optional<CrashMode> disk_mode = std::nullopt);
  // crash() if up, then start() again on what the disk kept. Concurrent
  // restarts of one node each complete (the node is up afterwards).
  void restart(NodeId id);
  bool is_up(NodeId id) const { return node(id).up; }
  // Process pause (a GC pause, SIGSTOP): no fiber of the node runs until
  // resume(); its timers fire late (at resume), frames to it queue, virtual
  // time goes on. A crash of a paused node ends the pause. Pausing a node
  // that is down (or crashing) does nothing.
  void pause(NodeId id);
  void resume(NodeId id);
  bool is_paused(NodeId id) const { return node(id).paused; }
  const SimNode& node(NodeId id) const;
  SimNode& node(NodeId id);
  std::optional<NodeId> find_node(std::string_view name) const;
  std::vector<NodeId> node_ids() const;

  // --- world actors (scenario drivers, fault schedules, checkers) ----------
  // World actors never crash. Their Runtime has no disk.
  Runtime& control();
  void spawn(std::string name, std::function<void()> fn);

  // --- running -------------------------------------------------------------
  // Runs until virtual time reaches `limit`, every fiber ended, the run is
  // stuck, or stop() was called. May be called again to continue.
  RunResult run(Duration limit);
  void stop() { stop_requested_ = true; }
  Duration now() const { return vt_; }

  // --- clocks ----------------------------------------------------------------
  MonoTime mono_now(const SimNode& n) const;
  MonoTime mono_at(const SimNode& n, Duration virtual_time) const;
  std::int64_t wall_ms(const SimNode& n) const;
  // Clock faults on a node's wall clock (monotonic time is never touched).
  void jump_wall_clock(NodeId id, Duration delta);
  void skew_wall_clock(NodeId id, std::int64_t ppm);

  // --- faults and observation -------------------------------------------------
  SimNetwork& network() { return *network_; }
  SimDisk& disk(NodeId id);
  // SimDisk::discard_contents on every node: after the last run, when no
  // disk image will be saved.
  void discard_disk_contents();
  Trace& trace() { return trace_; }
  std::uint64_t trace_hash() const { return trace_.hash(); }
  std::uint64_t events() const { return trace_.events(); }
  // Records every traced event into `log` from now on (nullptr: stop). Off
  // by default; the caller owns the log and keeps it alive while recording.
  void record_trace(TraceLog* log) { trace_.record_into(log, &vt_); }
  Random& random() { return rng_; }  // the world's own stream (fault schedules)
  bool buggify(std::string_view name);
  const std::map<std::string, std::uint64_t, std::less<>>& buggify_fired() const {
    return buggify_fired_;
  }
  spdlog::logger& log() { return *world_node_.logger; }

  // --- timers (for the network, disks and primitives) ------------------------
  // Runs `fn` at virtual time `at` (callbacks never park).
  void at(Duration at, TimerFn fn);
  Duration to_virtual(const SimNode& n, MonoTime t) const;

  // --- Parker ------------------------------------------------------------------
  Wake park(Waiter& w, std::optional<MonoTime> deadline) override;
  void wake(Waiter& w) noexcept override;
  bool check_alive() override;
  void yield_now();
  // The node whose fiber runs now (the world node for world actors).
  SimNode& current_node();

  // --- used by the scheduler ---------------------------------------------------
  boost::fibers::context* pick(std::vector<boost::fibers::context*>& ready) noexcept;
  bool fire_next_timer() noexcept;
  boost::fibers::context* take_main() noexcept;
  void fiber_finished() { ++finished_since_dispatch_; }
  bool wants_dispatcher() {
    const bool want = finished_since_dispatch_ > 0;
    finished_since_dispatch_ = 0;
    return want;
  }

 private:
  struct Timer {
    Duration at;
    std::uint64_t seq;
    std::uint32_t slot;       // waiter slot, or callback slot
    std::uint64_t park_seq;   // 0 for callbacks
    bool operator>(const Timer& o) const {
      return at != o.at ? at > o.at : seq > o.seq;
    }
  };

  void spawn_on(SimNode& n, std::string name, std::function<void()> fn,
                SimTaskScope* scope = nullptr);
  void join_all(SimNode& n);
  void thaw(SimNode& n);
  bool is_stale(const Timer& t) const;
  // Throws Crashed or Cancelled when the running fiber must unwind; true
  // when it already unwinds (its wait must end at once).
  static bool doomed(const FiberProps* p, const SimNode& n, std::uint64_t incarnation);
  bool has_live_timer() const;
  void drop_stale_timers();
  void run_callback(TimerFn& fn) noexcept;
  void record_failure(std::exception_ptr e) noexcept;
  void reap(SimNode& n);
  void shutdown_all();
  std::shared_ptr<spdlog::logger> make_logger(const std::string& name);
  std::uint32_t take_slot(Waiter* w);
  void push_timer(Duration at, std::uint32_t slot, std::uint64_t park_seq);
  std::string stuck_report() const;
  RunResult finish_run();

  WorldConfig config_;
  Random rng_;
  Random sched_rng_;
  Random buggify_rng_;
  Trace trace_;
  Duration vt_{0};
  Duration limit_{0};
  std::uint64_t next_fiber_id_ = 1;
  std::uint64_t next_scope_id_ = 1;
  std::uint64_t next_seq_ = 1;
  std::uint64_t next_park_seq_ = 1;
  std::uint64_t finished_since_dispatch_ = 0;
  bool stop_requested_ = false;
  bool tearing_down_ = false;
  bool main_waiting_ = false;
  boost::fibers::context* main_ctx_ = nullptr;
  std::optional<std::string> internal_error_;
  std::exception_ptr fiber_exception_;

  std::vector<Timer> timers_;  // a min-heap by (at, seq)
  static constexpr std::size_t k_min_timer_purge = 256;
  std::size_t purge_timers_at_ = k_min_timer_purge;  // drop_stale_timers when the heap reaches this
  std::vector<Waiter*> waiter_slots_;
  std::vector<std::uint64_t> waiter_slot_seq_;
  std::vector<std::uint32_t> free_waiter_slots_;
  std::vector<TimerFn> callbacks_;
  std::vector<std::uint32_t> free_callbacks_;

  std::shared_ptr<spdlog::sinks::sink> sink_;
  SimNode world_node_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::unique_ptr<SimNetwork> network_;
  std::map<std::string, bool, std::less<>> buggify_active_;
  std::map<std::string, std::uint64_t, std::less<>> buggify_fired_;

  friend class NodeRuntime;
  friend class SimTaskScope;
};

// A TaskScope of one node incarnation. Its fibers live in the node's fiber
// table (so a crash joins them like any other); the scope counts them and
// cancels them.
class SimTaskScope final : public TaskScope {
 public:
  SimTaskScope(World& world, SimNode& node, std::string name);
  ~SimTaskScope() override { stop(); }
  SimTaskScope(const SimTaskScope&) = delete;
  SimTaskScope& operator=(const SimTaskScope&) = delete;

  void spawn(std::string name, std::function<void()> fn) override;
  void stop() override;
  std::size_t size() const override { return live_.size(); }
  bool cancelled() const { return cancelled_; }
  const std::string& name() const { return name_; }

  // --- used by World ---------------------------------------------------------
  void fiber_started(std::uint64_t fid) { live_.insert(fid); }
  void fiber_ended(std::uint64_t fid) noexcept;

 private:
  World& world_;
  SimNode& node_;
  std::uint64_t incarnation_;
  std::string name_;
  std::uint64_t id_;
  bool cancelled_ = false;
  std::set<std::uint64_t> live_;                   // fiber ids, ordered
  std::vector<boost::fibers::context*> stoppers_;  // fibers waiting in stop()
};

// The Runtime of one node incarnation in the simulated world.
class NodeRuntime final : public Runtime {
 public:
  NodeRuntime(World& world, SimNode& node);
  NodeId node_id() const override { return node_.id; }
  const std::string& node_name() const override { return node_.name; }
  std::uint64_t incarnation() const override { return incarnation_; }
  MonoTime now() override { return world_.mono_now(node_); }
  std::int64_t wall_ms() override { return world_.wall_ms(node_); }
  void sleep(Duration d) override;
  void yield() override;
  Random random(std::string_view stream) override;
  void spawn(std::string name, std::function<void()> fn) override;
  std::unique_ptr<TaskScope> make_scope(std::string name) override;
  Parker& parker() override { return world_; }
  Network& net() override { return net_; }
  Disk& disk() override;
  spdlog::logger& log() override { return *node_.logger; }
  bool buggify(std::string_view name) override { return world_.buggify(name); }

 private:
  World& world_;
  SimNode& node_;
  std::uint64_t incarnation_;
  SimNodeNetwork net_;
};

}  // namespace samsa::sim
