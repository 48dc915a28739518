#include "sim/world/world.h"

#include <boost/fiber/fixedsize_stack.hpp>
#include <boost/fiber/operations.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cxxabi.h>

#include <algorithm>
#include <exception>
#include <limits>

namespace samsa::sim {

namespace {

constexpr std::uint32_t k_no_slot = ~std::uint32_t{0};
constexpr std::size_t k_stack_bytes = 256 * 1024;

// "%V" in a log pattern: the world's virtual time in seconds.
class VirtualTimeFlag final : public spdlog::custom_flag_formatter {
 public:
  explicit VirtualTimeFlag(const World* world) : world_(world) {}
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto ns = world_->now().count();
    fmt::format_to(std::back_inserter(dest), "{:>6}.{:06}", ns / 1'000'000'000,
                   (ns / 1000) % 1'000'000);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<VirtualTimeFlag>(world_);
  }

 private:
  const World* world_;
};

// The C++ runtime keeps its exception state (the caught-exception stack and
// the uncaught count behind std::uncaught_exceptions) per thread, not per
// fiber. A fiber that parks inside a catch block, or while it unwinds (a
// TaskScope destructor joining its fibers), would lend that state to every
// fiber that runs meanwhile: they would see themselves as unwinding and a
// crashed fiber's sleep would return instead of throwing. So each fiber
// takes its own state with it when it switches out. The layout is that of
// libstdc++'s and libc++abi's __cxa_eh_globals (two leading fields).
struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

EhGlobals* eh_globals() {
  // __cxa_get_globals is a call into the C++ runtime's TLS; the address is
  // fixed per thread, so ask once.
  thread_local EhGlobals* g = reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals());
  return g;
}

// Every fiber that switches out leaves the state clear, so a fiber that
// parks with a clear state (nearly always) has nothing to save or restore.
class OwnExceptionState {
 public:
  OwnExceptionState() : g_(eh_globals()), saved_(*g_) {
    if (saved_.caught_exceptions != nullptr || saved_.uncaught_exceptions != 0) [[unlikely]]
      *g_ = EhGlobals{nullptr, 0};
  }
  ~OwnExceptionState() {
    if (saved_.caught_exceptions != nullptr || saved_.uncaught_exceptions != 0) [[unlikely]]
      *g_ = saved_;
  }
  OwnExceptionState(const OwnExceptionState&) = delete;
  OwnExceptionState& operator=(const OwnExceptionState&) = delete;

 private:
  EhGlobals* g_;
  EhGlobals saved_;
};

// Suspends the running fiber; it resumes with the exception state it had.
void suspend_own(boost::fibers::context* ctx) {
  OwnExceptionState own;
  ctx->suspend();
}

// The running fiber (SimScheduler::running: no thread-local lookup in
// Boost.Fiber's library per operation).
boost::fibers::context* running_fiber() { return SimScheduler::of_this_thread().running(); }

std::int64_t scale_ppm(std::int64_t ns, std::int64_t ppm) {
  // 64 bits whenever the product fits (any run shorter than hours): the same
  // truncating quotient, without __int128's division call on every clock read.
  std::int64_t product = 0;
  if (!__builtin_mul_overflow(ns, ppm, &product)) return product / 1'000'000;
  return static_cast<std::int64_t>(static_cast<__int128>(ns) * ppm / 1'000'000);
}

}  // namespace

std::string_view to_string(StopReason r) {
  switch (r) {
    case StopReason::time_limit: return "time_limit";
    case StopReason::idle: return "idle";
    case StopReason::stuck: return "stuck";
    case StopReason::stopped: return "stopped";
    case StopReason::internal_error: return "internal_error";
  }
  return "unknown";
}

World::World(WorldConfig config)
    : config_(std::move(config)),
      rng_(Random(config_.seed).derive("world")),
      sched_rng_(Random(config_.seed).derive("scheduler")),
      buggify_rng_(Random(config_.seed).derive("buggify")) {
  SimScheduler::of_this_thread();  // fibers need samsa's scheduler from the start
  sink_ = config_.log_sink ? config_.log_sink
                           : std::make_shared<spdlog::sinks::stderr_sink_st>();
  world_node_.id = -1;
  world_node_.name = "world";
  world_node_.up = true;
  world_node_.logger = make_logger("world");
  network_ = std::make_unique<SimNetwork>(*this, config_.network);
  world_node_.runtime = std::make_unique<NodeRuntime>(*this, world_node_);
}

