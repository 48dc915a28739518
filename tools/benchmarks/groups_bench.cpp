// A 10-member consumer group over 100 partitions on three simulated brokers
// (RF=3, 10,000 records written first): nine members join and read, a
// tenth joins, then one member crashes.
//   bench_groups   counters: join_to_stable_ms (virtual ms from the tenth
//                  member's subscribe to a generation of ten members that
//                  covers every partition), crash_to_stable_ms (from the
//                  crash to a generation of nine that covers every
//                  partition: session.timeout.ms + the rebalance),
//                  consume_records_per_s (records read per virtual second,
//                  from the first assignment to the last record),
//                  virtual_to_wall, wall_ms per run.
#include <benchmark/benchmark.h>

#include <chrono>
#include <set>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "sim/world/world.h"
#include "system/client/consumer.h"

namespace {

using namespace samsa;
using namespace samsa::scenarios::broker;
using client::TopicPartition;

constexpr int k_partitions = 100;
constexpr int k_members = 10;
constexpr int k_records_per_partition = 100;

struct Obs {
  std::map<int, std::pair<std::int32_t, std::vector<TopicPartition>>> latest;  // member -> generation, partitions
  std::set<int> up;
  bool produced = false;
  std::size_t read = 0;
  std::int64_t first_assign_ms = -1, last_read_ms = -1;
};

std::int64_t ms(sim::Runtime& rt) { return sim::to_ms(rt.now().since_epoch); }

// A generation of exactly the live members that covers every partition.
bool stable(const Obs& o, std::size_t members) {
  if (o.up.size() != members) return false;
  std::optional<std::int32_t> gen;
  std::set<TopicPartition> covered;
  for (int m : o.up) {
    auto it = o.latest.find(m);
    if (it == o.latest.end()) return false;
    if (gen && *gen != it->second.first) return false;
    gen = it->second.first;
    covered.insert(it->second.second.begin(), it->second.second.end());
  }
  return covered.size() == static_cast<std::size_t>(k_partitions);
}

void produce_all(sim::Runtime& rt, Cluster& cluster, Obs& o) {
  if (!cluster.create_topic(rt, "t", k_partitions, 3)) return;
  RawClient c(rt, "writer");
  const std::vector<std::string> values(k_records_per_partition, std::string(100, 'v'));
  for (int p = 0; p < k_partitions; ++p)
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      auto leader = find_leader(c, cluster.address(1 + attempt % 3), "t", p, &brokers);
      if (leader && brokers.count(*leader) &&
          produce(c, brokers.at(*leader), "t", p, make_batch(values, rt.wall_ms()), -1, 5000).kind ==
              ProduceResult::Kind::ok)
        break;
      rt.sleep(std::chrono::milliseconds(100));
    }
  o.produced = true;
}

void member(sim::Runtime& rt, int id, Obs& o) {
  auto cfg = client::make_consumer_config({{"bootstrap.servers", "b1:9092,b2:9092,b3:9092"},
                                           {"client.id", "m" + std::to_string(id)},
                                           {"group.id", "bench"},
                                           {"auto.offset.reset", "earliest"},
                                           {"session.timeout.ms", "6000"},
                                           {"heartbeat.interval.ms", "1000"},
                                           {"max.poll.interval.ms", "10000"},
                                           {"fetch.max.wait.ms", "500"}});
  client::Consumer c(rt, *cfg);
  c.on_assign = [&o, &rt, id](const client::AssignOutcome& a) {
    o.latest[id] = {a.generation, a.partitions};
    if (o.first_assign_ms < 0) o.first_assign_ms = ms(rt);
  };
  o.up.insert(id);
  c.subscribe({"t"});
  for (;;) {
    auto records = c.poll(std::chrono::milliseconds(500));
    if (records.empty()) continue;
    o.read += records.size();
    o.last_read_ms = ms(rt);
  }
}

struct Result {
  std::int64_t join_ms = -1, crash_ms = -1;
  double records_per_s = 0;
};

Result run_group(std::uint64_t seed) {
  sim::WorldConfig wc;
  wc.seed = seed;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"min.insync.replicas", "2"},
                           {"offsets.topic.num.partitions", "10"},
                           {"offsets.topic.replication.factor", "3"}}});
  Obs o;
  Result res;
  world.add_node("writer", [&](sim::Runtime& rt) { produce_all(rt, cluster, o); });
  std::vector<sim::NodeId> nodes;
  for (int i = 1; i <= k_members; ++i)
    nodes.push_back(world.add_node("m" + std::to_string(i), [&, i](sim::Runtime& rt) {
      while (!o.produced || (i == k_members && !stable(o, k_members - 1))) rt.sleep(std::chrono::milliseconds(10));
      member(rt, i, o);
    }));
  for (sim::NodeId n : world.node_ids()) world.start(n);
  world.spawn("measure", [&] {
    sim::Runtime& ctl = world.control();
    auto wait_stable = [&](std::size_t members) {
      while (!stable(o, members)) ctl.sleep(std::chrono::milliseconds(10));
    };
    wait_stable(k_members - 1);
    while (o.up.size() < k_members) ctl.sleep(std::chrono::milliseconds(1));
    const std::int64_t joined = ms(ctl);
    wait_stable(k_members);
    res.join_ms = ms(ctl) - joined;
    while (o.read < static_cast<std::size_t>(k_partitions * k_records_per_partition))
      ctl.sleep(std::chrono::milliseconds(10));
    res.records_per_s = static_cast<double>(o.read) * 1000.0 /
                        static_cast<double>(std::max<std::int64_t>(1, o.last_read_ms - o.first_assign_ms));
    const std::int64_t crashed = ms(ctl);
    world.crash(nodes.front());
    o.up.erase(1);
    o.latest.erase(1);
    wait_stable(k_members - 1);
    res.crash_ms = ms(ctl) - crashed;
  });
  (void)world.run(world.now() + std::chrono::seconds(180));
  return res;
}

void BM_group_10_members_100_partitions(benchmark::State& state) {
  std::uint64_t seed = 1;
  double join = 0, crash = 0, rate = 0, wall_s = 0, virtual_s = 180;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const Result r = run_group(seed++);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    join += static_cast<double>(r.join_ms);
    crash += static_cast<double>(r.crash_ms);
    rate += r.records_per_s;
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["join_to_stable_ms"] = join / runs;
  state.counters["crash_to_stable_ms"] = crash / runs;
  state.counters["consume_records_per_s"] = rate / runs;
  state.counters["virtual_to_wall"] = runs * virtual_s / wall_s;
  state.counters["wall_ms"] = wall_s * 1000.0 / runs;
}
BENCHMARK(BM_group_10_members_100_partitions)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
