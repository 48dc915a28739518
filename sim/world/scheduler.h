#pragma once
// The deterministic fiber scheduler: a Boost.Fiber algorithm whose next ready
// fiber is chosen by the world's seeded PRNG and which, when nothing is
// ready, advances virtual time to the next timer. It never sleeps for real.
#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/properties.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace samsa::sim {

class World;
struct SimNode;
class SimTaskScope;

// What samsa knows about each fiber. Ids are sequential per world, never
// pointer values, so they may appear in traces and logs.
struct FiberProps : boost::fibers::fiber_properties {
  explicit FiberProps(boost::fibers::context* ctx) : fiber_properties(ctx) {}
  std::uint64_t fiber_id = 0;
  SimNode* node = nullptr;  // the owning node; nullptr outside any world
  std::uint64_t incarnation = 0;
  SimTaskScope* scope = nullptr;  // the task scope it belongs to, if any
  std::string name;
};

class SimScheduler final : public boost::fibers::algo::algorithm_with_properties<FiberProps> {
 public:
  SimScheduler();
  ~SimScheduler() override;

  // The scheduler of the calling thread, installed on first use.
  static SimScheduler& of_this_thread();
  static FiberProps* props_of(boost::fibers::context* ctx);

  void attach(World* world) { world_ = world; }
  World* world() const { return world_; }
  void make_ready(boost::fibers::context* ctx) { ready_.push_back(ctx); }
  // The fiber running now, as pick_next last chose it: every switch passes
  // through pick_next (Boost's post launch, suspend, yield, join, terminate;
  // only the dispatcher's final return to main at thread exit does not), and
  // context::active() is a thread-local lookup in Boost.Fiber's shared
  // library that the world made on every disk and network operation (issue
  // 14's profile). Before the first pick, Boost's answer.
  boost::fibers::context* running() const noexcept {
    return running_ != nullptr ? running_ : boost::fibers::context::active();
  }
  std::size_t ready_count() const { return ready_.size(); }

  void awakened(boost::fibers::context* ctx, FiberProps& props) noexcept override;
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override;
  void suspend_until(std::chrono::steady_clock::time_point const&) noexcept override;
  void notify() noexcept override {}

 private:
  boost::fibers::context* choose() noexcept;

  World* world_ = nullptr;
  boost::fibers::context* running_ = nullptr;
  boost::fibers::context* dispatcher_ = nullptr;
  bool dispatcher_ready_ = false;
  std::vector<boost::fibers::context*> ready_;
};

}  // namespace samsa::sim
