#include "system/client/consumer_zookeeper.h"

#include <fmt/format.h>

#include <algorithm>

#include "system/client/group/assignor.h"
#include "system/coord/kafka_layout.h"
#include "system/coord/recipes.h"

namespace samsa::client {

namespace kafka = coord::kafka;
using Ms = std::chrono::milliseconds;

namespace {

Bytes bytes_of(std::string_view s) {
  const ByteView v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

}  // namespace

ZookeeperConsumer::ZookeeperConsumer(sim::Runtime& rt, ZookeeperConsumerConfig config)
    : rt_(rt), config_(std::move(config)) {
  ConsumerConfig fc;
  fc.bootstrap_servers = config_.bootstrap_servers;
  fc.client_id = config_.consumer_id;
  fc.enable_auto_commit = false;
  fc.auto_offset_reset = config_.auto_offset_reset == "smallest" ? "earliest" : "latest";
  fc.fetch_max_wait_ms = config_.fetch_wait_max_ms;
  fetcher_ = std::make_unique<Consumer>(rt, fc);
  next_commit_ = rt.now() + Ms(config_.auto_commit_interval_ms);
}

ZookeeperConsumer::~ZookeeperConsumer() {
  if (zk_ && !closed_) zk_->close();
}

bool ZookeeperConsumer::ensure_session() {
  if (zk_ && zk_->state() != coord::SessionState::expired && zk_->state() != coord::SessionState::closed)
    return zk_->wait_connected(rt_.deadline_after(Ms(config_.zookeeper_session_timeout_ms)));
  // A new session (ZKSessionExpireListener.handleNewSession): our ephemerals
  // are gone, so is our ownership.
  if (zk_) zk_->close();
  owned_.clear();
  fetcher_->assign({});
  zk_ = coord::Client::start(rt_, coord::ClientConfig{config_.zookeeper_connect, config_.zookeeper_session_timeout_ms});
  if (!zk_->wait_connected(rt_.deadline_after(Ms(config_.zookeeper_session_timeout_ms)))) return false;
  *changed_ = true;
  return register_consumer();
}

// /consumers/<group>/ids/<consumer.id> with ZookeeperConsumerConnector's JSON.
bool ZookeeperConsumer::register_consumer() {
  std::string subs;
  for (const auto& t : config_.topics) subs += fmt::format("{}\"{}\":1", subs.empty() ? "" : ",", t);
  const std::string json = fmt::format(R"({{"version":1,"subscription":{{{}}},"pattern":"static","timestamp":"{}"}})",
                                       subs, rt_.wall_ms());
  const std::string ids = kafka::consumer_ids_path(config_.group_id);
  if (!coord::ensure_path(*zk_, ids).ok()) return false;
  auto r = zk_->create(ids + "/" + config_.consumer_id, bytes_of(json), coord::CreateMode::ephemeral);
  if (!r.ok() && r.error() != coord::Code::node_exists) return false;
  ++stats_.registrations;
  return true;
}

std::optional<std::int64_t> ZookeeperConsumer::read_offset(const TopicPartition& tp) {
  auto d = zk_->get_data(kafka::consumer_offset_path(config_.group_id, tp.topic, tp.partition.value()));
  if (!d.ok()) return std::nullopt;
  const std::string s(as_chars(d->data));
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return std::nullopt;
  return std::stoll(s);
}

void ZookeeperConsumer::commit() {
  if (!zk_ || zk_->state() != coord::SessionState::connected) return;
  for (const auto& tp : owned_) {
    auto pos = fetcher_->position(tp);
    if (!pos) continue;
    const std::string path = kafka::consumer_offset_path(config_.group_id, tp.topic, tp.partition.value());
    auto r = zk_->set_data(path, bytes_of(std::to_string(*pos)));
    if (!r.ok() && r.error() == coord::Code::no_node) {
      (void)coord::ensure_path(*zk_, path.substr(0, path.rfind('/')));
      (void)zk_->create(path, bytes_of(std::to_string(*pos)));
    }
    ++stats_.offset_commits;
  }
}

// Deletes the owner znodes this consumer holds (releasePartitionOwnership).
// Stops fetching first: from here on this consumer no longer believes it owns them.
void ZookeeperConsumer::release() {
  const std::vector<TopicPartition> gone = std::move(owned_);
  owned_.clear();
  fetcher_->assign({});
  for (const auto& tp : gone)
    (void)zk_->remove(kafka::consumer_owner_path(config_.group_id, tp.topic, tp.partition.value()));
}

// One attempt of ZKRebalancerListener.rebalance: true when every partition
// of this consumer's share was claimed.
bool ZookeeperConsumer::try_rebalance() {
  ++stats_.attempts;
  std::weak_ptr<bool> flag = changed_;
  auto watch = [flag](const coord::WatchedEvent&) {
    if (auto f = flag.lock()) *f = true;
  };
  auto ids = zk_->get_children(kafka::consumer_ids_path(config_.group_id), watch);
  if (!ids.ok()) return false;
  group::PartitionCounts counts;
  for (const auto& t : config_.topics) {
    auto d = zk_->get_data(kafka::topic_path(t), watch);
    if (!d.ok()) continue;
    auto a = kafka::parse_topic_assignment(as_chars(d->data));
    if (a.ok()) counts[t] = static_cast<std::int32_t>(a->size());
  }
  // Every consumer's subscription, read back from its registration.
  group::GroupSubscription subs;
  for (const auto& id : ids->children) {
    auto d = zk_->get_data(kafka::consumer_ids_path(config_.group_id) + "/" + id);
    if (!d.ok()) continue;
    group::Subscription s;
    const std::string json(as_chars(d->data));
    for (const auto& [t, n] : counts)
      if (json.find("\"" + t + "\":") != std::string::npos) s.topics.push_back(t);
    subs[id + "-0"] = std::move(s);
  }
  auto assignor = group::make_assignor(config_.partition_assignment_strategy);
  const auto all = assignor->assign(counts, subs);
  auto mine = all.find(thread_id());
  std::vector<TopicPartition> want = mine == all.end() ? std::vector<TopicPartition>{} : mine->second.partitions;
  std::sort(want.begin(), want.end());
  // reflectPartitionOwnershipDecision: all or nothing.
  std::vector<TopicPartition> claimed;
  for (const auto& tp : want) {
    const std::string path = kafka::consumer_owner_path(config_.group_id, tp.topic, tp.partition.value());
    (void)coord::ensure_path(*zk_, path.substr(0, path.rfind('/')));
    auto r = zk_->create(path, bytes_of(thread_id()), coord::CreateMode::ephemeral);
    if (r.ok()) {
      claimed.push_back(tp);
      continue;
    }
    ++stats_.claim_conflicts;
    for (const auto& c : claimed)
      (void)zk_->remove(kafka::consumer_owner_path(config_.group_id, c.topic, c.partition.value()));
    return false;
  }
  owned_ = want;
  fetcher_->assign(owned_);
  for (const auto& tp : owned_)
    if (auto o = read_offset(tp)) (void)fetcher_->seek(tp, *o);  // assigned just above
  if (on_assign) on_assign({static_cast<std::int32_t>(stats_.rebalances), owned_});
  return true;
}

// ZKRebalancerListener.syncedRebalance.
void ZookeeperConsumer::rebalance() {
  ++stats_.rebalances;
  for (std::int32_t i = 0; i < config_.rebalance_max_retries; ++i) {
    *changed_ = false;
    if (config_.auto_commit_enable) commit();
    release();
    if (on_assign) on_assign({static_cast<std::int32_t>(stats_.rebalances), {}});
    if (try_rebalance()) return;
    rt_.sleep(Ms(config_.rebalance_backoff_ms));
  }
  ++stats_.rebalance_failures;  // ConsumerRebalanceFailedException: owns nothing until the next change
}

std::vector<ConsumerRecord> ZookeeperConsumer::poll(sim::Duration timeout) {
  if (closed_) return {};
  if (!ensure_session()) return {};
  if (*changed_) rebalance();
  if (config_.auto_commit_enable && rt_.now() >= next_commit_) {
    next_commit_ = rt_.now() + Ms(config_.auto_commit_interval_ms);
    commit();
  }
  if (owned_.empty()) {
    rt_.sleep(timeout);
    return {};
  }
  return fetcher_->poll(timeout);
}

void ZookeeperConsumer::close() {
  if (closed_) return;
  if (zk_ && zk_->state() == coord::SessionState::connected) {
    if (config_.auto_commit_enable) commit();
    release();
    zk_->close();
  }
  closed_ = true;
}

}  // namespace samsa::client