World::~World() { shutdown_all(); }

std::shared_ptr<spdlog::logger> World::make_logger(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(name, sink_);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<VirtualTimeFlag>('V', this).set_pattern("%V %-8n %-5l %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(config_.log_level));
  return logger;
}

// --- nodes -------------------------------------------------------------------

NodeId World::add_node(std::string name, std::function<void(Runtime&)> main) {
  SAMSA_ASSERT(!find_node(name), "duplicate node name");
  auto n = std::make_unique<SimNode>();
  n->id = static_cast<NodeId>(nodes_.size());
  n->name = std::move(name);
  n->main = std::move(main);
  Random clock_rng = Random(config_.seed).derive("clock:" + n->name);
  n->drift_ppm = clock_rng.uniform_signed(-config_.drift_max_ppm, config_.drift_max_ppm);
  n->wall_offset = clock_rng.uniform(-config_.wall_offset_max, config_.wall_offset_max);
  n->logger = make_logger(n->name);
  n->crash_done = std::make_unique<WaitQueue>(*this);
  n->disk = std::make_unique<SimDisk>(*this, *n, config_.disk,
                                      Random(config_.seed).derive("disk:" + n->name));
  nodes_.push_back(std::move(n));
  return nodes_.back()->id;
}

const SimNode& World::node(NodeId id) const {
  SAMSA_ASSERT(id >= 0 && static_cast<std::size_t>(id) < nodes_.size(), "no such node");
  return *nodes_[static_cast<std::size_t>(id)];
}
SimNode& World::node(NodeId id) {
  SAMSA_ASSERT(id >= 0 && static_cast<std::size_t>(id) < nodes_.size(), "no such node");
  return *nodes_[static_cast<std::size_t>(id)];
}

std::optional<NodeId> World::find_node(std::string_view name) const {
  for (const auto& n : nodes_)
    if (n->name == name) return n->id;
  return std::nullopt;
}

std::vector<NodeId> World::node_ids() const {
  std::vector<NodeId> ids;
  for (const auto& n : nodes_) ids.push_back(n->id);
  return ids;
}

SimDisk& World::disk(NodeId id) { return *node(id).disk; }

void World::discard_disk_contents() {
  for (auto& n : nodes_)
    if (n->disk) n->disk->discard_contents();
}

void World::start(NodeId id) {
  SimNode& n = node(id);
  if (tearing_down_) return;
  // A crash in progress (joining the old incarnation's fibers) finishes
  // before the node can start again.
  while (n.crashing) n.crash_done->wait("node.crash_in_progress");
  SAMSA_ASSERT(!n.up, "start of a node that is up");
  n.up = true;
  n.runtime = std::make_unique<NodeRuntime>(*this, n);
  trace_.fold(TraceKind::restart, static_cast<std::uint64_t>(id), n.incarnation, id);
  n.logger->info("start (incarnation {})", n.incarnation);
  NodeRuntime* rt = n.runtime.get();
  spawn_on(n, "main", [rt, &n] { n.main(*rt); });
}

void World::crash(NodeId id, std::optional<CrashMode> disk_mode) {
  SimNode& n = node(id);
  SAMSA_ASSERT(&current_node() != &n, "a node cannot crash itself from inside");
  while (n.crashing) n.crash_done->wait("node.crash_in_progress");
  if (!n.up) return;
  n.logger->info("crash (incarnation {})", n.incarnation);
  n.up = false;
  n.crashing = true;
  ++n.incarnation;
  thaw(n);  // SIGKILL ends a SIGSTOP
  trace_.fold(TraceKind::crash, static_cast<std::uint64_t>(id), n.incarnation, id);
  network_->node_crashed(id);
  // Wake every parked fiber of the node; each throws Crashed when it runs.
  std::vector<Waiter*> parked;
  for (Waiter& w : n.parked) parked.push_back(&w);
  for (Waiter* w : parked) wake(*w);
  // Join them all. An ended incarnation spawns nothing (spawn refuses), so
  // the set to join is fixed now.
  join_all(n);
  const CrashMode mode = disk_mode ? n.disk->crash(*disk_mode) : n.disk->crash();
  trace_.fold(TraceKind::disk_crash, static_cast<std::uint64_t>(id),
              static_cast<std::uint64_t>(mode), id);
  n.logger->info("disk after crash: {}", to_string(mode));
  n.crashing = false;
  n.crash_done->notify_all();
}

void World::pause(NodeId id) {
  SimNode& n = node(id);
  if (!n.up || n.crashing || n.paused) return;
  n.paused = true;
  trace_.fold(TraceKind::fault, 4, static_cast<std::uint64_t>(id), id);
  n.logger->info("paused");
}

void World::resume(NodeId id) {
  SimNode& n = node(id);
  if (!n.paused) return;
  trace_.fold(TraceKind::fault, 5, static_cast<std::uint64_t>(id), id);
  n.logger->info("resumed");
  thaw(n);
}

void World::thaw(SimNode& n) {
  n.paused = false;
  SimScheduler& sched = SimScheduler::of_this_thread();
  for (boost::fibers::context* ctx : n.frozen) sched.make_ready(ctx);
  n.frozen.clear();
}

void World::join_all(SimNode& n) {
  std::map<std::uint64_t, boost::fibers::fiber> dying = std::move(n.fibers);
  n.fibers.clear();
  n.finished.clear();
  for (auto& [fid, f] : dying) f.join();
}

void World::restart(NodeId id) {
  crash(id);  // waits for a crash in progress; nothing to do when down
  // Another fiber's restart may have started it while this one waited.
  if (!is_up(id)) start(id);
}

// --- actors --------------------------------------------------------------------

Runtime& World::control() { return *world_node_.runtime; }

void World::spawn(std::string name, std::function<void()> fn) {
  spawn_on(world_node_, std::move(name), std::move(fn));
}

void World::spawn_on(SimNode& n, std::string name, std::function<void()> fn,
                     SimTaskScope* scope) {
  reap(n);
  const std::uint64_t fid = next_fiber_id_++;
  const std::uint64_t incarnation = n.incarnation;
  SimNode* np = &n;
  // Stacks are allocated with malloc (mmap for this size), so untouched
  // pages cost nothing; 256 KiB leaves room for logging and codecs.
  boost::fibers::fiber f(std::allocator_arg, boost::fibers::fixedsize_stack(k_stack_bytes),
                         [this, np, fid, incarnation, scope, fn = std::move(fn)]() mutable {
    try {
      // Moved in here so that its captures are destroyed while a Crashed is
      // still in flight (their destructors' runtime calls are then dropped).
      auto body = std::move(fn);
      // A fiber whose incarnation ended (or whose scope was stopped) before
      // it first ran never starts.
      if (np->incarnation == incarnation && !(scope && scope->cancelled())) body();
    } catch (const Crashed&) {
      // The node's incarnation ended; the fiber just ends.
    } catch (const Cancelled&) {
      // Its task scope was stopped; the fiber just ends.
    } catch (...) {
      record_failure(std::current_exception());
    }
    np->finished.push_back(fid);
    fiber_finished();
    // Last: the scope's stop() may return (and free the scope) once the
    // last of its fibers has ended.
    if (scope) scope->fiber_ended(fid);
  });
  FiberProps& props = f.properties<FiberProps>();
  props.fiber_id = fid;
  props.node = np;
  props.incarnation = incarnation;
  props.scope = scope;
  props.name = n.name + "/" + name;
  n.fibers.emplace(fid, std::move(f));
  if (scope) scope->fiber_started(fid);
}

void World::reap(SimNode& n) {
  // A fiber that recorded itself finished has terminated before any other
  // fiber could run, so these joins never block.
  for (std::uint64_t fid : n.finished) {
    auto it = n.fibers.find(fid);
    if (it == n.fibers.end()) continue;
    it->second.join();
    n.fibers.erase(it);
  }
  n.finished.clear();
}

void World::shutdown_all() {
  SimScheduler& sched = SimScheduler::of_this_thread();
  sched.attach(this);
  tearing_down_ = true;
  main_ctx_ = boost::fibers::context::active();
  for (auto& n : nodes_) {
    thaw(*n);
    if (!n->up) continue;
    n->up = false;
    ++n->incarnation;
  }
  ++world_node_.incarnation;
  auto unwind = [this](SimNode& n) {
    std::vector<Waiter*> parked;
    for (Waiter& w : n.parked) parked.push_back(&w);
    for (Waiter* w : parked) wake(*w);
    join_all(n);
  };
  for (auto& n : nodes_) unwind(*n);
  unwind(world_node_);
  callbacks_.clear();
  timers_.clear();
  sched.attach(nullptr);
}

// --- running ---------------------------------------------------------------------

RunResult World::run(Duration limit) {
  SimScheduler& sched = SimScheduler::of_this_thread();
  SAMSA_ASSERT(sched.world() == nullptr || sched.world() == this,
               "one world per thread at a time");
  sched.attach(this);
  limit_ = limit;
  stop_requested_ = false;
  main_ctx_ = boost::fibers::context::active();
  main_waiting_ = true;
  main_ctx_->suspend();
  sched.attach(nullptr);
  return finish_run();
}

RunResult World::finish_run() {
  if (fiber_exception_) std::rethrow_exception(std::exchange(fiber_exception_, nullptr));
  if (internal_error_) return {StopReason::internal_error, *internal_error_};
  if (stop_requested_) return {StopReason::stopped, {}};
  if (has_live_timer()) {
    vt_ = std::max(vt_, limit_);
    return {StopReason::time_limit, {}};
  }
  std::string report = stuck_report();
  if (!report.empty()) return {StopReason::stuck, std::move(report)};
  return {StopReason::idle, {}};
}

std::string World::stuck_report() const {
  std::string out;
  auto describe = [&out](const SimNode& n) {
    for (const Waiter& w : n.parked) {
      const FiberProps* p = SimScheduler::props_of(w.ctx);
      out += fmt::format("  {} waits on {}{}\n", p ? p->name : n.name, w.what,
                         n.paused ? " (paused)" : "");
    }
  };
  describe(world_node_);
  for (const auto& n : nodes_) describe(*n);
  return out;
}

boost::fibers::context* World::pick(std::vector<boost::fibers::context*>& ready) noexcept {
  while (!ready.empty()) {
    const std::size_t i = ready.size() == 1 ? 0 : sched_rng_.index(ready.size());
    boost::fibers::context* ctx = ready[i];
    ready[i] = ready.back();
    ready.pop_back();
    const FiberProps* p = SimScheduler::props_of(ctx);
    if (p && p->node && p->node->paused) [[unlikely]] {
      // Ready, but its process is stopped: it runs at resume.
      p->node->frozen.push_back(ctx);
      continue;
    }
    trace_.fold(TraceKind::pick, p ? p->fiber_id : 0, 0,
                p && p->node ? p->node->id : -1, p ? std::string_view(p->name) : "main");
    return ctx;
  }
  return nullptr;
}

boost::fibers::context* World::take_main() noexcept {
  // The main fiber suspending in run() with nothing to do cannot resume
  // itself: the dispatcher hands it back.
  if (!main_waiting_ || main_ctx_ == boost::fibers::context::active()) return nullptr;
  main_waiting_ = false;
  return main_ctx_;
}

bool World::is_stale(const Timer& t) const {
  return t.park_seq != 0 &&
         (waiter_slots_[t.slot] == nullptr || waiter_slot_seq_[t.slot] != t.park_seq);
}

bool World::has_live_timer() const {
  for (const Timer& t : timers_)
    if (!is_stale(t)) return true;
  return false;
}

// A waiter woken before its deadline leaves its timer in the heap until it
// reaches the top, and deadlines (request timeouts, sessions) are far longer
// than most waits: stale timers were most of the heap and of its pops.
// Dropping them when the heap has doubled keeps it small at O(1) amortized
// per timer; the live ones still fire in (at, seq) order, a total order, so
// the heap's layout changes nothing.
void World::drop_stale_timers() {
  std::erase_if(timers_, [this](const Timer& t) { return is_stale(t); });
  std::make_heap(timers_.begin(), timers_.end(), std::greater<>{});
  purge_timers_at_ = std::max(k_min_timer_purge, 2 * timers_.size());
}

bool World::fire_next_timer() noexcept {
  if (stop_requested_ || tearing_down_) return false;
  while (!timers_.empty()) {
    const Timer t = timers_.front();
    // A stale timer (its waiter was woken earlier) is dropped wherever it
    // is: time does not move for it, and it says nothing about the limit.
    if (!is_stale(t) && t.at > limit_) return false;
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
    timers_.pop_back();
    if (is_stale(t)) continue;
    vt_ = std::max(vt_, t.at);
    if (t.park_seq == 0) {
      TimerFn fn = std::move(callbacks_[t.slot]);
      free_callbacks_.push_back(t.slot);
      trace_.fold(TraceKind::timer, static_cast<std::uint64_t>(vt_.count()), t.seq);
      run_callback(fn);
      return true;
    }
    Waiter* w = waiter_slots_[t.slot];
    trace_.fold(TraceKind::timer, static_cast<std::uint64_t>(vt_.count()), t.seq);
    w->reason = Wake::timed_out;
    wake(*w);
    return true;
  }
  return false;
}

void World::run_callback(TimerFn& fn) noexcept {
  // Callbacks run inside the scheduler (noexcept): an assertion there is
  // still an internal error of the run, not a terminated process.
  try {
    fn();
  } catch (...) {
    record_failure(std::current_exception());
  }
}

void World::record_failure(std::exception_ptr e) noexcept {
  // A failed SAMSA_ASSERT stops the run as an internal error. Anything else
  // is a bug of the code under test (or a failed test assertion): run()
  // rethrows it on its caller's fiber. The first failure wins.
  try {
    std::rethrow_exception(e);
  } catch (const InternalError& ie) {
    if (!internal_error_) internal_error_ = ie.message;
  } catch (...) {
    if (!fiber_exception_) fiber_exception_ = e;
  }
  stop();
}

void World::push_timer(Duration at, std::uint32_t slot, std::uint64_t park_seq) {
  if (timers_.size() >= purge_timers_at_) drop_stale_timers();
  timers_.push_back(Timer{at, next_seq_++, slot, park_seq});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>{});
}

