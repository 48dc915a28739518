#include "system/broker/handlers.h"

#include <algorithm>

#include "system/broker/fetch_session.h"

namespace samsa::broker {

using namespace protocol;

namespace {

template <class State>
ControlPartitionState control_state(const std::string& topic, const State& s) {
  ControlPartitionState c;
  c.tp = TopicPartition{topic, s.partition_index};
  c.controller_epoch = s.controller_epoch;
  c.leader = s.leader;
  c.leader_epoch = s.leader_epoch;
  c.isr = s.isr;
  c.replicas = s.replicas;
  return c;
}

// Decodes the body as M, serves it, encodes the answer at the request's version.
template <class M, class F>
Handler serve(F fn) {
  return [fn](const RequestFrame& f) -> Result<std::optional<sim::FrameParts>, DecodeError> {
    auto body = f.body<M>();
    if (!body) return Err{body.error()};
    auto resp = fn(f.header, *body);
    if constexpr (requires { resp.has_value(); }) {
      if (!resp) return std::optional<sim::FrameParts>();
      return std::optional<sim::FrameParts>(encode_response_parts(f.header, *resp));
    } else {
      return std::optional<sim::FrameParts>(encode_response_parts(f.header, resp));
    }
  };
}

}  // namespace

ControlRequest from_message(const LeaderAndIsrRequest& m, std::int16_t version) {
  ControlRequest r;
  r.controller_id = m.controller_id;
  r.controller_epoch = m.controller_epoch;
  r.broker_epoch = version >= 2 ? m.broker_epoch : BrokerEpoch::none();
  LeaderAndIsrCommand cmd;
  auto add = [&](const std::string& topic, const LeaderAndIsrRequest::LeaderAndIsrPartitionState& s) {
    ControlPartitionState c = control_state(topic, s);
    c.zk_version = s.partition_epoch;
    c.is_new = s.is_new;
    cmd.partitions.push_back(std::move(c));
  };
  if (version < 2) {
    for (const auto& s : m.ungrouped_partition_states) add(s.topic_name, s);
  } else {
    for (const auto& t : m.topic_states)
      for (const auto& s : t.partition_states) add(t.topic_name, s);
  }
  for (const auto& l : m.live_leaders)
    cmd.live_leaders.push_back(
        BrokerInfo{l.broker_id, BrokerEndpoint{l.host_name, static_cast<std::uint16_t>(l.port)}, {}});
  r.body = std::move(cmd);
  return r;
}

ControlRequest from_message(const UpdateMetadataRequest& m, std::int16_t version) {
  ControlRequest r;
  r.controller_id = m.controller_id;
  r.controller_epoch = m.controller_epoch;
  r.broker_epoch = version >= 5 ? m.broker_epoch : BrokerEpoch::none();
  UpdateMetadataCommand cmd;
  auto add = [&](const std::string& topic, const UpdateMetadataRequest::UpdateMetadataPartitionState& s) {
    ControlPartitionState c = control_state(topic, s);
    c.zk_version = s.zk_version;
    cmd.partitions.push_back(std::move(c));
  };
  if (version < 5) {
    for (const auto& s : m.ungrouped_partition_states) add(s.topic_name, s);
  } else {
    for (const auto& t : m.topic_states)
      for (const auto& s : t.partition_states) add(t.topic_name, s);
  }
  for (const auto& b : m.live_brokers) {
    BrokerInfo info{b.id, {}, {}};
    if (version == 0) {
      info.endpoint = {b.v0_host, static_cast<std::uint16_t>(b.v0_port)};
    } else if (!b.endpoints.empty()) {
      info.endpoint = {b.endpoints.front().host, static_cast<std::uint16_t>(b.endpoints.front().port)};
    }
    cmd.live_brokers.push_back(std::move(info));
  }
  r.body = std::move(cmd);
  return r;
}

ControlRequest from_message(const StopReplicaRequest& m, std::int16_t version) {
  ControlRequest r;
  r.controller_id = m.controller_id;
  r.controller_epoch = m.controller_epoch;
  r.broker_epoch = version >= 1 ? m.broker_epoch : BrokerEpoch::none();
  StopReplicaCommand cmd;
  if (version == 0) {
    for (const auto& p : m.ungrouped_partitions)
      cmd.partitions.push_back({{p.topic_name, p.partition_index}, LeaderEpoch::none(), m.delete_partitions});
  } else if (version <= 2) {
    for (const auto& t : m.topics)
      for (PartitionId p : t.partition_indexes)
        cmd.partitions.push_back({{t.name, p}, LeaderEpoch::none(), m.delete_partitions});
  } else {
    for (const auto& t : m.topic_states)
      for (const auto& p : t.partition_states)
        cmd.partitions.push_back({{t.topic_name, p.partition_index}, p.leader_epoch, p.delete_partition});
  }
  r.body = std::move(cmd);
  return r;
}

MetadataResponse metadata_response(const ReplicaManager& rm, const MetadataRequest& req,
                                   std::int16_t version, const CreateTopic& create) {
  const MetadataCache& cache = const_cast<ReplicaManager&>(rm).metadata();
  MetadataResponse resp;
  for (const auto& [id, b] : cache.brokers())
    resp.brokers.push_back({id, b.endpoint.host, b.endpoint.port, std::nullopt, {}});
  resp.cluster_id = "samsa";
  resp.controller_id = cache.controller();
  std::vector<std::string> names;
  const bool all = !req.topics.has_value() || (version == 0 && req.topics->empty());
  if (all) {
    for (const auto& [tp, s] : cache.partitions())
      if (names.empty() || names.back() != tp.topic) names.push_back(tp.topic);
  } else {
    for (const auto& t : *req.topics)
      if (t.name) names.push_back(*t.name);
  }
  const bool may_create = rm.config().auto_create_topics_enable && (version < 4 || req.allow_auto_topic_creation);
  for (const auto& name : names) {
    auto& tr = resp.topics.emplace_back();
    tr.name = name;
    if (!cache.has_topic(name)) {
      if (may_create && create) {
        create(name);
        tr.error_code = ErrorCode::leader_not_available;
      } else {
        tr.error_code = ErrorCode::unknown_topic_or_partition;
      }
      continue;
    }
    for (auto it = cache.partitions().lower_bound(TopicPartition{name, PartitionId(0)});
         it != cache.partitions().end() && it->first.topic == name; ++it) {
      const ControlPartitionState& s = it->second;
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = s.tp.partition;
      pr.leader_id = s.leader;
      pr.leader_epoch = s.leader_epoch;
      pr.replica_nodes = s.replicas;
      pr.isr_nodes = s.isr;
      for (BrokerId b : s.replicas)
        if (!cache.brokers().count(b)) pr.offline_replicas.push_back(b);
      if (s.leader.is_none() || !cache.brokers().count(s.leader)) pr.error_code = ErrorCode::leader_not_available;
    }
  }
  return resp;
}

void add_handlers(Server& server, std::shared_ptr<ReplicaManager> rm, std::shared_ptr<AdminContext> admin) {
  Server* srv = &server;
  server.add(ApiKey::api_versions, serve<ApiVersionsRequest>([srv](const RequestHeader&, const ApiVersionsRequest&) {
    return srv->api_versions();
  }));
  server.add(ApiKey::metadata, serve<MetadataRequest>([rm, admin](const RequestHeader& h, const MetadataRequest& req) {
    CreateTopic create;
    if (admin) {
      create = [rm, admin](const std::string& topic) {
        coord::Client* c = rm->coordinator();
        if (c == nullptr || invalid_topic_name(topic)) return;
        NewTopic t;
        t.name = topic;
        (void)create_topics(*c, rm->config(), {t}, false, admin->rng);
      };
    }
    return metadata_response(*rm, req, h.api_version, create);
  }));
  server.add(ApiKey::produce, serve<ProduceRequest>([rm](const RequestHeader& h, const ProduceRequest& req) {
    return rm->produce(req, h.api_version);
  }));
  // KafkaApis.handleFetchRequest: the session context first (KIP-227), then
  // the read of its partitions, then the answer the session allows.
  auto sessions = std::make_shared<FetchSessionCache>(rm->config().max_incremental_fetch_session_cache_slots,
                                                      rm->runtime().random("fetch.sessions"));
  server.add(ApiKey::fetch, serve<FetchRequest>([rm, sessions](const RequestHeader& h, const FetchRequest& req) {
    const bool follower = ReplicaManager::fetching_replica(req, h.api_version).value() >= 0;
    const auto ctx = sessions->open(req, h.api_version, follower, rm->runtime().now());
    if (ctx.kind == FetchSessionCache::Kind::error) return sessions->answer(ctx, req, {}, rm->runtime().now());
    FetchResponse read = rm->fetch(FetchSessionCache::to_read(ctx, req), h.api_version);
    return sessions->answer(ctx, req, std::move(read), rm->runtime().now());
  }));
  server.add(ApiKey::list_offsets, serve<ListOffsetsRequest>([rm](const RequestHeader& h, const ListOffsetsRequest& req) {
    return rm->list_offsets(req, h.api_version);
  }));
  server.add(ApiKey::offset_for_leader_epoch,
             serve<OffsetForLeaderEpochRequest>([rm](const RequestHeader& h, const OffsetForLeaderEpochRequest& req) {
               return rm->offsets_for_leader_epoch(req, h.api_version);
             }));
  server.add(ApiKey::leader_and_isr, serve<LeaderAndIsrRequest>([rm](const RequestHeader& h, const LeaderAndIsrRequest& req) {
    const auto r = rm->leader_and_isr(from_message(req, h.api_version));
    LeaderAndIsrResponse resp;
    resp.error_code = r.error;
    for (const auto& pe : r.partitions) {
      LeaderAndIsrResponse::LeaderAndIsrPartitionError e;
      e.topic_name = pe.tp.topic;
      e.partition_index = pe.tp.partition;
      e.error_code = pe.error;
      if (h.api_version >= 5) {
        if (resp.topics.empty()) resp.topics.emplace_back();
        resp.topics.back().partition_errors.push_back(std::move(e));
      } else {
        resp.partition_errors.push_back(std::move(e));
      }
    }
    return resp;
  }));
  server.add(ApiKey::update_metadata,
             serve<UpdateMetadataRequest>([rm](const RequestHeader& h, const UpdateMetadataRequest& req) {
               UpdateMetadataResponse resp;
               resp.error_code = rm->update_metadata(from_message(req, h.api_version)).error;
               return resp;
             }));
  server.add(ApiKey::stop_replica, serve<StopReplicaRequest>([rm](const RequestHeader& h, const StopReplicaRequest& req) {
    const auto r = rm->stop_replica(from_message(req, h.api_version));
    StopReplicaResponse resp;
    resp.error_code = r.error;
    for (const auto& pe : r.partitions)
      resp.partition_errors.push_back({pe.tp.topic, pe.tp.partition, pe.error, {}});
    return resp;
  }));
  if (!admin) return;
  for (ApiKey key : {ApiKey::create_topics, ApiKey::delete_topics, ApiKey::init_producer_id,
                     ApiKey::controlled_shutdown, ApiKey::describe_configs}) {
    server.add(key, [admin, rm](const RequestFrame& f) -> Result<std::optional<sim::FrameParts>, DecodeError> {
      admin->client = rm->coordinator();
      auto r = handle_admin_request(*admin, f);
      SAMSA_ASSERT(r.has_value(), "an admin api");
      if (!*r) return Err{r->error()};
      return std::optional<sim::FrameParts>(std::move(r->value()));
    });
  }
}

}  // namespace samsa::broker
