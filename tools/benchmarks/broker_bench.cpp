// A simulated Kafka cluster's cost: three brokers, RF=3, a raw-request
// writer producing 1,000 records/s (100-byte values, 10 per batch, acks=all)
// and a consumer fetching them, for 60 virtual seconds per iteration.
//   bench_broker   counters: virtual_to_wall (virtual seconds per wall second),
//                  virtual_to_cpu (per CPU second of this process: one core),
//                  events_per_s (scheduler events per wall second),
//                  records (acknowledged per run), max_rss_mib (peak resident
//                  memory of the process, ru_maxrss)
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <ctime>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "sim/world/world.h"

namespace {

using namespace samsa;
using namespace samsa::scenarios::broker;

struct RunStats {
  std::uint64_t events = 0;
  std::size_t acked = 0, read = 0;
};

RunStats run_cluster(std::uint64_t seed, std::chrono::seconds duration) {
  sim::WorldConfig wc;
  wc.seed = seed;
  sim::World world(wc);
  Cluster cluster(world, {3, {{"min.insync.replicas", "2"}}});
  RunStats st;
  std::optional<sim::Address> leader;
  const auto client = world.add_node("client", [&](sim::Runtime& rt) {
    if (!cluster.create_topic(rt, "t", 1, 3)) return;
    RawClient c(rt, "writer");
    for (int i = 0; i < 100 && !leader; ++i) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      auto l = find_leader(c, cluster.address(1 + i % 3), "t", 0, &brokers);
      if (l && brokers.count(*l)) leader = brokers.at(*l);
      else rt.sleep(std::chrono::milliseconds(100));
    }
    if (!leader) return;
    rt.spawn("reader", [&rt, &st, &leader] {
      RawClient r(rt, "reader");
      protocol::Offset next(0);
      for (;;) {
        auto f = fetch(r, *leader, "t", 0, next, 500);
        if (!f) continue;
        st.read += f->values.size();
        next = f->next_offset;
      }
    });
    const std::string value(100, 'v');
    const std::vector<std::string> values(10, value);
    for (std::uint64_t i = 0;; ++i) {
      const auto at = rt.now();
      auto res = produce(c, *leader, "t", 0, make_batch(values, rt.wall_ms()), -1, 3000);
      if (res.kind == ProduceResult::Kind::ok) st.acked += values.size();
      rt.sleep_until(at + std::chrono::milliseconds(10));
    }
  });
  (void)client;
  for (sim::NodeId n : world.node_ids()) world.start(n);
  (void)world.run(world.now() + duration);
  st.events = world.trace().events();
  return st;
}

void BM_cluster_acks_all(benchmark::State& state) {
  const auto duration = std::chrono::seconds(60);
  std::uint64_t seed = 1, events = 0;
  std::size_t acked = 0;
  double wall_s = 0, cpu_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    const RunStats st = run_cluster(seed++, duration);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu_s += static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
    events += st.events;
    acked += st.acked;
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["virtual_to_wall"] = runs * static_cast<double>(duration.count()) / wall_s;
  // On a shared machine wall time includes other processes: the CPU-time
  // ratio is the one-core figure.
  state.counters["virtual_to_cpu"] = runs * static_cast<double>(duration.count()) / cpu_s;
  state.counters["events_per_s"] = static_cast<double>(events) / wall_s;
  state.counters["events_per_cpu_s"] = static_cast<double>(events) / cpu_s;
  state.counters["records"] = static_cast<double>(acked) / runs;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  state.counters["max_rss_mib"] = static_cast<double>(u.ru_maxrss) / 1024.0;
}
BENCHMARK(BM_cluster_acks_all)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
