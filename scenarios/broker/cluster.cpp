#include "scenarios/broker/cluster.h"

#include "scenarios/broker/driver.h"
#include "system/broker/controller.h"
#include "system/coord/client.h"

namespace samsa::scenarios::broker {

using samsa::broker::BrokerConfig;

Cluster::Cluster(sim::World& world, ClusterConfig config) : world_(world), config_(std::move(config)) {
  zk_id_ = world_.add_node(config_.prefix + "zk", [this](sim::Runtime& rt) {
    auto s = coord::Server::start(rt, coord::ServerConfig{});
    SAMSA_ASSERT(s.ok(), "the coordinator recovers from its own disk");
    zk_ = *s;
  });
  for (int b = 1; b <= config_.brokers; ++b) {
    broker_ids_.push_back(world_.add_node(config_.prefix + "b" + std::to_string(b), [this, b](sim::Runtime& rt) {
      std::vector<std::pair<std::string, std::string>> s = {
          {"broker.id", std::to_string(b)},
          {"zookeeper.connect", config_.prefix + "zk:2181"},
          {"log.dir", "data"},
          {"zookeeper.session.timeout.ms", "6000"},
      };
      s.insert(s.end(), config_.settings.begin(), config_.settings.end());
      auto cfg = samsa::broker::make_broker_config(s);
      SAMSA_ASSERT(cfg.ok(), "the scenario's broker settings are valid");
      nodes_[b] = samsa::broker::start_broker(rt, *cfg, {{zk_address()}});
    }));
  }
}

std::vector<sim::Address> Cluster::addresses() const {
  std::vector<sim::Address> out;
  for (int b = 1; b <= config_.brokers; ++b) out.push_back(address(b));
  return out;
}

const samsa::broker::BrokerNode* Cluster::node(int broker) const {
  if (broker < 1 || broker > config_.brokers || !world_.is_up(node_of(broker))) return nullptr;
  auto it = nodes_.find(broker);
  if (it == nodes_.end()) return nullptr;
  return it->second.lock().get();
}

bool Cluster::create_topic(sim::Runtime& rt, const std::string& topic, int partitions, int replication) {
  auto c = coord::Client::start(rt, coord::ClientConfig{{zk_address()}, 6000});
  if (!c->wait_connected(rt.deadline_after(std::chrono::seconds(10)))) return false;
  std::map<protocol::PartitionId, std::vector<protocol::BrokerId>> assignment;
  for (int p = 0; p < partitions; ++p) {
    auto& r = assignment[protocol::PartitionId(p)];
    for (int i = 0; i < replication; ++i) r.push_back(protocol::BrokerId(1 + (p + i) % config_.brokers));
  }
  bool ok = false;
  for (int attempt = 0; attempt < 20 && !ok; ++attempt) {
    auto r = samsa::broker::write_topic(*c, topic, assignment, {});
    ok = r.ok() || r.error() == coord::Code::node_exists;
    if (!ok) rt.sleep(std::chrono::milliseconds(500));
  }
  c->close();
  return ok;
}

std::vector<Cluster::ReplicaImage> Cluster::replicas_of(sim::Runtime& rt, const std::string& topic,
                                                        int partition) {
  std::vector<ReplicaImage> out;
  scan_replicas(
      topic, partition, [&](const ReplicaImage& img) { out.push_back(img); },
      [&](std::int64_t offset, std::int32_t epoch, std::string_view value) {
        out.back().values.emplace(offset, value);
        out.back().epochs.emplace(offset, epoch);
      });
  (void)rt;
  return out;
}

void Cluster::scan_replicas(const std::string& topic, int partition,
                            const std::function<void(const ReplicaImage&)>& on_replica,
                            const RecordFn& on_record) const {
  for (int b = 1; b <= config_.brokers; ++b) {
    const auto* n = node(b);
    if (n == nullptr) continue;
    auto p = n->replicas->partition(topic, protocol::PartitionId(partition));
    if (!p) continue;
    ReplicaImage img;
    img.broker = b;
    img.high_watermark = p->high_watermark().value();
    img.log_end_offset = p->log_end_offset().value();
    img.log_start_offset = p->log_start_offset().value();
    img.leader = p->is_leader();
    img.leader_epoch = p->leader_epoch().value();
    on_replica(img);
    samsa::broker::PartitionLock lock(*p);
    std::int64_t offset = p->log_start_offset().value(), next = offset;
    while (offset < p->log_end_offset().value()) {
      auto r = p->log().read(offset, 1 << 20);
      if (!r || r->records.empty()) break;
      // Whole batches: a read may start below `offset`; those records came before.
      for_each_record(r->records, [&](std::int64_t o, std::int32_t epoch, std::string_view value) {
        if (o < next) return;
        on_record(o, epoch, value);
        next = o + 1;
      });
      if (next == offset) break;
      offset = next;
    }
  }
}

std::optional<std::pair<int, std::int32_t>> Cluster::leader_and_epoch_of(const std::string& topic,
                                                                          int partition) const {
  std::optional<std::pair<int, std::int32_t>> best;
  for (int b = 1; b <= config_.brokers; ++b) {
    const auto* n = node(b);
    if (n == nullptr) continue;
    auto p = n->replicas->partition(topic, protocol::PartitionId(partition));
    if (!p || !p->is_leader() || (best && p->leader_epoch().value() <= best->second)) continue;
    best = {b, p->leader_epoch().value()};
  }
  return best;
}

std::vector<std::optional<std::pair<int, std::int32_t>>> Cluster::leaders_and_epochs_of(
    const std::vector<std::pair<std::string, int>>& partitions) const {
  std::vector<std::optional<std::pair<int, std::int32_t>>> best(partitions.size());
  // Brokers in the same ascending order as leader_and_epoch_of, so ties in
  // epoch go to the same (lowest) broker.
  for (int b = 1; b <= config_.brokers; ++b) {
    const auto* n = node(b);
    if (n == nullptr) continue;
    for (std::size_t i = 0; i < partitions.size(); ++i) {
      auto p = n->replicas->partition(partitions[i].first, protocol::PartitionId(partitions[i].second));
      if (!p || !p->is_leader() || (best[i] && p->leader_epoch().value() <= best[i]->second)) continue;
      best[i] = {b, p->leader_epoch().value()};
    }
  }
  return best;
}

std::optional<int> Cluster::leader_of(const std::string& topic, int partition) const {
  if (auto l = leader_and_epoch_of(topic, partition)) return l->first;
  return std::nullopt;
}

std::optional<std::pair<int, std::int32_t>> Cluster::controller_and_epoch() const {
  std::optional<std::pair<int, std::int32_t>> best;
  for (int b = 1; b <= config_.brokers; ++b) {
    const auto* n = node(b);
    if (n == nullptr || !n->controller.is_active() || (best && n->controller.epoch().value() <= best->second)) continue;
    best = {b, n->controller.epoch().value()};
  }
  return best;
}

std::optional<int> Cluster::controller() const {
  if (auto c = controller_and_epoch()) return c->first;
  return std::nullopt;
}

}  // namespace samsa::scenarios::broker
