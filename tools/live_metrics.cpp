#include "tools/live_metrics.h"

#include <fmt/format.h>

namespace samsa::tools {

namespace {

// One metric family: HELP, TYPE, then its samples.
class Family {
 public:
  Family(std::string& out, std::string name, const char* type, const char* help)
      : out_(out), name_(std::move(name)) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help, name_, type);
  }
  void sample(const std::string& labels, double v) {
    out_ += fmt::format("{}{{{}}} {}\n", name_, labels, v);
  }

 private:
  std::string& out_;
  std::string name_;
};

struct Up {
  int id;  // broker.id
  std::shared_ptr<broker::BrokerNode> node;
};

std::string broker_label(int id) { return fmt::format("broker=\"{}\"", id); }

}  // namespace

std::string render_metrics(sim::LiveWorld& world, const BrokerNodes& brokers) {
  std::vector<Up> up;
  std::string out;
  Family alive(out, "samsa_broker_up", "gauge", "1 while the broker's node runs (0: killed, stopped)");
  for (const auto& [id, weak] : brokers) {
    auto b = weak.lock();
    const bool running = b && world.is_up(id);
    const int broker_id = b ? b->config.broker_id : id;
    alive.sample(broker_label(broker_id), running ? 1 : 0);
    if (running) up.push_back({broker_id, b});
  }
  Family active(out, "kafka_controller_kafkacontroller_activecontrollercount", "gauge",
                "1 on the broker that is the active controller");
  for (const auto& u : up) active.sample(broker_label(u.id), u.node->controller.is_active() ? 1 : 0);
  // Partition state as each broker's metadata cache has it (UpdateMetadata).
  Family offline(out, "kafka_controller_kafkacontroller_offlinepartitionscount", "gauge",
                 "partitions without a live leader (reported by the active controller)");
  Family under(out, "kafka_server_replicamanager_underreplicatedpartitions", "gauge",
               "partitions led here whose ISR is smaller than their replica set");
  Family leaders(out, "kafka_server_replicamanager_leadercount", "gauge", "partitions led here");
  for (const auto& u : up) {
    const auto& parts = u.node->replicas->metadata().partitions();
    int n_offline = 0, n_under = 0, n_lead = 0;
    for (const auto& [tp, st] : parts) {
      if (st.leader.is_none() || st.leader.value() < 0) ++n_offline;
      if (st.leader.value() != u.id) continue;
      ++n_lead;
      if (st.isr.size() < st.replicas.size()) ++n_under;
    }
    if (u.node->controller.is_active()) offline.sample(broker_label(u.id), n_offline);
    under.sample(broker_label(u.id), n_under);
    leaders.sample(broker_label(u.id), n_lead);
  }
  Family shrinks(out, "kafka_server_replicamanager_isrshrinks_total", "counter", "ISR shrinks");
  for (const auto& u : up) shrinks.sample(broker_label(u.id), double(u.node->replicas->stats().isr_shrinks));
  Family expands(out, "kafka_server_replicamanager_isrexpands_total", "counter", "ISR expansions");
  for (const auto& u : up)
    expands.sample(broker_label(u.id), double(u.node->replicas->stats().isr_expansions));
  Family requests(out, "samsa_server_requests_total", "counter",
                  "requests served by the broker, all APIs (Kafka counts them per API)");
  for (const auto& u : up)
    if (u.node->server) requests.sample(broker_label(u.id), double(u.node->server->stats().requests));
  Family leo(out, "kafka_log_log_logendoffset", "gauge", "log end offset of each partition replica");
  Family hw(out, "samsa_partition_high_watermark", "gauge", "high watermark of each partition replica");
  for (const auto& u : up) {
    for (const auto& [tp, st] : u.node->replicas->metadata().partitions()) {
      auto p = u.node->replicas->partition(tp);
      if (!p) continue;
      const std::string labels = fmt::format("{},topic=\"{}\",partition=\"{}\"", broker_label(u.id), tp.topic,
                                             tp.partition.value());
      leo.sample(labels, double(p->log_end_offset().value()));
      hw.sample(labels, double(p->high_watermark().value()));
    }
  }
  const auto& net = world.net_stats();
  Family conns(out, "kafka_server_socketservermetrics_connection_count", "gauge",
               "connections open on the process's listeners");
  conns.sample("", double(net.connections_open));
  Family rejected(out, "samsa_server_connections_rejected_total", "counter",
                  "connections closed over max.connections.per.ip");
  rejected.sample("", double(net.connections_rejected));
  return out;
}

}  // namespace samsa::tools
