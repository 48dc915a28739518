#include "tools/live_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "system/broker/group/group_service.h"
#include "system/protocol/api.h"

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

std::int16_t be16(ByteView b, std::size_t at) {
  return static_cast<std::int16_t>((b[at] << 8) | b[at + 1]);
}

// The quantiles the JMX exporter renders of a Yammer histogram
// (50thPercentile -> quantile="0.50", ..., 999thPercentile -> "0.999").
constexpr std::pair<double, const char*> k_quantiles[] = {
    {0.50, "0.50"}, {0.75, "0.75"}, {0.95, "0.95"}, {0.98, "0.98"}, {0.99, "0.99"}, {0.999, "0.999"}};
constexpr std::size_t k_reservoir = 1028;

struct ApiStats {
  std::uint64_t count = 0;
  std::vector<double> recent_ms;  // a ring of the last k_reservoir latencies
  std::size_t next = 0;
  void add(std::optional<double> ms) {
    ++count;
    if (!ms) return;
    if (recent_ms.size() < k_reservoir) recent_ms.push_back(*ms);
    else recent_ms[next] = *ms;
    next = (next + 1) % k_reservoir;
  }
};

// One broker's requests: the one taken and not yet answered per connection
// (the broker serves a connection's requests one at a time, in order).
class BrokerRequests final : public sim::FrameObserver {
 public:
  void on_request(std::uint64_t conn, ByteView frame) override {
    finish_unanswered(conn);
    if (frame.size() < 8) return;
    pending_[conn] = {be16(frame, 4), std::chrono::steady_clock::now()};
  }
  void on_response(std::uint64_t conn, ByteView) override {
    const auto it = pending_.find(conn);
    if (it == pending_.end()) return;
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - it->second.since;
    apis_[it->second.api].add(took.count());
    pending_.erase(it);
  }
  void on_close(std::uint64_t conn) override { finish_unanswered(conn); }
  const std::map<std::int16_t, ApiStats>& apis() const { return apis_; }

 private:
  struct Pending {
    std::int16_t api;
    std::chrono::steady_clock::time_point since;
  };
  void finish_unanswered(std::uint64_t conn) {
    const auto it = pending_.find(conn);
    if (it == pending_.end()) return;
    apis_[it->second.api].add(std::nullopt);
    pending_.erase(it);
  }
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::int16_t, ApiStats> apis_;
};

std::string api_name(std::int16_t key) {
  const protocol::ApiSpec* spec = protocol::find_api(key);
  return spec ? std::string(spec->name) : fmt::format("api{}", key);
}

double quantile(std::vector<double> sorted, double q) {
  if (sorted.empty()) return 0;
  std::sort(sorted.begin(), sorted.end());
  const auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

// kafka_exporter's kafka_consumergroup_lag: per group, topic and partition,
// the partition's high watermark (what a consumer can read) less the
// group's committed offset, from the group's coordinator (the broker that
// leads its __consumer_offsets partition) and the partition's leader.
void render_group_lag(std::string& out, const std::vector<Up>& up) {
  Family committed(out, "kafka_consumergroup_current_offset", "gauge",
                   "the group's committed offset (kafka_exporter's name)");
  Family lag(out, "kafka_consumergroup_lag", "gauge",
             "high watermark less the group's committed offset (kafka_exporter's name)");
  for (const auto& u : up) {
    if (!u.node->groups) continue;
    const auto& coordinator = u.node->groups->coordinator();
    const auto [error, groups] = coordinator.list_groups();
    if (error != protocol::ErrorCode::none) continue;
    for (const auto& [group, protocol_type, state] : groups) {
      const auto [e, offsets] = coordinator.fetch_offsets(group, std::nullopt);
      if (e != protocol::ErrorCode::none) continue;
      for (const auto& [tp, c] : offsets) {
        const std::string labels = fmt::format("consumergroup=\"{}\",topic=\"{}\",partition=\"{}\"", group,
                                               tp.topic, tp.partition.value());
        committed.sample(labels, double(c.offset.value()));
        std::optional<std::int64_t> hw;
        for (const auto& other : up) {
          const broker::TopicPartition key{tp.topic, tp.partition};
          const auto& parts = other.node->replicas->metadata().partitions();
          const auto st = parts.find(key);
          if (st == parts.end() || st->second.leader.value() != other.id) continue;
          if (auto p = other.node->replicas->partition(key)) hw = p->high_watermark().value();
        }
        if (hw) lag.sample(labels, double(std::max<std::int64_t>(0, *hw - c.offset.value())));
      }
    }
  }
}

}  // namespace

struct RequestMetrics::Impl {
  std::map<int, std::shared_ptr<BrokerRequests>> brokers;
};

RequestMetrics::RequestMetrics() : impl_(std::make_unique<Impl>()) {}
RequestMetrics::~RequestMetrics() = default;

std::shared_ptr<sim::FrameObserver> RequestMetrics::observer_for(int broker_id) {
  auto& b = impl_->brokers[broker_id];
  if (!b) b = std::make_shared<BrokerRequests>();
  return b;
}

// Named as the Prometheus JMX exporter's example Kafka rules render
// kafka.network:type=RequestMetrics,name=RequestsPerSec,request=X (its
// Count: kafka_network_requestmetrics_requests_total) and
// name=TotalTimeMs,request=X (its percentiles as quantile labels, its Count
// as _count), lowercased.
void RequestMetrics::render(std::string& out) const {
  Family rate(out, "kafka_network_requestmetrics_requests_total", "counter",
              "requests completed, per API (RequestsPerSec's count)");
  for (const auto& [id, b] : impl_->brokers)
    for (const auto& [api, st] : b->apis())
      rate.sample(fmt::format("{},request=\"{}\"", broker_label(id), api_name(api)), double(st.count));
  Family time(out, "kafka_network_requestmetrics_totaltimems", "summary",
              "request time in ms from the broker taking the request to its response queued, "
              "over the last 1028 requests per API");
  for (const auto& [id, b] : impl_->brokers)
    for (const auto& [api, st] : b->apis()) {
      if (st.recent_ms.empty()) continue;
      const std::string labels = fmt::format("{},request=\"{}\"", broker_label(id), api_name(api));
      for (const auto& [q, name] : k_quantiles)
        time.sample(fmt::format("{},quantile=\"{}\"", labels, name), quantile(st.recent_ms, q));
    }
  Family count(out, "kafka_network_requestmetrics_totaltimems_count", "counter",
               "requests timed, per API (TotalTimeMs's count)");
  for (const auto& [id, b] : impl_->brokers)
    for (const auto& [api, st] : b->apis())
      count.sample(fmt::format("{},request=\"{}\"", broker_label(id), api_name(api)), double(st.count));
}

std::string render_metrics(sim::LiveWorld& world, const BrokerNodes& brokers, const RequestMetrics* per_api) {
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
  render_group_lag(out, up);
  if (per_api) per_api->render(out);
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
