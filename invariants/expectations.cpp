// expectations_for: Kafka's promises per configuration. Facts: Kafka's
// ProducerConfig (acks=all and enable.idempotence=true are the defaults since
// 3.0; idempotence needs acks=all, retries > 0 and
// max.in.flight.requests.per.connection <= 5, and is off when a key
// conflicts and it was not set explicitly), KIP-101/KIP-279 (truncation by
// leader epoch), Jepsen's Kafka analysis (2013: min.insync.replicas=1 loses
// acked writes when the ISR shrinks to the leader) and jepsen.tests.kafka's
// allowed-error-types (int-send-skip always; poll-skip and nonmonotonic-poll
// with subscribe).
#include "invariants/expectations.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include "invariants/kafka_checkers.h"

namespace samsa::invariants {

namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::optional<std::string> text(const json& c, const char* key) {
  if (!c.is_object() || !c.contains(key) || c[key].is_null()) return std::nullopt;
  const json& v = c[key];
  if (v.is_string()) return lower(v.get<std::string>());
  return lower(v.dump());
}

std::optional<long long> number(const json& c, const char* key) {
  const auto t = text(c, key);
  if (!t) return std::nullopt;
  try {
    return std::stoll(*t);
  } catch (...) {
    return std::nullopt;  // not a number: treated as absent (the config parser reports it)
  }
}

std::optional<bool> flag(const json& c, const char* key) {
  const auto t = text(c, key);
  if (!t) return std::nullopt;
  return *t == "true" || *t == "1";
}

// The faults a configuration's nemeses can cause.
struct Faults {
  bool any = false;
  bool leader_loss = false;   // a leader stops leading: crash, restart, partition
  bool lost_acks = false;     // a request reaches the broker and its answer does not come back
  bool correlated_loss = false;  // a crash that drops the page cache of several replicas at once
};

std::vector<std::string> names_in(const json& n, const char* key) {
  std::vector<std::string> out;
  if (!n.is_object() || !n.contains(key) || !n[key].is_array()) return out;
  for (const auto& v : n[key])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// Whether a nemesis's node groups can name a broker. Absent groups count as
// "all" (a history's nemeses, or a caller that does not say).
bool hits_brokers(const std::vector<std::string>& groups) {
  if (groups.empty()) return true;
  for (const auto& g : groups) {
    if (g == "all" || g == "brokers" || g == "leader" || g == "controller" || g == "group-coordinator") return true;
    // The mirror workload's two clusters: "source-brokers", "source-leader", ...
    if (g.ends_with("-brokers") || g.ends_with("-leader")) return true;
    if (g.size() > 1 && g[0] == 'b' && std::all_of(g.begin() + 1, g.end(), [](unsigned char c) { return std::isdigit(c); }))
      return true;
  }
  return false;
}

bool hits(const std::vector<std::string>& groups, const char* group) {
  return groups.empty() || std::find(groups.begin(), groups.end(), "all") != groups.end() ||
         std::find(groups.begin(), groups.end(), group) != groups.end();
}

std::string disk_of(const json& n) {
  if (!n.is_object()) return "random";
  if (n.contains("disk") && n["disk"].is_string()) return n["disk"].get<std::string>();
  if (n.contains("params") && n["params"].is_object()) return n["params"].value("disk", "random");
  return "random";
}

// One nemesis, by name (scenarios/nemesis.cpp and kafka/nemeses.cpp) and the
// node groups it may hit: `targets`, and `peers` for link faults.
void add_fault(Faults& f, const json& n, long long budget, long long min_isr) {
  const std::string name = n.is_string() ? n.get<std::string>() : n.is_object() ? n.value("name", "") : "";
  if (name.empty()) return;
  f.any = true;
  const auto targets = names_in(n, "targets"), peers = names_in(n, "peers");
  const bool brokers = hits_brokers(targets);
  const bool coordinator_only = !brokers && hits(targets, "coordinator");
  // Replicas that can lose their page cache together: the budget of faulted
  // nodes reaches min.insync.replicas (a record acked by the ISR is gone only
  // when every copy is).
  const bool together = budget < 0 || budget >= std::max(1LL, min_isr);
  if (name == "crash" || name == "restart" || name == "power-loss" || name == "power-loss-all") {
    if (brokers) {
      f.leader_loss = f.lost_acks = true;
      // A crash keeps the page cache only with disk = keep_all; restart draws what the disk keeps.
      if (name.starts_with("power-loss") || disk_of(n) != "keep_all") {
        if (name == "power-loss-all" || together) f.correlated_loss = true;
      }
    } else if (coordinator_only) {
      f.leader_loss = true;  // sessions may expire, so leaders can move
    }
  } else if (name == "pause" || name == "disk-stall") {
    if (brokers) f.leader_loss = f.lost_acks = true;
    else if (coordinator_only) f.leader_loss = true;
  } else if (name == "partition" || name == "partition-one-way" || name == "partition-silent" ||
             name == "isolate") {
    // A leader is lost when a broker is cut from the other brokers or the coordinator.
    const bool other_side = name == "isolate" || hits_brokers(peers) || hits(peers, "coordinator");
    if ((brokers && other_side) || (coordinator_only && hits_brokers(peers))) f.leader_loss = true;
    f.lost_acks = true;
  } else if (name == "reset" || name == "clog" || name == "lost-acks" || name == "lost-ack" ||
             name == "refuse-connects" || name == "slow-replication") {
    f.lost_acks = true;
  }
}

Faults faults_of(const json& c, long long min_isr) {
  Faults f;
  if (!c.is_object() || !c.contains("nemeses") || !c["nemeses"].is_array()) return f;
  long long budget = -1;
  if (c.contains("max_faulted_nodes") && c["max_faulted_nodes"].is_number_integer())
    budget = c["max_faulted_nodes"].get<long long>();
  for (const auto& n : c["nemeses"]) add_fault(f, n, budget, min_isr);
  return f;
}

struct Legacy {
  const char* key;
  const char* jira;
  const char* what;
  std::vector<const char*> anomalies;
};

const std::vector<Legacy>& legacy_switches() {
  static const std::vector<Legacy> v = {
      {"samsa.legacy.truncate.to.high.watermark", "KAFKA-1211",
       "followers truncate to the high watermark on restart (before KIP-101)",
       {"lost-write", "unseen", "inconsistent-offsets", "nonmonotonic-send", "replica-divergence", "liveness"}},
      {"samsa.legacy.offsets.for.leader.epoch.v0", "KAFKA-6361",
       "OffsetsForLeaderEpoch v0 returns no epoch, so truncation misses a diverged tail",
       {"lost-write", "unseen", "inconsistent-offsets", "nonmonotonic-send", "replica-divergence", "liveness"}},
      {"samsa.legacy.no.fetch.leader.epoch", "KAFKA-6880",
       "fetches carry no leader epoch (before KIP-320): a zombie leader is followed",
       {"lost-write", "unseen", "inconsistent-offsets", "nonmonotonic-send", "replica-divergence", "liveness"}},
      {"samsa.legacy.isr.expand.below.epoch.start", "KAFKA-7128",
       "a follower rejoins the ISR before it reached the leader epoch's start offset",
       {"lost-write", "unseen", "inconsistent-offsets", "nonmonotonic-send", "replica-divergence", "liveness"}},
      {"samsa.legacy.no.broker.epoch", "KAFKA-7235",
       "controller requests carry no broker epoch: a restarted broker obeys stale ones",
       {"lost-write", "unseen", "inconsistent-offsets", "nonmonotonic-send", "replica-divergence", "liveness"}},
      {"samsa.legacy.no.controller.epoch.check", "KAFKA-532",
       "brokers obey a zombie controller's requests, and a LeaderAndIsr of an older leader epoch (Kafka 0.8.0-beta)",
       {"lost-write", "unseen", "inconsistent-offsets", "nonmonotonic-send", "replica-divergence", "liveness"}},
      {"samsa.legacy.dedupe.last.batch.only", "KAFKA-5494",
       "the broker remembers one batch per producer, so retried in-flight batches are written twice",
       {"duplicate", "redelivery", "nonmonotonic-send", "per-key-order"}},
      {"samsa.legacy.no.implicit.add.partitions", "KAFKA-14402",
       "a transactional produce is taken without asking the coordinator (before KIP-890 part 1): a late write "
       "lands after its transaction ended",
       {"exactly-once", "lost-write", "unseen", "G1a", "liveness"}},
      {"samsa.legacy.no.epoch.bump.per.transaction", "KAFKA-17754",
       "EndTxn keeps the producer epoch (before KIP-890 part 2): a late EndTxn or produce of one transaction "
       "lands in the next",
       {"exactly-once", "lost-write", "unseen", "G1a", "liveness"}},
  };
  return v;
}

class Builder {
 public:
  void allow(std::initializer_list<const char*> names, const std::string& reason) {
    for (const char* n : names) allowed_.emplace(n, reason);  // the first reason given stays
  }
  void allow(const std::vector<const char*>& names, const std::string& reason) {
    for (const char* n : names) allowed_.emplace(n, reason);
  }
  Expectations done() {
    Expectations e;
    e.allowed = allowed_;
    for (const auto& c : kafka_checker_names()) {
      const std::string anomaly = c == "kafka-liveness" ? "liveness" : c;
      if (!e.allowed.count(anomaly)) e.must_hold.insert(c);
    }
    return e;
  }

 private:
  std::map<std::string, std::string> allowed_;
};

// What a lost acknowledged record brings: the record gone (lost-write, or
// unseen when nothing later was read), its offset reused by a later one
// (inconsistent-offsets, and nonmonotonic-send: the producer's later record
// lands at or below the lost one's offset), a run that cannot deliver it.
const std::vector<const char*> k_loss = {"lost-write", "unseen", "inconsistent-offsets", "nonmonotonic-send",
                                         "liveness"};

void producer_rules(const json& c, const Faults& f, Builder& b) {
  const std::string acks = text(c, "acks").value_or("all");
  const bool acks_all = acks == "all" || acks == "-1";
  const long long retries = number(c, "retries").value_or(2147483647);
  const long long in_flight = number(c, "max.in.flight.requests.per.connection").value_or(5);
  const auto idem_set = flag(c, "enable.idempotence");
  // Kafka 3.x: idempotence by default unless a key conflicts with it.
  const bool idempotent = idem_set.value_or(acks_all && retries > 0 && in_flight <= 5);
  const long long rf = number(c, "replication.factor").value_or(3);
  const long long min_isr = number(c, "min.insync.replicas").value_or(1);
  const long long flush = number(c, "log.flush.interval.messages").value_or(number(c, "flush.messages").value_or(-1));

  if (acks == "0" && f.any)
    b.allow({"lost-write", "unseen", "liveness"},
            "acks=0: a send is ok before any broker has it, so any fault can drop it");
  if (acks == "1" && f.leader_loss)
    b.allow(k_loss,
            "acks=1 with leader loss: the leader acks before followers copy; the next leader truncates it");
  if (acks_all && min_isr <= 1 && rf > 1 && f.leader_loss)
    b.allow(k_loss,
            "min.insync.replicas=1: the ISR can shrink to the leader alone, whose loss loses acked records");
  if (flag(c, "unclean.leader.election.enable").value_or(false) && f.leader_loss)
    b.allow(k_loss,
            "unclean.leader.election.enable=true: an out-of-sync replica may lead and truncate acked records");
  if (f.correlated_loss && flush != 1)
    b.allow(k_loss,
            "power loss with the default flush policy: acked records wait in the page cache "
            "(log.flush.interval.messages != 1), and replicas losing power together lose them");
  // A leader that lost its unflushed tail can be reinstated in the same
  // leader epoch: a controller that fails over before it saw the bounce
  // (KafkaController.onControllerFailover reads the leader from ZooKeeper and
  // cannot know the broker epoch it had) sends LeaderAndIsr without a bump,
  // the leader appends new records at the lost offsets under the old epoch,
  // and OffsetsForLeaderEpoch (KIP-101) cannot tell the followers' copies
  // from them. Kafka does not fence this (KIP-966's unclean-shutdown
  // recovery is about it). The producer state goes with the log, so
  // idempotence cannot refuse a retry of a record already read either.
  if (f.correlated_loss && flush != 1) {
    b.allow({"replica-divergence"},
            "power loss with the default flush policy: a leader that lost its unflushed tail can be reinstated in "
            "the same leader epoch by a controller failover, and new records at the lost offsets differ from the "
            "followers' copies, which epoch truncation (KIP-101) cannot see");
    b.allow({"duplicate"},
            "power loss with the default flush policy: the producer state is lost with the log's tail, so a record "
            "read before the loss and retried after it is written again");
  }
  // A group's generation and committed offsets live in __consumer_offsets
  // (GroupMetadataManager), written acks=all but as durable as any topic
  // under this configuration: what loses acked records loses group state too.
  const char* group_state = nullptr;
  if (f.correlated_loss && flush != 1)
    group_state = "power loss with the default flush policy: __consumer_offsets loses its unsynced tail, so a group's "
                  "generation can start again and its committed offsets go back";
  else if (f.leader_loss && (min_isr <= 1 || flag(c, "unclean.leader.election.enable").value_or(false)))
    group_state = "__consumer_offsets can lose acked records (min.insync.replicas=1 or unclean election), so a group's "
                  "generation can start again and its committed offsets go back";
  if (group_state) b.allow({"assignment-overlap", "committed-offset-regression"}, group_state);
  if (!idempotent && retries > 0 && f.lost_acks) {
    b.allow({"duplicate", "redelivery"},
            "retries without idempotence: a batch whose ack was lost is written again");
    if (in_flight > 1)
      b.allow({"nonmonotonic-send", "per-key-order", "int-nonmonotonic-send"},
              "retries without idempotence and max.in.flight.requests.per.connection > 1: a retried batch "
              "lands after its successor");
  }
}

void consumer_rules(const json& c, const Faults& f, Builder& b) {
  const std::string delivery = text(c, "samsa.delivery").value_or("at-least-once");
  if (delivery == "at-most-once")
    b.allow({"lost-write", "unseen", "poll-skip", "liveness"},
            "at-most-once: offsets are committed before processing; records in hand when a consumer stops are "
            "skipped");
  if (delivery == "at-least-once" && f.any)
    b.allow({"redelivery", "nonmonotonic-poll"},
            "at-least-once: records processed but not yet committed are read again after a crash or rebalance");
  if (text(c, "samsa.consume").value_or("subscribe") == "subscribe")
    b.allow({"poll-skip", "nonmonotonic-poll"},
            "subscribe: a rebalance between polls moves a consumer to another committed position (Jepsen)");
  if (number(c, "samsa.consumer.workers").value_or(0) > 1 &&
      text(c, "samsa.consumer.dispatch").value_or("round-robin") != "key-hash")
    b.allow({"per-key-order"},
            "the application processes one partition's records on several threads: Kafka orders the partition, "
            "not the application's workers (the seed's §2.4; dispatch by key hash keeps per-key order)");
  // MirrorMaker (scenarios/mirror): offsets are committed on the source only
  // after the target acknowledged, so what was produced before a crash, a
  // failed commit or a rebalance is produced again.
  if (text(c, "samsa.mirror").value_or("") == "at-least-once" && f.any)
    b.allow({"duplicate"},
            "MirrorMaker is at-least-once: a mirror that crashes, is rebalanced or fails to commit its source offsets "
            "after producing copies those records again");
  const bool transactional = text(c, "transactional.id").has_value();
  if (transactional && text(c, "isolation.level").value_or("read_uncommitted") != "read_committed")
    b.allow({"G1a", "precommitted-read"},
            "isolation.level=read_uncommitted: records of open and aborted transactions are returned");
  b.allow({"int-send-skip"}, "other producers' records interleave with one producer's (Jepsen allows it always)");
}

}  // namespace

Expectations expectations_for(const json& config) {
  const Faults f = faults_of(config, number(config, "min.insync.replicas").value_or(1));
  Builder b;
  for (const Legacy& l : legacy_switches())
    if (flag(config, l.key).value_or(false))
      b.allow(l.anomalies, std::string(l.key) + "=true re-creates " + l.jira + ": " + l.what);
  producer_rules(config, f, b);
  consumer_rules(config, f, b);
  return b.done();
}

json to_json(const Expectations& e) {
  json allowed = json::object();
  for (const auto& [name, reason] : e.allowed) allowed[name] = reason;
  return {{"must_hold", e.must_hold}, {"allowed", allowed}};
}

Judged judge(const std::vector<Violation>& violations, const Expectations& e) {
  Judged j;
  for (const auto& v : violations) (e.allows(v.name) ? j.demonstrated : j.failing).push_back(v);
  return j;
}

}  // namespace samsa::invariants
