#include "sim/live/live_world.h"

#include <boost/fiber/fixedsize_stack.hpp>
#include <boost/fiber/operations.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cxxabi.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace samsa::sim {

namespace {

constexpr std::uint32_t k_no_slot = ~std::uint32_t{0};
constexpr std::size_t k_stack_bytes = 256 * 1024;

std::uint64_t os_seed() {
  std::uint64_t seed = 0;
  if (::getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed))
    seed = static_cast<std::uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count()) ^ static_cast<std::uint64_t>(::getpid());
  return seed;
}

// The C++ runtime keeps its exception state (caught exceptions, the count
// behind std::uncaught_exceptions) per thread, not per fiber: a fiber parked
// inside a catch block or while unwinding would lend it to the fibers that
// run meanwhile. So every fiber takes its own state along when it switches
// out (as sim/world does; the layout is __cxa_eh_globals' two leading fields).
struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

class OwnExceptionState {
 public:
  OwnExceptionState() : g_(reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals())), saved_(*g_) {
    *g_ = EhGlobals{nullptr, 0};
  }
  ~OwnExceptionState() { *g_ = saved_; }
  OwnExceptionState(const OwnExceptionState&) = delete;
  OwnExceptionState& operator=(const OwnExceptionState&) = delete;

 private:
  EhGlobals* g_;
  EhGlobals saved_;
};

std::chrono::steady_clock::time_point to_steady(MonoTime t) {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(t.since_epoch));
}

}  // namespace

void suspend_own(boost::fibers::context* ctx) {
  OwnExceptionState own;
  ctx->suspend();
}

std::string_view to_string(LiveStop s) {
  switch (s) {
    case LiveStop::requested: return "requested";
    case LiveStop::idle: return "idle";
    case LiveStop::internal_error: return "internal_error";
  }
  return "unknown";
}

LiveWorld::LiveWorld(LiveConfig config)
    : config_(std::move(config)),
      seed_(config_.seed ? *config_.seed : os_seed()),
      work_(asio::make_work_guard(io_)) {
  LiveScheduler& sched = LiveScheduler::of_this_thread();
  SAMSA_ASSERT(sched.world() == nullptr, "one live world per thread");
  sched.attach(this);
  sink_ = config_.log_sink ? config_.log_sink : std::make_shared<spdlog::sinks::stderr_sink_mt>();
  control_node_.id = -1;
  control_node_.config.name = "control";
  control_node_.up = true;
  control_node_.logger = make_logger("control");
  control_node_.runtime = std::make_unique<LiveRuntime>(*this, control_node_);
  if (config_.handle_signals) setup_signals();
}

LiveWorld::~LiveWorld() {
  // Every fiber must be gone before the io_context and the nodes: run()
  // joins them; a world that never ran ends its nodes here.
  if (main_ctx_ == nullptr) main_ctx_ = boost::fibers::context::active();
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it)
    if ((*it)->up) end_incarnation(**it);
  if (control_node_.up) end_incarnation(control_node_);
  signals_.reset();
  // Handlers of closed sockets complete with operation_aborted; run them
  // now, while what they touch still exists.
  io_.restart();
  io_.poll();
  work_.reset();
  LiveScheduler::of_this_thread().attach(nullptr);
}

std::shared_ptr<spdlog::logger> LiveWorld::make_logger(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(name, sink_);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %-12n %-5l %v");
  logger->set_level(spdlog::level::from_str(config_.log_level));
  return logger;
}

// --- nodes -------------------------------------------------------------------

Result<NodeId, std::string> LiveWorld::add_node(LiveNodeConfig config,
                                                std::function<void(Runtime&)> main) {
  for (const auto& n : nodes_)
    SAMSA_ASSERT(n->config.name != config.name, "duplicate node name");
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Err{config.data_dir + ": " + ec.message()};
  if (::access(config.data_dir.c_str(), R_OK | W_OK | X_OK) != 0)
    return Err{config.data_dir + ": " + std::strerror(errno)};
  auto n = std::make_unique<LiveNode>();
  n->id = static_cast<NodeId>(nodes_.size());
  n->main = std::move(main);
  n->logger = make_logger(config.name);
  n->disk = std::make_unique<LiveDisk>(config.data_dir, &io_, this);
  n->config = std::move(config);
  nodes_.push_back(std::move(n));
  return nodes_.back()->id;
}

