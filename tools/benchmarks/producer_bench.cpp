// Simulated produce throughput: system/client's Producer against a simulated
// three-broker cluster (topic of 3 partitions, RF=3, min.insync.replicas=2),
// 100-byte records offered every 1 us of virtual time (1,000,000 records/s)
// until 50,000 are sent, with linger.ms 0 vs 5 and acks 1 vs all.
//   bench_producer counters: records_per_virtual_s (acknowledged records per
//                  virtual second, first send to last ack), events_per_wall_s
//                  (scheduler events per wall second), requests (Produce
//                  requests), records_per_batch
#include <benchmark/benchmark.h>

#include <chrono>

#include "scenarios/broker/cluster.h"
#include "sim/world/world.h"
#include "system/client/producer.h"

namespace {

using namespace samsa;

struct RunStats {
  std::uint64_t events = 0, acked = 0, requests = 0, batches = 0;
  sim::Duration span{0};
};

RunStats run_produce(int linger_ms, const char* acks, int records) {
  sim::WorldConfig wc;
  wc.seed = 7;
  sim::World world(wc);
  scenarios::broker::Cluster cluster(world, {3, {{"min.insync.replicas", "2"}}});
  RunStats st;
  world.add_node("client", [&](sim::Runtime& rt) {
    if (!cluster.create_topic(rt, "t", 3, 3)) return;
    auto made = client::Producer::create(rt, {{"bootstrap.servers", "b1:9092,b2:9092,b3:9092"},
                                              {"linger.ms", std::to_string(linger_ms)},
                                              {"acks", acks}});
    if (!made) return;
    auto& p = *made.value();
    p.send({"t", 0, std::nullopt, "warm-up", std::nullopt}).get();  // metadata and producer id
    const auto first = world.now();
    sim::Duration last{0};
    const std::string value(100, 'v');
    for (int i = 0; i < records; ++i) {
      p.send({"t", std::nullopt, std::nullopt, value, std::nullopt}, [&](const client::SendOutcome& o) {
        if (o.kind == client::OutcomeKind::ok) ++st.acked;
        last = world.now();
      });
      rt.sleep(std::chrono::microseconds(1));
    }
    p.close();
    st.span = last - first;
    st.requests = p.stats().produce_requests;
    st.batches = p.stats().batches_sent;
  });
  for (auto n : world.node_ids()) world.start(n);
  world.run(std::chrono::seconds(600));
  st.events = world.events();
  return st;
}

void BM_produce(benchmark::State& state) {
  const int linger = static_cast<int>(state.range(0));
  const char* acks = state.range(1) == 1 ? "1" : "all";
  RunStats st;
  double wall_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    st = run_produce(linger, acks, 50000);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double its = static_cast<double>(state.iterations());
  state.counters["records_per_virtual_s"] = static_cast<double>(st.acked) / std::chrono::duration<double>(st.span).count();
  state.counters["events_per_wall_s"] = static_cast<double>(st.events) * its / wall_s;
  state.counters["requests"] = static_cast<double>(st.requests);
  state.counters["records_per_batch"] = st.batches ? static_cast<double>(st.acked) / static_cast<double>(st.batches) : 0;
  state.SetLabel(std::string("linger.ms=") + std::to_string(linger) + " acks=" + acks);
}

}  // namespace

BENCHMARK(BM_produce)->Args({0, 1})->Args({5, 1})->Args({0, -1})->Args({5, -1})->Unit(benchmark::kMillisecond)->Iterations(2);
