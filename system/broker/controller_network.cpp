#include "system/broker/controller_network.h"

#include <fmt/format.h>

namespace samsa::broker {

namespace p = protocol;

namespace {

template <class Group, class Item>
Group& group_for(std::vector<Group>& groups, const std::string& topic) {
  for (auto& g : groups)
    if (g.topic_name == topic) return g;
  groups.emplace_back();
  groups.back().topic_name = topic;
  return groups.back();
}

}  // namespace

p::LeaderAndIsrRequest to_message(const ControlRequest& r, const LeaderAndIsrCommand& c) {
  p::LeaderAndIsrRequest m;
  m.controller_id = r.controller_id;
  m.controller_epoch = r.controller_epoch;
  m.broker_epoch = r.broker_epoch;
  for (const auto& s : c.partitions) {
    auto& g = group_for<p::LeaderAndIsrRequest::LeaderAndIsrTopicState,
                        p::LeaderAndIsrRequest::LeaderAndIsrPartitionState>(m.topic_states, s.tp.topic);
    p::LeaderAndIsrRequest::LeaderAndIsrPartitionState ps;
    ps.topic_name = s.tp.topic;  // v0-1 only; grouped by topic from v2
    ps.partition_index = s.tp.partition;
    ps.controller_epoch = s.controller_epoch;
    ps.leader = s.leader;
    ps.leader_epoch = s.leader_epoch;
    ps.isr = s.isr;
    ps.partition_epoch = s.zk_version;
    ps.replicas = s.replicas;
    ps.is_new = s.is_new;
    g.partition_states.push_back(ps);
    m.ungrouped_partition_states.push_back(std::move(ps));
  }
  for (const auto& b : c.live_leaders)
    m.live_leaders.push_back({b.id, b.endpoint.host, b.endpoint.port, {}});
  return m;
}

p::UpdateMetadataRequest to_message(const ControlRequest& r, const UpdateMetadataCommand& c) {
  p::UpdateMetadataRequest m;
  m.controller_id = r.controller_id;
  m.controller_epoch = r.controller_epoch;
  m.broker_epoch = r.broker_epoch;
  for (const auto& s : c.partitions) {
    auto& g = group_for<p::UpdateMetadataRequest::UpdateMetadataTopicState,
                        p::UpdateMetadataRequest::UpdateMetadataPartitionState>(m.topic_states, s.tp.topic);
    p::UpdateMetadataRequest::UpdateMetadataPartitionState ps;
    ps.topic_name = s.tp.topic;
    ps.partition_index = s.tp.partition;
    ps.controller_epoch = s.controller_epoch;
    ps.leader = s.leader;
    ps.leader_epoch = s.leader_epoch;
    ps.isr = s.isr;
    ps.zk_version = s.zk_version;
    ps.replicas = s.replicas;
    g.partition_states.push_back(ps);
    m.ungrouped_partition_states.push_back(std::move(ps));
  }
  for (const auto& b : c.live_brokers) {
    p::UpdateMetadataRequest::UpdateMetadataBroker ub;
    ub.id = b.id;
    ub.v0_host = b.endpoint.host;
    ub.v0_port = b.endpoint.port;
    ub.endpoints.push_back({b.endpoint.port, b.endpoint.host, "PLAINTEXT", 0, {}});
    ub.rack = std::nullopt;
    m.live_brokers.push_back(std::move(ub));
  }
  return m;
}

p::StopReplicaRequest to_message(const ControlRequest& r, const StopReplicaCommand& c) {
  p::StopReplicaRequest m;
  m.controller_id = r.controller_id;
  m.controller_epoch = r.controller_epoch;
  m.broker_epoch = r.broker_epoch;
  for (const auto& s : c.partitions) {
    auto& g = group_for<p::StopReplicaRequest::StopReplicaTopicState,
                        p::StopReplicaRequest::StopReplicaPartitionState>(m.topic_states, s.tp.topic);
    g.partition_states.push_back({s.tp.partition, s.leader_epoch, s.delete_partition, {}});
  }
  return m;
}

Bytes encode_control_request(const ControlRequest& r, std::int32_t correlation_id,
                             const ControlVersions& v) {
  p::RequestHeader h;
  h.correlation_id = correlation_id;
  h.client_id = fmt::format("controller-{}", r.controller_id);
  return std::visit(
      [&](const auto& body) -> Bytes {
        using C = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<C, LeaderAndIsrCommand>) {
          h.api_key = p::ApiKey::leader_and_isr;
          h.api_version = v.leader_and_isr;
        } else if constexpr (std::is_same_v<C, UpdateMetadataCommand>) {
          h.api_key = p::ApiKey::update_metadata;
          h.api_version = v.update_metadata;
        } else {
          h.api_key = p::ApiKey::stop_replica;
          h.api_version = v.stop_replica;
        }
        return p::encode_request_frame(h, to_message(r, body));
      },
      r.body);
}