LiveNode& LiveWorld::node(NodeId id) {
  SAMSA_ASSERT(id >= 0 && static_cast<std::size_t>(id) < nodes_.size(), "no such node");
  return *nodes_[static_cast<std::size_t>(id)];
}
const LiveNode& LiveWorld::node(NodeId id) const {
  SAMSA_ASSERT(id >= 0 && static_cast<std::size_t>(id) < nodes_.size(), "no such node");
  return *nodes_[static_cast<std::size_t>(id)];
}

std::vector<NodeId> LiveWorld::node_ids() const {
  std::vector<NodeId> ids;
  for (const auto& n : nodes_) ids.push_back(n->id);
  return ids;
}

void LiveWorld::start(NodeId id) {
  LiveNode& n = node(id);
  SAMSA_ASSERT(!n.up && !n.stopping, "start of a node that is up");
  n.up = true;
  n.drain = nullptr;
  n.runtime = std::make_unique<LiveRuntime>(*this, n);
  n.logger->info("start (incarnation {}, data {})", n.incarnation, n.config.data_dir);
  LiveRuntime* rt = n.runtime.get();
  LiveNode* np = &n;
  spawn_on(n, "main", [rt, np] { np->main(*rt); });
}

void LiveWorld::set_drain(NodeId id, std::function<void()> drain) {
  node(id).drain = std::move(drain);
}

void LiveWorld::run_drain(LiveNode& n) {
  if (!n.drain) return;
  // The hook runs on a fiber of the node (it may use the node's runtime);
  // the caller waits for it at most drain_timeout.
  // The event is shared: a drain that overruns is crashed after we stopped
  // waiting, and still sets it.
  auto done = std::make_shared<Event>(*this);
  auto drain = std::move(n.drain);
  n.drain = nullptr;
  spawn_on(n, "drain", [drain = std::move(drain), done] {
    struct Done {
      Event& e;
      ~Done() { e.set(); }
    } mark{*done};
    drain();
  });
  if (!done->wait(mono_now() + config_.drain_timeout, "node.drain"))
    n.logger->warn("controlled shutdown did not finish within {} ms; stopping anyway",
                   to_ms(config_.drain_timeout));
}

void LiveWorld::shutdown(NodeId id) {
  LiveNode& n = node(id);
  SAMSA_ASSERT(&current_node() != &n, "a node cannot shut itself down from inside");
  if (!n.up || n.stopping) return;
  n.logger->info("controlled shutdown");
  run_drain(n);
  end_incarnation(n);
}

void LiveWorld::kill(NodeId id) {
  LiveNode& n = node(id);
  SAMSA_ASSERT(&current_node() != &n, "a node cannot kill itself from inside");
  if (!n.up || n.stopping) return;
  n.logger->info("kill");
  end_incarnation(n);
}

void LiveWorld::end_incarnation(LiveNode& n) {
  if (n.stopping) return;
  n.stopping = true;
  n.up = false;
  ++n.incarnation;
  // Wake every parked fiber; each throws Crashed when it runs and unwinds
  // (closing its sockets and files). The set to join is fixed: an ended
  // incarnation spawns nothing.
  std::vector<Waiter*> parked;
  for (Waiter& w : n.parked) parked.push_back(&w);
  for (Waiter* w : parked) wake(*w);
  std::map<std::uint64_t, boost::fibers::fiber> dying = std::move(n.fibers);
  n.fibers.clear();
  n.finished.clear();
  {
    OwnExceptionState own;  // the joins switch fibers
    for (auto& [fid, f] : dying) f.join();
  }
  n.finished.clear();
  n.stopping = false;
  n.runtime.reset();  // its network stats and handles are gone with it
  if (&n != &control_node_) n.logger->info("stopped");
}

// --- actors --------------------------------------------------------------------

Runtime& LiveWorld::control() { return *control_node_.runtime; }

void LiveWorld::spawn(std::string name, std::function<void()> fn) {
  spawn_on(control_node_, std::move(name), std::move(fn));
}