void World::at(Duration when, TimerFn fn) {
  std::uint32_t slot;
  if (!free_callbacks_.empty()) {
    slot = free_callbacks_.back();
    free_callbacks_.pop_back();
    callbacks_[slot] = std::move(fn);
  } else {
    slot = static_cast<std::uint32_t>(callbacks_.size());
    callbacks_.push_back(std::move(fn));
  }
  push_timer(std::max(when, vt_), slot, 0);
}

// --- clocks ------------------------------------------------------------------------

MonoTime World::mono_now(const SimNode& n) const { return mono_at(n, vt_); }

MonoTime World::mono_at(const SimNode& n, Duration v) const {
  return MonoTime{v + Duration(scale_ppm(v.count(), n.drift_ppm))};
}

Duration World::to_virtual(const SimNode& n, MonoTime t) const {
  // Inverse of mono_now, rounded up so the node's clock has reached t.
  // In 64 bits when nothing overflows (the same quotient as below).
  const std::int64_t den64 = 1'000'000 + n.drift_ppm;
  const std::int64_t ns = t.since_epoch.count();
  std::int64_t num64 = 0;
  if (ns >= 0 && den64 > 0 && !__builtin_mul_overflow(ns, std::int64_t{1'000'000}, &num64) &&
      num64 <= std::numeric_limits<std::int64_t>::max() - den64)
    return Duration((num64 + den64 - 1) / den64);
  const __int128 num = static_cast<__int128>(t.since_epoch.count()) * 1'000'000;
  const __int128 den = 1'000'000 + n.drift_ppm;
  const __int128 v = (num + den - 1) / den;
  const __int128 max = std::numeric_limits<std::int64_t>::max();
  return Duration(static_cast<std::int64_t>(v > max ? max : v));
}

