#include "sim/runtime/sync.h"

namespace samsa::sim {

Wake WaitQueue::wait(const char* what, std::optional<MonoTime> deadline) {
  Waiter w(what);
  waiters_.push_back(w);
  Wake r;
  try {
    r = parker_->park(w, deadline);
  } catch (...) {
    // Crashed or Cancelled. ~Waiter unlinks it. A notification this fiber
    // took but can no longer act on passes to the next waiter, or it would
    // be lost.
    if (w.queue_hook.is_linked()) w.queue_hook.unlink();
    if (w.notified) notify_one();
    throw;
  }
  if (w.queue_hook.is_linked()) w.queue_hook.unlink();
  return r;
}

bool WaitQueue::notify_one() {
  while (!waiters_.empty()) {
    Waiter& w = waiters_.front();
    waiters_.pop_front();
    if (w.state == Waiter::State::parked) {
      w.notified = true;
      parker_->wake(w);
      return true;
    }
  }
  return false;
}

void WaitQueue::notify_all() {
  while (!waiters_.empty()) {
    Waiter& w = waiters_.front();
    waiters_.pop_front();
    parker_->wake(w);
  }
}

void Event::set() {
  set_ = true;
  queue_.notify_all();
}

bool Event::wait(std::optional<MonoTime> deadline, const char* what) {
  while (!set_) {
    if (queue_.wait(what, deadline) == Wake::timed_out) return set_;
  }
  return true;
}

}  // namespace samsa::sim
