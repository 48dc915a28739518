#pragma once
// The live fiber scheduler: a Boost.Fiber algorithm that runs ready fibers in
// FIFO order and, when none is ready, runs Asio handlers (socket completions,
// signals, posted work) on the thread's io_context until the next deadline of
// the live world's timers. So fibers block on real I/O in straight-line code
// while other fibers of the same thread run (../shared/NOTES.md, "Boost.Fiber
// with Asio"). One io_context and one scheduler per thread.
#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/properties.hpp>

#include <asio/io_context.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace samsa::sim {

class LiveWorld;
struct LiveNode;
class LiveTaskScope;

// What the live world knows about each fiber (its owner, for shutdown).
struct LiveFiberProps : boost::fibers::fiber_properties {
  explicit LiveFiberProps(boost::fibers::context* ctx) : fiber_properties(ctx) {}
  std::uint64_t fiber_id = 0;
  LiveNode* node = nullptr;  // nullptr: the thread's main fiber
  std::uint64_t incarnation = 0;
  LiveTaskScope* scope = nullptr;  // the task scope it belongs to, if any
  std::string name;
};

// Parks the running fiber `ctx` (context::active()) until something calls
// schedule(ctx), carrying the fiber's own exception state across the switch
// (live_world.cpp says why). Every park of the live world goes through it.
void suspend_own(boost::fibers::context* ctx);

class LiveScheduler final
    : public boost::fibers::algo::algorithm_with_properties<LiveFiberProps> {
 public:
  LiveScheduler();
  ~LiveScheduler() override;

  // The scheduler of the calling thread, installed on first use.
  static LiveScheduler& of_this_thread();
  static LiveFiberProps* props_of(boost::fibers::context* ctx);

  // The world whose io_context and timers this thread runs; nullptr detaches
  // (the scheduler outlives every world: Boost.Fiber destroys it when the
  // thread ends, after main's locals are gone).
  void attach(LiveWorld* world) { world_ = world; }
  LiveWorld* world() const { return world_; }

  void awakened(boost::fibers::context* ctx, LiveFiberProps& props) noexcept override;
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override;
  void suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept override;
  void notify() noexcept override;

 private:
  LiveWorld* world_ = nullptr;
  boost::fibers::context* dispatcher_ = nullptr;
  bool dispatcher_ready_ = false;
  bool poll_due_ = false;
  std::deque<boost::fibers::context*> ready_;
  std::uint32_t picks_since_poll_ = 0;
  // Used only while detached (no io_context to wait on).
  std::mutex mtx_;
  std::condition_variable cv_;
  bool notified_ = false;
};

}  // namespace samsa::sim
