#pragma once
// Parking and the fiber synchronisation primitives built on it. Every
// primitive that can block parks through a Parker, which the world (simulated
// or live) implements; so a crash can wake every parked fiber of a node and
// make it throw sim::Crashed, and a stuck run can say what each fiber waits on.
#include <boost/intrusive/list.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "sim/runtime/assert.h"
#include "sim/runtime/time.h"

namespace boost::fibers {
class context;
}

namespace samsa::sim {

// Thrown from a parking primitive in a fiber whose node has crashed. It
// unwinds the fiber; system code never catches it (catch (...) must rethrow).
struct Crashed {};

// Thrown from a parking primitive in a fiber whose TaskScope was stopped
// (runtime.h). It unwinds the fiber like Crashed, but the node lives on;
// system code never catches it either.
struct Cancelled {};

enum class Wake : std::uint8_t { notified, timed_out };

class Parker;

using WaitHook = boost::intrusive::list_member_hook<
    boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

// One parked fiber. Lives on the parked fiber's stack for the duration of a
// park; linked into at most one WaitQueue.
struct Waiter {
  enum class State : std::uint8_t { idle, parked, woken };

  explicit Waiter(const char* what_) : what(what_) {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  const char* what;  // what the fiber waits on, for stuck reports
  State state = State::idle;
  Wake reason = Wake::notified;
  bool notified = false;  // woken by WaitQueue::notify_one (not a crash)
  boost::fibers::context* ctx = nullptr;
  Parker* parker = nullptr;
  std::uint64_t park_seq = 0;  // set by the parker; distinguishes parks
  std::uint32_t timer_slot = ~std::uint32_t{0};  // the parker's, while timed
  WaitHook queue_hook;  // in a WaitQueue
  WaitHook node_hook;   // in the parker's list of parked fibers
};

class Parker {
 public:
  virtual ~Parker() = default;
  // Parks the running fiber until wake(w) or until `deadline` passes on the
  // running node's monotonic clock. Throws Crashed when the fiber's node has
  // crashed, Cancelled when its task scope was stopped (before parking, or
  // while parked).
  virtual Wake park(Waiter& w, std::optional<MonoTime> deadline) = 0;
  // Makes a parked waiter runnable. A waiter that is not parked is left as
  // it is. Never parks, never throws; callable from any fiber or event.
  virtual void wake(Waiter& w) noexcept = 0;
  // Throws Crashed if the running fiber belongs to a crashed incarnation
  // (unless the fiber is already unwinding, then returns false), Cancelled
  // if its task scope was stopped (unless unwinding, then returns true: the
  // node lives, so the operation goes ahead).
  virtual bool check_alive() = 0;
};

// FIFO queue of parked fibers (the building block of Event, Channel, ...).
class WaitQueue {
 public:
  explicit WaitQueue(Parker& parker) : parker_(&parker) {}
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  // Parks until notified or deadline. `what` names the wait in stuck reports.
  Wake wait(const char* what, std::optional<MonoTime> deadline = {});
  bool notify_one();
  void notify_all();
  bool empty() const { return waiters_.empty(); }
  Parker& parker() const { return *parker_; }

 private:
  using List = boost::intrusive::list<
      Waiter, boost::intrusive::member_hook<Waiter, WaitHook, &Waiter::queue_hook>,
      boost::intrusive::constant_time_size<false>>;
  Parker* parker_;
  List waiters_;
};

// A manual-reset event: set() releases all current and future waiters until
// reset().
class Event {
 public:
  explicit Event(Parker& parker) : queue_(parker) {}
  void set();
  void reset() { set_ = false; }
  bool is_set() const { return set_; }
  // True when set, false when the deadline passed first.
  bool wait(std::optional<MonoTime> deadline = {}, const char* what = "event");

 private:
  WaitQueue queue_;
  bool set_ = false;
};

enum class ChannelErrc : std::uint8_t { closed, timed_out, full };

// A bounded multi-producer multi-consumer queue between fibers of one world.
// Every queue has a limit: send parks while full.
template <class T>
class Channel {
 public:
  Channel(Parker& parker, std::size_t capacity)
      : capacity_(capacity), readers_(parker), writers_(parker) {
    SAMSA_ASSERT(capacity > 0);
  }

  // Parks while full. Fails with `closed` once closed.
  std::optional<ChannelErrc> send(T value, std::optional<MonoTime> deadline = {}) {
    while (!closed_ && items_.size() >= capacity_) {
      if (writers_.wait("channel.send", deadline) == Wake::timed_out &&
          items_.size() >= capacity_ && !closed_)
        return ChannelErrc::timed_out;
    }
    if (closed_) return ChannelErrc::closed;
    items_.push_back(std::move(value));
    readers_.notify_one();
    return std::nullopt;
  }
  std::optional<ChannelErrc> try_send(T value) {
    if (closed_) return ChannelErrc::closed;
    if (items_.size() >= capacity_) return ChannelErrc::full;
    items_.push_back(std::move(value));
    readers_.notify_one();
    return std::nullopt;
  }
  // Parks while empty. Returns nullopt when closed and drained, or on deadline
  // (tell them apart with closed()).
  std::optional<T> recv(std::optional<MonoTime> deadline = {}) {
    while (items_.empty() && !closed_) {
      if (readers_.wait("channel.recv", deadline) == Wake::timed_out && items_.empty())
        return std::nullopt;
    }
    return try_recv();
  }
  std::optional<T> try_recv() {
    if (items_.empty()) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    writers_.notify_one();
    return value;
  }
  void close() {
    closed_ = true;
    readers_.notify_all();
    writers_.notify_all();
  }
  bool closed() const { return closed_; }
  std::size_t size() const { return items_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  std::deque<T> items_;
  bool closed_ = false;
  WaitQueue readers_;
  WaitQueue writers_;
};

}  // namespace samsa::sim
