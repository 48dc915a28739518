#pragma once
// Request handlers for the admin and controller APIs a broker serves:
// CreateTopics, DeleteTopics, InitProducerId, ControlledShutdown, DescribeConfigs (Kafka 2.8's
// KafkaApis in ZooKeeper mode). They translate the typed messages to the
// operations of admin.h and controller.h. The broker's dispatch table calls
// handle_admin_request for these api keys; the handlers may park the calling
// fiber (coordinator round trips, waiting for the controller).
//
// As in Kafka 2.x, CreateTopics and DeleteTopics are served by the active
// controller only (others answer NOT_CONTROLLER; clients find the controller
// in Metadata), and wait up to the request's timeout for the result.
#include <optional>

#include "sim/runtime/runtime.h"
#include "system/broker/admin.h"
#include "system/broker/config.h"
#include "system/broker/controller.h"
#include "system/broker/producer_id_manager.h"
#include "system/protocol/typed_api.h"

namespace samsa::broker {

struct AdminContext {
  sim::Runtime& rt;
  const BrokerConfig& config;
  coord::Client* client = nullptr;  // the current session's; nullptr between sessions
  Controller& controller;
  ProducerIdManager& producer_ids;
  sim::Random& rng;  // replica placement draws
};

protocol::CreateTopicsResponse handle_create_topics(AdminContext& ctx, const protocol::RequestHeader& h,
                                                    const protocol::CreateTopicsRequest& req);
protocol::DeleteTopicsResponse handle_delete_topics(AdminContext& ctx, const protocol::RequestHeader& h,
                                                    const protocol::DeleteTopicsRequest& req);
protocol::InitProducerIdResponse handle_init_producer_id(AdminContext& ctx, const protocol::RequestHeader& h,
                                                         const protocol::InitProducerIdRequest& req);
// DescribeConfigs (api key 32, v0-4 as Kafka 2.8): broker and topic resources (admin.h).
protocol::DescribeConfigsResponse handle_describe_configs(AdminContext& ctx, const protocol::RequestHeader& h,
                                                          const protocol::DescribeConfigsRequest& req);
protocol::ControlledShutdownResponse handle_controlled_shutdown(AdminContext& ctx,
                                                                const protocol::RequestHeader& h,
                                                                const protocol::ControlledShutdownRequest& req);

// The api keys handled here.
bool is_admin_api(protocol::ApiKey key);
// Decodes the body, handles it and encodes the response frame; nullopt for
// an api that is not an admin api, an error for a body that does not parse.
std::optional<Result<Bytes, protocol::DecodeError>> handle_admin_request(AdminContext& ctx,
                                                                          const protocol::RequestFrame& f);

}  // namespace samsa::broker