void LiveWorld::spawn_on(LiveNode& n, std::string name, std::function<void()> fn,
                         LiveTaskScope* scope) {
  reap(n);
  const std::uint64_t fid = next_fiber_id_++;
  const std::uint64_t incarnation = n.incarnation;
  LiveNode* np = &n;
  boost::fibers::fiber f(std::allocator_arg, boost::fibers::fixedsize_stack(k_stack_bytes),
                         [this, np, fid, incarnation, scope, fn = std::move(fn)]() mutable {
    try {
      // Moved in so that its captures die while a Crashed is in flight.
      auto body = std::move(fn);
      if (np->incarnation == incarnation && !(scope && scope->cancelled())) body();
    } catch (const Crashed&) {
      // The node's incarnation ended; the fiber just ends.
    } catch (const Cancelled&) {
      // Its task scope was stopped; the fiber just ends.
    } catch (...) {
      record_failure(std::current_exception());
    }
    np->finished.push_back(fid);
    fiber_ended();
    // Last: the scope's stop() may return (and free the scope) now.
    if (scope) scope->fiber_ended(fid);
  });
  ++live_fibers_;
  LiveFiberProps& props = f.properties<LiveFiberProps>();
  props.fiber_id = fid;
  props.node = np;
  props.incarnation = incarnation;
  props.scope = scope;
  props.name = n.config.name + "/" + name;
  n.fibers.emplace(fid, std::move(f));
  if (scope) scope->fiber_started(fid);
}

void LiveWorld::reap(LiveNode& n) {
  // A fiber that recorded itself finished ends before any other fiber runs,
  // so these joins never block.
  for (std::uint64_t fid : n.finished) {
    auto it = n.fibers.find(fid);
    if (it == n.fibers.end()) continue;
    it->second.join();
    n.fibers.erase(it);
  }
  n.finished.clear();
}

std::size_t LiveWorld::fiber_count() const { return live_fibers_; }

void LiveWorld::fiber_ended() noexcept {
  --live_fibers_;
  if (running_ && live_fibers_ == 0) wake_main();
}

void LiveWorld::record_failure(std::exception_ptr e) noexcept {
  std::string what;
  try {
    std::rethrow_exception(e);
  } catch (const InternalError& ie) {
    what = ie.message;
  } catch (const std::exception& ex) {
    what = std::string("uncaught exception: ") + ex.what();
  } catch (...) {
    what = "uncaught exception of unknown type";
  }
  control_node_.logger->error("internal error: {}", what);
  if (!internal_error_) internal_error_ = what;
  stop_requested_ = true;
  wake_main();
}

// --- running ---------------------------------------------------------------------

void LiveWorld::request_stop() {
  stop_flag_.store(true);
  asio::post(io_, [this] {
    stop_requested_ = true;
    wake_main();
  });
}

void LiveWorld::wake_main() noexcept {
  if (!main_waiting_) return;
  main_waiting_ = false;
  boost::fibers::context::active()->schedule(main_ctx_);
}

void LiveWorld::setup_signals() {
  signals_.emplace(io_, SIGINT, SIGTERM);
  // The handler re-arms itself from a member (capturing only `this`): a
  // shared_ptr capturing itself was a cycle that leaked.
  signal_handler_ = [this](const std::error_code& ec, int sig) {
    if (ec) return;
    ++signals_seen_;
    if (signals_seen_ > 1 && sig == SIGINT) {
      control_node_.logger->warn("second SIGINT: exiting now");
      std::fflush(nullptr);
      ::_exit(130);
    }
    if (signals_seen_ == 1) {
      control_node_.logger->info("{}: controlled shutdown (SIGINT again exits at once)",
                                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
      stop_signal_ = sig;
      stop_requested_ = true;
      wake_main();
    }
    signals_->async_wait(signal_handler_);
  };
  signals_->async_wait(signal_handler_);
}

LiveRunResult LiveWorld::run() {
  SAMSA_ASSERT(!running_, "LiveWorld::run is not reentrant");
  main_ctx_ = boost::fibers::context::active();
  running_ = true;
  while (!stop_requested_ && fiber_count() > 0) {
    main_waiting_ = true;
    suspend_own(main_ctx_);
  }
  running_ = false;
  const bool idle = !stop_requested_ && !stop_flag_.load();
  // Brokers go before the coordinator they talk to while draining.
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it)
    if ((*it)->up) shutdown((*it)->id);
  end_incarnation(control_node_);
  LiveRunResult r;
  r.signal = stop_signal_;
  if (internal_error_) {
    r.reason = LiveStop::internal_error;
    r.message = *internal_error_;
  } else {
    r.reason = idle ? LiveStop::idle : LiveStop::requested;
  }
  return r;
}

// --- timers -------------------------------------------------------------------------

MonoTime LiveWorld::mono_now() {
  return MonoTime{std::chrono::duration_cast<Duration>(
      std::chrono::steady_clock::now().time_since_epoch())};
}

