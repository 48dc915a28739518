#pragma once
// The seam. Everything an actor of system/ may use: its node's identity,
// clocks, random streams, actors, parking, network, disk, logging and fault
// points. The simulated world (sim/world) and the live world (sim/live)
// implement it; system/ sees nothing else.
#include <spdlog/logger.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sim/runtime/disk.h"
#include "sim/runtime/network.h"
#include "sim/runtime/random.h"
#include "sim/runtime/sync.h"
#include "sim/runtime/time.h"

namespace samsa::sim {

using NodeId = std::int32_t;

// A group of helper actors that one actor starts and stops as its role
// changes (a broker's replica fetchers when leadership moves). stop() wakes
// every fiber of the scope with Cancelled, which unwinds it like a crash
// (system code never swallows it), and joins them; a fiber a scope fiber
// spawns through Runtime::spawn belongs to the same scope. A crash of the
// node ends the scope's fibers too. Nothing is detached.
//
// stop() and the destructor must run on a fiber of the scope's node that is
// not itself a fiber of the scope (SAMSA_ASSERT): a fiber that wants its
// scope gone returns, or tells the owner. Implementations stop in their
// destructor.
class TaskScope {
 public:
  virtual ~TaskScope() = default;
  // Starts a fiber in the scope. Refused (SAMSA_ASSERT) once stopped.
  virtual void spawn(std::string name, std::function<void()> fn) = 0;
  // Cancels every fiber of the scope and waits until all have ended.
  // Idempotent; afterwards the scope is empty and takes no new fibers.
  virtual void stop() = 0;
  // Fibers of the scope that have not ended yet.
  virtual std::size_t size() const = 0;
};

// One incarnation of one node. A crash ends it: every parked fiber of it
// throws Crashed; a restart gives the node's main actor a new Runtime.
class Runtime {
 public:
  virtual ~Runtime() = default;

  virtual NodeId node_id() const = 0;
  virtual const std::string& node_name() const = 0;
  virtual std::uint64_t incarnation() const = 0;

  // The node's monotonic clock (timeouts, timers). Never goes back.
  virtual MonoTime now() = 0;
  // The node's wall clock in ms since the Unix epoch (record timestamps,
  // retention). May jump or drift under clock faults.
  virtual std::int64_t wall_ms() = 0;
  virtual void sleep(Duration d) = 0;
  void sleep_until(MonoTime t) {
    const MonoTime n = now();
    if (t > n) sleep(t - n);
  }
  MonoTime deadline_after(Duration d) { return now() + d; }
  // Lets other ready fibers run.
  virtual void yield() = 0;

  // A fresh random stream for a named subsystem of this node.
  virtual Random random(std::string_view stream) = 0;

  // Starts an actor on this node. The node owns it and joins it on crash
  // and shutdown; an actor never outlives its node's incarnation.
  virtual void spawn(std::string name, std::function<void()> fn) = 0;
  // A new, empty task scope on this node (see TaskScope).
  virtual std::unique_ptr<TaskScope> make_scope(std::string name) = 0;

  virtual Parker& parker() = 0;
  virtual Network& net() = 0;
  virtual Disk& disk() = 0;
  virtual spdlog::logger& log() = 0;

  // A named fault point (FoundationDB's BUGGIFY): true when the world
  // chooses to exercise the unusual path here. Always false in live mode.
  virtual bool buggify(std::string_view name) = 0;
};

}  // namespace samsa::sim
