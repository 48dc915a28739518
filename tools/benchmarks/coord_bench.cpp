// The coordinator's costs.
//   bench_coord --benchmark_filter=state_machine   transactions/s applied to the
//       pure state machine (create, set_data, multi), no I/O
//   bench_coord --benchmark_filter=server          client set_data round trips
//       through the server over the simulated network and disk (log + fsync
//       per write), as requests per wall-clock second
//   bench_coord --benchmark_filter=election        one whole coord/controller-
//       election run (30 s of virtual time) per iteration
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "scenarios/coord/controller_election.h"
#include "sim/world/world.h"
#include "system/coord/client.h"
#include "system/coord/server.h"

namespace {

using namespace samsa;
using namespace samsa::coord;
using namespace samsa::sim;

void BM_state_machine_create_set(benchmark::State& state) {
  const Bytes data(100, 'd');
  for (auto _ : state) {
    StateMachine sm;
    Zxid z = 0;
    for (int i = 0; i < 1000; ++i)
      (void)sm.apply(Txn{++z, 0, 0, CreateOp{fmt::format("/n{}", i), data}});
    for (int i = 0; i < 1000; ++i)
      (void)sm.apply(Txn{++z, 0, 0, SetDataOp{fmt::format("/n{}", i), data, -1}});
    benchmark::DoNotOptimize(sm.last_zxid());
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_state_machine_create_set)->Unit(benchmark::kMillisecond);

void BM_state_machine_multi(benchmark::State& state) {
  for (auto _ : state) {
    StateMachine sm;
    Zxid z = 0;
    (void)sm.apply(Txn{++z, 0, 0, CreateOp{"/e", {}}});
    for (int i = 0; i < 1000; ++i)
      (void)sm.apply(Txn{++z, 0, 0,
                         MultiOp{{CheckOp{"/e", i}, SetDataOp{"/e", {}, i},
                                  CreateOp{fmt::format("/m{}", i), {}}}}});
    benchmark::DoNotOptimize(sm.last_zxid());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_state_machine_multi)->Unit(benchmark::kMillisecond);

void BM_server_set_data(benchmark::State& state) {
  const int requests = 2000;
  for (auto _ : state) {
    WorldConfig wc;
    wc.seed = 1;
    World w(wc);
    w.add_node("zk", [](Runtime& rt) { (void)Server::start(rt, ServerConfig{}).value(); });
    w.start(0);
    w.add_node("c", [&](Runtime& rt) {
      auto c = Client::start(rt, ClientConfig{{{"zk", 2181}}, 4000});
      SAMSA_ASSERT(c->wait_connected(rt.deadline_after(5s)));
      SAMSA_ASSERT(c->create("/x", {}).ok());
      for (int i = 0; i < requests; ++i) SAMSA_ASSERT(c->set_data("/x", Bytes(100, 'v')).ok());
      c->close();
    });
    w.start(1);
    w.run(600s);
  }
  state.SetItemsProcessed(state.iterations() * requests);
}
BENCHMARK(BM_server_set_data)->Unit(benchmark::kMillisecond);

void BM_controller_election_run(benchmark::State& state) {
  std::uint64_t seed = 1;
  std::uint64_t events = 0;
  for (auto _ : state) {
    scenarios::coord::ControllerElectionConfig c;
    c.seed = seed++;
    events += scenarios::coord::run_controller_election_with(c).events;
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_controller_election_run)->Unit(benchmark::kMillisecond);

}  // namespace
