#include "sim/world/scheduler.h"

#include <boost/fiber/operations.hpp>

#include "sim/runtime/assert.h"
#include "sim/world/world.h"

namespace samsa::sim {

namespace {
// The algorithm object is owned by Boost.Fiber's per-thread scheduler; this
// is only a way back to it. Per thread, so per simulation.
thread_local SimScheduler* t_scheduler = nullptr;
}  // namespace

SimScheduler::SimScheduler() { t_scheduler = this; }
SimScheduler::~SimScheduler() {
  if (t_scheduler == this) t_scheduler = nullptr;
}

SimScheduler& SimScheduler::of_this_thread() {
  if (t_scheduler == nullptr) boost::fibers::use_scheduling_algorithm<SimScheduler>();
  SAMSA_ASSERT(t_scheduler != nullptr);
  return *t_scheduler;
}

FiberProps* SimScheduler::props_of(boost::fibers::context* ctx) {
  return static_cast<FiberProps*>(
      boost::fibers::algo::algorithm_with_properties_base::get_properties(ctx));
}

void SimScheduler::awakened(boost::fibers::context* ctx, FiberProps&) noexcept {
  if (ctx->is_context(boost::fibers::type::dispatcher_context)) {
    dispatcher_ = ctx;
    dispatcher_ready_ = true;
    return;
  }
  ready_.push_back(ctx);
}

boost::fibers::context* SimScheduler::pick_next() noexcept {
  boost::fibers::context* next = choose();
  // Nothing chosen: Boost runs (or stays in) the dispatcher.
  running_ = next != nullptr ? next : dispatcher_;
  return next;
}

boost::fibers::context* SimScheduler::choose() noexcept {
  if (world_ == nullptr) {
    if (!ready_.empty()) {
      auto* ctx = ready_.front();
      ready_.erase(ready_.begin());
      return ctx;
    }
    if (dispatcher_ready_) {
      dispatcher_ready_ = false;
      return dispatcher_;
    }
    return nullptr;
  }
  for (;;) {
    if (!ready_.empty()) {
      auto* ctx = world_->pick(ready_);
      if (ctx == nullptr) continue;  // all that was ready belongs to paused nodes
      if (ctx != running()) return ctx;
      // The suspending fiber's own timer fired: it cannot resume itself, so
      // the dispatcher (always ready while a user fiber runs) resumes it.
      SAMSA_ASSERT(dispatcher_ready_);
      ready_.push_back(ctx);
      dispatcher_ready_ = false;
      return dispatcher_;
    }
    // Let the dispatcher release terminated fibers now and then.
    if (dispatcher_ready_ && world_->wants_dispatcher()) {
      dispatcher_ready_ = false;
      return dispatcher_;
    }
    if (world_->fire_next_timer()) continue;
    if (auto* main = world_->take_main()) return main;
    if (dispatcher_ready_) {
      dispatcher_ready_ = false;
      return dispatcher_;
    }
    return nullptr;
  }
}

bool SimScheduler::has_ready_fibers() const noexcept {
  return !ready_.empty() || dispatcher_ready_;
}

void SimScheduler::suspend_until(std::chrono::steady_clock::time_point const&) noexcept {
  // Reached only when no fiber is ready, no timer is due and the main fiber
  // is not waiting in World::run: a fiber waits on something outside samsa's
  // primitives (a Boost.Fiber mutex, say) that nothing will ever signal.
  SAMSA_ASSERT(world_ == nullptr, "the simulated world has nothing to run");
}

}  // namespace samsa::sim
