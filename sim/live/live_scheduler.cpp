#include "sim/live/live_scheduler.h"

#include <boost/fiber/operations.hpp>

#include "sim/live/live_world.h"
#include "sim/runtime/assert.h"

namespace samsa::sim {

namespace {
// The algorithm is owned by Boost.Fiber's per-thread scheduler; this is only
// a way back to it.
thread_local LiveScheduler* t_scheduler = nullptr;
// After this many picks in a row of user fibers, the dispatcher runs once so
// that Asio handlers and due timers are not starved by busy fibers.
constexpr std::uint32_t k_picks_per_poll = 64;
}  // namespace

LiveScheduler::LiveScheduler() { t_scheduler = this; }
LiveScheduler::~LiveScheduler() {
  if (t_scheduler == this) t_scheduler = nullptr;
}

LiveScheduler& LiveScheduler::of_this_thread() {
  if (t_scheduler == nullptr) boost::fibers::use_scheduling_algorithm<LiveScheduler>();
  SAMSA_ASSERT(t_scheduler != nullptr);
  return *t_scheduler;
}

LiveFiberProps* LiveScheduler::props_of(boost::fibers::context* ctx) {
  return static_cast<LiveFiberProps*>(
      boost::fibers::algo::algorithm_with_properties_base::get_properties(ctx));
}

void LiveScheduler::awakened(boost::fibers::context* ctx, LiveFiberProps&) noexcept {
  // The dispatcher is kept apart: it runs only when no user fiber is ready
  // (or for fairness), and it is where Asio handlers run.
  if (ctx->is_context(boost::fibers::type::dispatcher_context)) {
    dispatcher_ = ctx;
    dispatcher_ready_ = true;
    return;
  }
  ready_.push_back(ctx);
}

boost::fibers::context* LiveScheduler::pick_next() noexcept {
  boost::fibers::context* active = boost::fibers::context::active();
  // Asio handlers run on the dispatcher's stack only. Busy fibers (a yield
  // loop) never leave the ready queue empty, so every k_picks_per_poll picks
  // the dispatcher polls the io_context and the timers.
  if (world_ != nullptr && active == dispatcher_ &&
      (poll_due_ || picks_since_poll_ >= k_picks_per_poll)) {
    poll_due_ = false;
    picks_since_poll_ = 0;
    world_->poll_io();
  }
  if (!ready_.empty()) {
    if (picks_since_poll_ >= k_picks_per_poll && dispatcher_ready_ && dispatcher_ != active) {
      poll_due_ = true;
      dispatcher_ready_ = false;
      return dispatcher_;
    }
    ++picks_since_poll_;
    boost::fibers::context* ctx = ready_.front();
    ready_.pop_front();
    return ctx;
  }
  if (dispatcher_ready_) {
    dispatcher_ready_ = false;
    if (dispatcher_ != active) return dispatcher_;
  }
  return nullptr;
}

bool LiveScheduler::has_ready_fibers() const noexcept {
  return !ready_.empty() || dispatcher_ready_;
}

void LiveScheduler::suspend_until(std::chrono::steady_clock::time_point const& tp) noexcept {
  picks_since_poll_ = 0;
  if (world_ != nullptr) {
    world_->wait_io(tp);
    return;
  }
  // Detached (no live world on this thread): behave like round_robin.
  std::unique_lock<std::mutex> lk(mtx_);
  if (tp == std::chrono::steady_clock::time_point::max())
    cv_.wait(lk, [this] { return notified_; });
  else
    cv_.wait_until(lk, tp, [this] { return notified_; });
  notified_ = false;
}

void LiveScheduler::notify() noexcept {
  // Another thread made a fiber of ours ready. Live worlds never do this
  // (they talk through sockets and post to each other's io_context), so only
  // the detached wait needs waking.
  {
    std::lock_guard<std::mutex> lk(mtx_);
    notified_ = true;
  }
  cv_.notify_all();
}

}  // namespace samsa::sim