std::int64_t LiveWorld::wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint32_t LiveWorld::take_slot(Waiter* w) {
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(waiter_slots_.size());
    waiter_slots_.push_back(nullptr);
    waiter_slot_seq_.push_back(0);
  }
  waiter_slots_[slot] = w;
  waiter_slot_seq_[slot] = w->park_seq;
  return slot;
}

std::optional<MonoTime> LiveWorld::next_deadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.front().at;
}

bool LiveWorld::fire_due_timers() noexcept {
  if (timers_.empty()) return false;
  const MonoTime now = mono_now();
  bool fired = false;
  while (!timers_.empty() && timers_.front().at <= now) {
    const Timer t = timers_.front();
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
    timers_.pop_back();
    Waiter* w = waiter_slots_[t.slot];
    if (w == nullptr || waiter_slot_seq_[t.slot] != t.park_seq) continue;  // woken earlier
    w->reason = Wake::timed_out;
    wake(*w);
    fired = true;
  }
  return fired;
}

void LiveWorld::poll_io() noexcept {
  io_.poll();
  if (io_.stopped()) io_.restart();
  fire_due_timers();
}

void LiveWorld::wait_io(std::chrono::steady_clock::time_point tp) noexcept {
  if (fire_due_timers()) return;
  if (const auto next = next_deadline()) tp = std::min(tp, to_steady(*next));
  if (tp == std::chrono::steady_clock::time_point::max())
    io_.run_one();
  else
    io_.run_one_until(tp);
  if (io_.stopped()) io_.restart();
  fire_due_timers();
}

// --- parking -----------------------------------------------------------------------------

LiveNode& LiveWorld::current_node() {
  const LiveFiberProps* p = LiveScheduler::props_of(boost::fibers::context::active());
  return (p && p->node) ? *p->node : control_node_;
}

bool LiveWorld::check_alive() {
  const LiveFiberProps* p = LiveScheduler::props_of(boost::fibers::context::active());
  if (p == nullptr || p->node == nullptr) return true;
  if (p->node->incarnation != p->incarnation) {
    if (std::uncaught_exceptions() > 0) return false;  // unwinding: drop the op
    throw Crashed{};
  }
  if (p->scope && p->scope->cancelled()) {
    if (std::uncaught_exceptions() > 0) return true;  // the node lives: go ahead
    throw Cancelled{};
  }
  return true;
}

bool LiveWorld::doomed(const LiveFiberProps* p, const LiveNode& n, std::uint64_t incarnation) {
  if (n.incarnation != incarnation) {
    if (std::uncaught_exceptions() > 0) return true;
    throw Crashed{};
  }
  if (p && p->scope && p->scope->cancelled()) {
    if (std::uncaught_exceptions() > 0) return true;
    throw Cancelled{};
  }
  return false;
}

Wake LiveWorld::park(Waiter& w, std::optional<MonoTime> deadline) {
  boost::fibers::context* ctx = boost::fibers::context::active();
  const LiveFiberProps* p = LiveScheduler::props_of(ctx);
  LiveNode& n = (p && p->node) ? *p->node : control_node_;
  const std::uint64_t incarnation = p && p->node ? p->incarnation : n.incarnation;
  // A destructor of an ended incarnation (or a stopped scope), running while
  // Crashed (Cancelled) unwinds, must not throw: its wait ends at once.
  if (doomed(p, n, incarnation)) return Wake::timed_out;
  w.ctx = ctx;
  w.parker = this;
  w.park_seq = next_park_seq_++;
  w.reason = Wake::notified;
  w.state = Waiter::State::parked;
  n.parked.push_back(w);
  if (deadline) {
    w.timer_slot = take_slot(&w);
    timers_.push_back(Timer{*deadline, next_seq_++, w.timer_slot, w.park_seq});
    std::push_heap(timers_.begin(), timers_.end(), std::greater<>{});
  }
  suspend_own(ctx);
  if (w.node_hook.is_linked()) w.node_hook.unlink();
  if (w.timer_slot != k_no_slot) {
    waiter_slots_[w.timer_slot] = nullptr;
    free_slots_.push_back(w.timer_slot);
    w.timer_slot = k_no_slot;
  }
  w.state = Waiter::State::idle;
  if (doomed(p, n, incarnation)) return Wake::timed_out;
  return w.reason;
}

void LiveWorld::wake(Waiter& w) noexcept {
  if (w.state != Waiter::State::parked) return;
  w.state = Waiter::State::woken;
  boost::fibers::context::active()->schedule(w.ctx);
}