// --- the channel ----------------------------------------------------------------

struct NetworkControllerChannel::Shared {
  Shared(sim::Runtime& r, BrokerId s, Options o) : rt(r), self(s), options(o) {}
  sim::Runtime& rt;
  BrokerId self;
  Options options;
  std::function<void(const ControlResponse&)> on_response;
  std::int32_t next_correlation = 1;
};

struct NetworkControllerChannel::Queue {
  Queue(sim::Parker& parker, BrokerInfo b, std::size_t limit) : broker(std::move(b)), requests(parker, limit) {}
  BrokerInfo broker;
  sim::Channel<ControlRequest> requests;
};

namespace {

// The error code at the start of each control response body.
p::ErrorCode response_error(const ControlRequest& r, const Bytes& frame, std::int16_t version) {
  const auto shared = p::share_frame(frame);
  const auto code = [](const auto& resp) { return resp ? resp->body.error_code : p::ErrorCode::unknown_server_error; };
  if (std::holds_alternative<LeaderAndIsrCommand>(r.body))
    return code(p::decode_response_frame<p::LeaderAndIsrResponse>(shared, version));
  if (std::holds_alternative<UpdateMetadataCommand>(r.body))
    return code(p::decode_response_frame<p::UpdateMetadataResponse>(shared, version));
  return code(p::decode_response_frame<p::StopReplicaResponse>(shared, version));
}

// The deleted partitions' errors from a StopReplica response (Kafka's
// ControllerBrokerRequestBatch.sendStopReplicaRequests callback): the
// request's error for every one when the request was refused, a partition
// the response does not name counts as failed.
StopReplicaOutcome stop_replica_outcome(BrokerId broker, const ControlRequest& r, const Bytes& frame,
                                        std::int16_t version) {
  StopReplicaOutcome out{broker, {}};
  const auto resp = p::decode_response_frame<p::StopReplicaResponse>(p::share_frame(frame), version);
  std::map<TopicPartition, p::ErrorCode> errors;
  if (resp)
    for (const auto& pe : resp->body.partition_errors)
      errors[TopicPartition{pe.topic_name, pe.partition_index}] = pe.error_code;
  for (const auto& part : std::get<StopReplicaCommand>(r.body).partitions) {
    if (!part.delete_partition) continue;
    p::ErrorCode e = p::ErrorCode::unknown_server_error;
    if (resp && resp->body.error_code != p::ErrorCode::none) e = resp->body.error_code;
    else if (auto it = errors.find(part.tp); it != errors.end()) e = it->second;
    out.partitions.emplace_back(part.tp, e);
  }
  return out;
}

std::int16_t version_of(const ControlRequest& r, const ControlVersions& v) {
  if (std::holds_alternative<LeaderAndIsrCommand>(r.body)) return v.leader_and_isr;
  if (std::holds_alternative<UpdateMetadataCommand>(r.body)) return v.update_metadata;
  return v.stop_replica;
}

p::ApiKey api_of(const ControlRequest& r) {
  if (std::holds_alternative<LeaderAndIsrCommand>(r.body)) return p::ApiKey::leader_and_isr;
  if (std::holds_alternative<UpdateMetadataCommand>(r.body)) return p::ApiKey::update_metadata;
  return p::ApiKey::stop_replica;
}

}  // namespace