std::int64_t World::wall_ms(const SimNode& n) const {
  const Duration mono = mono_now(n).since_epoch;
  Duration wall = mono + n.wall_offset;
  if (n.wall_skew_ppm != 0 && mono > n.wall_skew_since)
    wall += Duration(scale_ppm((mono - n.wall_skew_since).count(), n.wall_skew_ppm));
  return config_.start_wall_ms + to_ms(wall);
}

void World::jump_wall_clock(NodeId id, Duration delta) {
  node(id).wall_offset += delta;
  trace_.fold(TraceKind::fault, 1, static_cast<std::uint64_t>(delta.count()));
}

void World::skew_wall_clock(NodeId id, std::int64_t ppm) {
  SimNode& n = node(id);
  // Fold the skew so far into the offset, then skew from now on.
  const Duration mono = mono_now(n).since_epoch;
  if (n.wall_skew_ppm != 0 && mono > n.wall_skew_since)
    n.wall_offset += Duration(scale_ppm((mono - n.wall_skew_since).count(), n.wall_skew_ppm));
  n.wall_skew_ppm = ppm;
  n.wall_skew_since = mono;
  trace_.fold(TraceKind::fault, 2, static_cast<std::uint64_t>(ppm));
}

// --- buggify ---------------------------------------------------------------------------

