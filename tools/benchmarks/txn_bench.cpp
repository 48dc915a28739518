// Transactions in the simulated cluster (issue 16's benchmark):
//   BM_txn_10_records   three brokers (RF=3, min.insync.replicas=2), one
//                       transactional producer committing 200 transactions
//                       of 10 records each to a 3-partition topic.
//                       counters: txns_per_virtual_s (commits per second of
//                       virtual time, first begin to last commit),
//                       events_per_wall_s (simulated events per wall
//                       second), virtual_to_wall, wall_ms per run.
//   BM_txn_exactly_once the txn/exactly-once scenario (faults included),
//                       seed by seed: virtual_to_wall, events_per_wall_s,
//                       committed transactions per run.
#include <benchmark/benchmark.h>

#include <chrono>

#include "scenarios/broker/cluster.h"
#include "scenarios/scenario.h"
#include "sim/world/world.h"
#include "system/client/producer.h"

namespace {

using namespace samsa;

constexpr int k_txns = 200;
constexpr int k_records_per_txn = 10;

struct Result {
  double txns_per_virtual_s = 0;
  std::uint64_t events = 0;
  double virtual_s = 0;
};

Result run_txns(std::uint64_t seed) {
  sim::WorldConfig wc;
  wc.seed = seed;
  sim::World world(wc);
  scenarios::broker::Cluster cluster(world, {3, {{"min.insync.replicas", "2"}}});
  Result res;
  world.add_node("client", [&](sim::Runtime& rt) {
    if (!cluster.create_topic(rt, "t", 3, 3)) return;
    auto made = client::Producer::create(rt, {{"bootstrap.servers", "b1:9092,b2:9092,b3:9092"},
                                              {"transactional.id", "bench"}, {"linger.ms", "0"}});
    if (!made.ok()) return;
    client::Producer& p = *made.value();
    if (!p.init_transactions().ok()) return;
    const auto start = rt.now();
    int committed = 0;
    for (int t = 0; t < k_txns; ++t) {
      if (!p.begin_transaction().ok()) break;
      for (int i = 0; i < k_records_per_txn; ++i)
        (void)p.send({"t", std::nullopt, std::nullopt, "v" + std::to_string(t * k_records_per_txn + i), std::nullopt});
      if (!p.commit_transaction().ok()) break;
      ++committed;
    }
    const double secs = std::chrono::duration<double>(rt.now() - start).count();
    res.txns_per_virtual_s = secs > 0 ? committed / secs : 0;
    p.close();
    world.stop();  // the brokers would run on; the measure is the loop
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  (void)world.run(world.now() + std::chrono::seconds(600));
  res.events = world.events();
  res.virtual_s = std::chrono::duration<double>(world.now()).count();
  return res;
}

void BM_txn_10_records(benchmark::State& state) {
  std::uint64_t seed = 1;
  double rate = 0, wall_s = 0, virtual_s = 0, events = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const Result r = run_txns(seed++);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rate += r.txns_per_virtual_s;
    virtual_s += r.virtual_s;
    events += static_cast<double>(r.events);
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["txns_per_virtual_s"] = rate / runs;
  state.counters["events_per_wall_s"] = events / wall_s;
  state.counters["virtual_to_wall"] = virtual_s / wall_s;
  state.counters["wall_ms"] = wall_s * 1000.0 / runs;
}
BENCHMARK(BM_txn_10_records)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_txn_exactly_once(benchmark::State& state) {
  auto s = scenarios::load_scenario("txn/exactly-once", {});
  if (!s.ok()) {
    state.SkipWithError("txn/exactly-once not found");
    return;
  }
  std::uint64_t seed = 1;
  double wall_s = 0, virtual_s = 0, events = 0, committed = 0;
  for (auto _ : state) {
    scenarios::RunOptions o;
    o.seed = seed++;
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = scenarios::run_guarded(*s, o);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    virtual_s += static_cast<double>(r.virtual_time_ms) / 1000.0;
    events += static_cast<double>(r.events);
    committed += r.details.value("committed", 0.0);
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["virtual_to_wall"] = virtual_s / wall_s;
  state.counters["events_per_wall_s"] = events / wall_s;
  state.counters["committed_per_run"] = committed / runs;
}
BENCHMARK(BM_txn_exactly_once)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
