#pragma once
// Request handlers for the data path and the control requests a broker
// serves (Kafka 2.8's KafkaApis): ApiVersions, Metadata (from the metadata
// cache; auto.create.topics.enable through admin.h's create_topics), Produce,
// Fetch (clients and replicas), ListOffsets, OffsetForLeaderEpoch,
// LeaderAndIsr, UpdateMetadata, StopReplica. Each translates its typed
// message to the replica manager and back.
#include <memory>

#include "system/broker/controller_channel.h"
#include "system/broker/handlers_admin.h"
#include "system/broker/replica_manager.h"
#include "system/broker/server.h"

namespace samsa::broker {

// The control requests as the replica manager takes them.
ControlRequest from_message(const protocol::LeaderAndIsrRequest& m, std::int16_t version);
ControlRequest from_message(const protocol::UpdateMetadataRequest& m, std::int16_t version);
ControlRequest from_message(const protocol::StopReplicaRequest& m, std::int16_t version);

// Metadata from the cache; `create` (may be empty) creates unknown topics
// when auto.create.topics.enable and the request allow it.
using CreateTopic = std::function<void(const std::string& topic)>;
protocol::MetadataResponse metadata_response(const ReplicaManager& rm, const protocol::MetadataRequest& req,
                                             std::int16_t version, const CreateTopic& create);

// Adds this file's apis, and the admin apis served through `admin` (may be
// null: then they are not in the table), to the server's table.
void add_handlers(Server& server, std::shared_ptr<ReplicaManager> rm, std::shared_ptr<AdminContext> admin);

}  // namespace samsa::broker