bool World::buggify(std::string_view name) {
  if (!config_.buggify) return false;
  auto it = buggify_active_.find(name);
  if (it == buggify_active_.end()) {
    // Whether a point is active depends on its name and the seed only, not
    // on which point happened to be reached first.
    Random r = Random(config_.seed).derive(std::string("buggify:") + std::string(name));
    it = buggify_active_.emplace(std::string(name), r.chance(config_.buggify_point_probability))
             .first;
  }
  if (!it->second || !buggify_rng_.chance(config_.buggify_fire_probability)) return false;
  auto f = buggify_fired_.find(name);
  if (f == buggify_fired_.end()) f = buggify_fired_.emplace(std::string(name), 0).first;
  ++f->second;
  trace_.fold(TraceKind::fault, 3, stable_hash(name));
  return true;
}

// --- parking -----------------------------------------------------------------------------

SimNode& World::current_node() {
  const FiberProps* p = SimScheduler::props_of(running_fiber());
  return (p && p->node) ? *p->node : world_node_;
}

bool World::check_alive() {
  const FiberProps* p = SimScheduler::props_of(running_fiber());
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

std::uint32_t World::take_slot(Waiter* w) {
  std::uint32_t slot;
  if (!free_waiter_slots_.empty()) {
    slot = free_waiter_slots_.back();
    free_waiter_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(waiter_slots_.size());
    waiter_slots_.push_back(nullptr);
    waiter_slot_seq_.push_back(0);
  }
  waiter_slots_[slot] = w;
  waiter_slot_seq_[slot] = w->park_seq;
  return slot;
}

Wake World::park(Waiter& w, std::optional<MonoTime> deadline) {
  boost::fibers::context* ctx = running_fiber();
  const FiberProps* p = SimScheduler::props_of(ctx);
  SimNode& n = (p && p->node) ? *p->node : world_node_;
  const std::uint64_t incarnation = p ? p->incarnation : n.incarnation;
  // A destructor of an ended incarnation (or a stopped scope), running while
  // Crashed (Cancelled) unwinds, must not throw: its wait ends at once.
  if (doomed(p, n, incarnation)) return Wake::timed_out;
  SAMSA_ASSERT(ctx != main_ctx_ || tearing_down_, "the main fiber cannot park");

  w.ctx = ctx;
  w.parker = this;
  w.park_seq = next_park_seq_++;
  w.reason = Wake::notified;
  w.state = Waiter::State::parked;
  n.parked.push_back(w);
  if (deadline) {
    w.timer_slot = take_slot(&w);
    push_timer(to_virtual(n, *deadline), w.timer_slot, w.park_seq);
  }
  suspend_own(ctx);
  if (w.node_hook.is_linked()) w.node_hook.unlink();
  if (w.timer_slot != k_no_slot) {
    waiter_slots_[w.timer_slot] = nullptr;
    free_waiter_slots_.push_back(w.timer_slot);
    w.timer_slot = k_no_slot;
  }
  w.state = Waiter::State::idle;
  if (doomed(p, n, incarnation)) return Wake::timed_out;
  return w.reason;
}

bool World::doomed(const FiberProps* p, const SimNode& n, std::uint64_t incarnation) {
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

void World::wake(Waiter& w) noexcept {
  if (w.state != Waiter::State::parked) return;
  w.state = Waiter::State::woken;
  SimScheduler::of_this_thread().make_ready(w.ctx);
}

void World::yield_now() {
  if (!check_alive()) return;
  // Ready again before it suspends: the scheduler picks among all ready
  // fibers (this one included) and fires no timer while any is ready.
  boost::fibers::context* ctx = running_fiber();
  SAMSA_ASSERT(ctx != main_ctx_, "the main fiber cannot yield");
  SimScheduler::of_this_thread().make_ready(ctx);
  suspend_own(ctx);
  check_alive();
}

// --- NodeRuntime -------------------------------------------------------------------------

NodeRuntime::NodeRuntime(World& world, SimNode& node)
    : world_(world),
      node_(node),
      incarnation_(node.incarnation),
      net_(world.network(), node) {}

void NodeRuntime::sleep(Duration d) {
  Waiter w("sleep");
  world_.park(w, world_.mono_now(node_) + std::max(d, Duration{0}));
}

void NodeRuntime::yield() {
  world_.yield_now();
}

Random NodeRuntime::random(std::string_view stream) {
  return Random(world_.config().seed)
      .derive(fmt::format("{}#{}:{}", node_.name, incarnation_, stream));
}

void NodeRuntime::spawn(std::string name, std::function<void()> fn) {
  if (!world_.check_alive()) return;  // unwinding after a crash: spawn nothing
  if (incarnation_ != node_.incarnation) throw Crashed{};
  // A fiber of a task scope spawns into the same scope: nothing escapes it.
  const FiberProps* p = SimScheduler::props_of(running_fiber());
  SimTaskScope* scope = (p && p->node == &node_) ? p->scope : nullptr;
  if (scope && scope->cancelled()) return;  // unwinding from Cancelled: spawn nothing
  world_.spawn_on(node_, std::move(name), std::move(fn), scope);
}

std::unique_ptr<TaskScope> NodeRuntime::make_scope(std::string name) {
  if (world_.check_alive() && incarnation_ != node_.incarnation) throw Crashed{};
  return std::make_unique<SimTaskScope>(world_, node_, std::move(name));
}

// --- SimTaskScope ------------------------------------------------------------------------

SimTaskScope::SimTaskScope(World& world, SimNode& node, std::string name)
    : world_(world),
      node_(node),
      incarnation_(node.incarnation),
      name_(std::move(name)),
      id_(world.next_scope_id_++) {}

void SimTaskScope::spawn(std::string name, std::function<void()> fn) {
  if (!world_.check_alive()) return;  // unwinding after a crash: spawn nothing
  if (cancelled_ && std::uncaught_exceptions() > 0) return;  // unwinding: nothing new
  SAMSA_ASSERT(&world_.current_node() == &node_, "spawn into a task scope of another node");
  SAMSA_ASSERT(incarnation_ == node_.incarnation,
               "spawn into a task scope of an ended incarnation");
  SAMSA_ASSERT(!cancelled_, "spawn into a stopped task scope");
  world_.spawn_on(node_, name_ + "/" + name, std::move(fn), this);
}

void SimTaskScope::stop() {
  if (live_.empty()) {
    cancelled_ = true;
    return;
  }
  boost::fibers::context* ctx = running_fiber();
  const FiberProps* p = SimScheduler::props_of(ctx);
  SAMSA_ASSERT(p != nullptr && p->node == &node_,
               "TaskScope::stop with live fibers from outside its node");
  SAMSA_ASSERT(p->scope != this, "TaskScope::stop from a fiber of the scope itself");
  if (!cancelled_) {
    cancelled_ = true;
    world_.trace_.fold(TraceKind::cancel, id_, live_.size(), node_.id);
    // Parked fibers of the scope wake and throw Cancelled; ready ones throw
    // at their next park; a crash in between makes them throw Crashed.
    std::vector<Waiter*> parked;
    for (Waiter& w : node_.parked) {
      const FiberProps* wp = SimScheduler::props_of(w.ctx);
      if (wp && wp->scope == this) parked.push_back(&w);
    }
    for (Waiter* w : parked) world_.wake(*w);
  }
  // Wait (outside the parking primitives: it must work while this fiber
  // unwinds, and a crash must not cut it short) until the last fiber ends.
  // Nothing of `this` is touched after the wait: a concurrent stopper may
  // free the scope as soon as it is empty.
  stoppers_.push_back(ctx);
  suspend_own(ctx);
}

void SimTaskScope::fiber_ended(std::uint64_t fid) noexcept {
  live_.erase(fid);
  if (!live_.empty()) return;
  for (boost::fibers::context* s : stoppers_) SimScheduler::of_this_thread().make_ready(s);
  stoppers_.clear();
}

Disk& NodeRuntime::disk() {
  SAMSA_ASSERT(node_.disk != nullptr, "world actors have no disk");
  return *node_.disk;
}

}  // namespace samsa::sim