NetworkControllerChannel::NetworkControllerChannel(sim::Runtime& rt, BrokerId self, Options options)
    : shared_(std::make_shared<Shared>(rt, self, options)) {}

NetworkControllerChannel::~NetworkControllerChannel() { clear(); }

void NetworkControllerChannel::on_response(std::function<void(const ControlResponse&)> fn) {
  shared_->on_response = std::move(fn);
}

std::size_t NetworkControllerChannel::queued(BrokerId id) const {
  auto it = queues_.find(id);
  return it == queues_.end() ? 0 : it->second.queue->requests.size();
}

// RequestSendThread: send, await the response, resend on a new connection
// after a failure, until the queue is closed.
void NetworkControllerChannel::add_broker(const BrokerInfo& broker) {
  if (queues_.count(broker.id)) remove_broker(broker.id);
  auto q = std::make_shared<Queue>(shared_->rt.parker(), broker, shared_->options.queue_limit);
  auto scope = shared_->rt.make_scope(fmt::format("controller-channel-{}", broker.id));
  auto shared = shared_;
  scope->spawn(fmt::format("controller-channel-{}", broker.id), [shared, q] {
    sim::Runtime& rt = shared->rt;
    const sim::Address to{q->broker.endpoint.host, q->broker.endpoint.port};
    std::unique_ptr<sim::Connection> conn;
    while (auto request = q->requests.recv()) {
      for (;;) {
        if (q->requests.closed()) return;
        if (!conn) {
          auto c = rt.net().connect(to, rt.deadline_after(shared->options.request_timeout));
          if (!c) {
            rt.sleep(shared->options.retry_backoff);
            continue;
          }
          conn = std::move(*c);
        }
        const std::int32_t correlation = shared->next_correlation++;
        const Bytes frame = encode_control_request(*request, correlation, shared->options.versions);
        auto reply = conn->send(frame) ? conn->recv(rt.deadline_after(shared->options.request_timeout))
                                       : Result<Bytes, sim::NetErrc>(Err{sim::NetErrc::reset});
        if (!reply) {
          conn->close();
          conn.reset();
          rt.sleep(shared->options.retry_backoff);
          continue;
        }
        if (shared->on_response)
          shared->on_response({q->broker.id, api_of(*request),
                               response_error(*request, *reply, version_of(*request, shared->options.versions))});
        if (request->on_deleted)
          request->on_deleted(
              stop_replica_outcome(q->broker.id, *request, *reply, shared->options.versions.stop_replica));
        break;
      }
    }
    if (conn) conn->close();
  });
  queues_[broker.id] = Entry{std::move(q), std::move(scope)};
}

void NetworkControllerChannel::stop(Entry& e) {
  e.queue->requests.close();
  e.scope->stop();
}

void NetworkControllerChannel::remove_broker(BrokerId id) {
  auto it = queues_.find(id);
  if (it == queues_.end()) return;
  stop(it->second);
  queues_.erase(it);
}

void NetworkControllerChannel::send(BrokerId to, ControlRequest request) {
  auto it = queues_.find(to);
  if (it == queues_.end()) return;  // not a live broker: Kafka drops it too
  if (it->second.queue->requests.try_send(std::move(request)))
    shared_->rt.log().warn("controller {}: request queue to broker {} is full; dropped a request",
                           shared_->self, to);
}

void NetworkControllerChannel::clear() {
  for (auto& [id, e] : queues_) stop(e);
  queues_.clear();
}

}  // namespace samsa::broker