void LiveWorld::yield_now() {
  if (!check_alive()) return;
  {
    OwnExceptionState own;
    boost::this_fiber::yield();
  }
  check_alive();
}

// --- LiveRuntime ----------------------------------------------------------------------------

LiveRuntime::LiveRuntime(LiveWorld& world, LiveNode& node)
    : world_(world),
      node_(node),
      incarnation_(node.incarnation),
      net_(world.io(), world,
           LiveNetOptions{node.config.listen_host, node.config.max_frame_bytes,
                          node.config.send_buffer_bytes, node.logger.get(),
                          node.config.connection_limits, node.config.frame_observer},
           world.next_conn_id_, world.net_stats_, world.links_, node.id) {}

void LiveRuntime::sleep(Duration d) {
  Waiter w("sleep");
  world_.park(w, LiveWorld::mono_now() + std::max(d, Duration{0}));
}

Random LiveRuntime::random(std::string_view stream) {
  return Random(world_.seed()).derive(fmt::format("{}#{}:{}", node_.config.name, incarnation_, stream));
}

void LiveRuntime::spawn(std::string name, std::function<void()> fn) {
  if (!world_.check_alive()) return;  // unwinding: spawn nothing
  if (incarnation_ != node_.incarnation) throw Crashed{};
  // A fiber of a task scope spawns into the same scope: nothing escapes it.
  const LiveFiberProps* p = LiveScheduler::props_of(boost::fibers::context::active());
  LiveTaskScope* scope = (p && p->node == &node_) ? p->scope : nullptr;
  if (scope && scope->cancelled()) return;  // unwinding from Cancelled: spawn nothing
  world_.spawn_on(node_, std::move(name), std::move(fn), scope);
}

std::unique_ptr<TaskScope> LiveRuntime::make_scope(std::string name) {
  if (world_.check_alive() && incarnation_ != node_.incarnation) throw Crashed{};
  return std::make_unique<LiveTaskScope>(world_, node_, std::move(name));
}

// --- LiveTaskScope ---------------------------------------------------------------------------

LiveTaskScope::LiveTaskScope(LiveWorld& world, LiveNode& node, std::string name)
    : world_(world), node_(node), incarnation_(node.incarnation), name_(std::move(name)) {}

void LiveTaskScope::spawn(std::string name, std::function<void()> fn) {
  if (!world_.check_alive()) return;  // unwinding after a shutdown: spawn nothing
  if (cancelled_ && std::uncaught_exceptions() > 0) return;
  SAMSA_ASSERT(&world_.current_node() == &node_, "spawn into a task scope of another node");
  SAMSA_ASSERT(incarnation_ == node_.incarnation, "spawn into a task scope of an ended incarnation");
  SAMSA_ASSERT(!cancelled_, "spawn into a stopped task scope");
  world_.spawn_on(node_, name_ + "/" + name, std::move(fn), this);
}

void LiveTaskScope::stop() {
  if (live_.empty()) {
    cancelled_ = true;
    return;
  }
  boost::fibers::context* ctx = boost::fibers::context::active();
  const LiveFiberProps* p = LiveScheduler::props_of(ctx);
  SAMSA_ASSERT(p != nullptr && p->node == &node_,
               "TaskScope::stop with live fibers from outside its node");
  SAMSA_ASSERT(p->scope != this, "TaskScope::stop from a fiber of the scope itself");
  if (!cancelled_) {
    cancelled_ = true;
    std::vector<Waiter*> parked;
    for (Waiter& w : node_.parked) {
      const LiveFiberProps* wp = LiveScheduler::props_of(w.ctx);
      if (wp && wp->scope == this) parked.push_back(&w);
    }
    for (Waiter* w : parked) world_.wake(*w);
  }
  // Wait outside the parking primitives (it must work while this fiber
  // unwinds) until the last fiber ends; nothing of `this` is touched after.
  stoppers_.push_back(ctx);
  suspend_own(ctx);
}

void LiveTaskScope::fiber_ended(std::uint64_t fid) noexcept {
  live_.erase(fid);
  if (!live_.empty()) return;
  for (boost::fibers::context* s : stoppers_) boost::fibers::context::active()->schedule(s);
  stoppers_.clear();
}

Disk& LiveRuntime::disk() {
  SAMSA_ASSERT(node_.disk != nullptr, "control actors have no disk");
  return *node_.disk;
}

}  // namespace samsa::sim
