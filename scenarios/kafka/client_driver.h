#pragma once
// The kafka workload's clients, one driver for both runs: the simulated
// workload (kafka/workload.cpp, one node per client) and `samsa live
// workload` (tools/live_workload.cpp, every client a fiber of the live
// world's control runtime). It runs the producers (system/client's Producer:
// unique values "p<I>-<seq>", keys, rate, sync or async sends) and the
// consumer group (the classic protocol's Consumer or Kafka 0.8's
// ZooKeeperConsumer; process-before-commit or commit-before-process; the poll
// loop processing, or `workers` fibers taking each poll's records round robin
// or by key hash, the seed's §2.4), and records every operation in the
// history (send, poll, commit, assign; DESIGN.md's format).
//
// What the two runs differ in is the DriverEnv: where the cluster is, when
// producers and consumers stop, whether the run is past its heal, what to
// look at after each client completion (the simulation's leadership lanes),
// and how sends are paced. The driver uses only the runtime seam.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "invariants/history.h"
#include "scenarios/spec.h"
#include "scenarios/workload.h"
#include "sim/runtime/runtime.h"
#include "system/client/consumer.h"
#include "system/client/consumer_zookeeper.h"
#include "system/client/producer.h"

namespace samsa::scenarios::broker {
class RawClient;
}

namespace samsa::scenarios::kafka {

// The [workload] options and [config] client keys the clients run with.
struct ClientOptions {
  int producers = 1, consumers = 0, keys = 0;
  std::int64_t records = 0;  // per producer; 0: until the environment stops them
  double rate_per_s = 250;   // per producer
  bool sync = false;         // wait for each send's outcome
  bool zookeeper = false;    // group_protocol = "zookeeper": Kafka 0.8's consumer
  bool commit_first = false; // delivery = "commit-before-process"
  std::int64_t process_ms = 100;
  int workers = 0;           // application threads per consumer (0: the poll loop processes)
  bool by_key = false;       // workers chosen by key hash, else round robin
  std::vector<std::string> topics;
  // The producer keys, and every consumer key (the ZooKeeper consumer's too);
  // bootstrap.servers is the environment's.
  std::map<std::string, std::string> producer_props, consumer_props;
  std::string group;

  // The classic consumer's properties: without the ZooKeeper-only keys.
  std::map<std::string, std::string> classic_props(const std::string& client_id) const;
};

// Reads the client options of a kafka scenario and checks what the
// components' own config parsers do not (a mistake names the key).
Result<ClientOptions, ConfigMistake> read_client_options(const ScenarioSpec& spec);

// What differs between the simulated and the live run.
struct DriverEnv {
  std::string bootstrap_servers;              // HOST:PORT,... (bootstrap.servers)
  std::vector<sim::Address> brokers;          // the ZooKeeper consumer's broker list
  std::vector<sim::Address> zookeeper;        // the coordinator (group_protocol = "zookeeper")
  std::function<bool(sim::Runtime&)> producing;  // may a producer send again?
  std::function<bool(sim::Runtime&)> consuming;  // may a consumer poll again?
  std::function<bool()> healed = [] { return false; };  // past the heal (counters only)
  std::function<void()> observe = [] {};      // after each client completion
  // Every client on one runtime (live): random streams named per client.
  bool shared_runtime = false;
  // Sends due at absolute deadlines (live: a real sleep overshoots, Pacer);
  // else a relative sleep between sends (virtual sleeps end exactly).
  bool deadline_pacing = false;
  bool track_acked = false;  // keep the acknowledged values (acked_processed)
};

// The counters both runs report (the simulation's details, the live summary).
struct DriverStats {
  std::uint64_t sends = 0, ok = 0, fail = 0, info = 0, completed_after_heal = 0;
  std::uint64_t produce_requests = 0, batches_retried = 0, epoch_bumps = 0;
  int producers_done = 0, producers_done_before_heal = 0;
  std::uint64_t processed_after_heal = 0, skipped = 0, commit_failures = 0;
  std::int64_t consumer_incarnations = 0;
  bool acks0 = false;  // the producers run acks=0 (no send is ever ok)
};

// The final read-back of a partition (Jepsen's final reads), fetch by fetch
// from offset 0 at `leader`: every value by offset once a fetch reaches the
// high watermark; nullopt at an error, a fetch without progress, or when
// `more` (asked before each fetch: a deadline, a budget) says stop.
std::optional<std::map<std::int64_t, std::string>> read_to_high_watermark(broker::RawClient& c,
                                                                          const sim::Address& leader,
                                                                          const std::string& topic, int partition,
                                                                          const std::function<bool()>& more);
// Ends the reader's poll of that partition: ok with its records, or fail
// (null log: it could not be read).
void record_read_back(invariants::Process& reader, const std::string& topic, int partition,
                      const std::map<std::int64_t, std::string>* log);

class ClientDriver {
 public:
  ClientDriver(ClientOptions options, invariants::History& history, DriverEnv env);

  // Producer p<index> until env.producing says stop (or `records` sent);
  // then every outcome is awaited (close).
  void run_producer(sim::Runtime& rt, int index);
  // One consumer incarnation named `client_id`, until env.consuming says stop.
  void run_consumer(sim::Runtime& rt, const std::string& client_id);

  const ClientOptions& options() const { return o_; }
  const DriverStats& stats() const { return stats_; }
  std::size_t processed_distinct() const { return processed_.size(); }
  std::size_t generations() const { return assignments_.size(); }
  client::ZookeeperConsumerStats zookeeper_stats() const;  // summed over incarnations
  // With track_acked: acknowledged values, and how many of them were processed.
  std::size_t acked() const { return acked_.size(); }
  std::size_t acked_processed() const;
  bool all_acked_processed() const { return acked_processed() == acked_.size(); }
  // The counters as the run's details (the kafka workload's names).
  nlohmann::json details() const;

 private:
  struct Member;
  // One send's fields, as its ops record them (send_value).
  struct SendFields {
    std::string topic;
    std::optional<std::string> key;
    std::string value;
    int producer = 0;
    std::int64_t seq = 0;
  };
  static invariants::Value send_value(const SendFields& f, const client::SendOutcome* o);
  invariants::Value commit_value(const client::CommitOutcome& o) const;
  invariants::Value group_value() const;
  void on_sent(invariants::Process& p, const SendFields& f, const client::SendOutcome& o);
  void on_assigned(Member& m, const client::AssignOutcome& a, bool record_generation);
  bool record_commit(invariants::Process& p, const client::CommitOutcome& o);
  void processed(const client::ConsumerRecord& r);
  void process_all(sim::Runtime& rt, Member& m, const std::vector<client::ConsumerRecord>& records);
  void process_on_workers(sim::Runtime& rt, Member& m, const std::vector<client::ConsumerRecord>& records);
  template <class Poll, class Commit>
  void consume_round(sim::Runtime& rt, Member& m, Poll poll, Commit commit);
  void run_classic_consumer(sim::Runtime& rt, const std::string& client_id);
  void run_zookeeper_consumer(sim::Runtime& rt, const std::string& client_id);

  ClientOptions o_;
  invariants::History& history_;
  DriverEnv env_;
  DriverStats stats_;
  std::map<int, std::int64_t> next_seq_;  // kept across restarts: values stay unique per run
  // value -> times processed; only looked up and counted, never walked, so
  // a hash map (a tree of value strings was the consumer's largest compare cost).
  std::unordered_map<std::string, int> processed_;
  std::set<std::string> acked_;
  std::map<std::int32_t, std::map<std::int64_t, std::vector<client::TopicPartition>>> assignments_;  // generation -> process
  std::map<std::int64_t, client::ZookeeperConsumerStats> zk_stats_;  // per incarnation
};

}  // namespace samsa::scenarios::kafka
