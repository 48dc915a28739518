#pragma once
// One FindCoordinator answer for both coordinators (KafkaApis.
// handleFindCoordinatorRequest): v0-v3 carry one key, v4 a list
// (KIP-699); an empty key is INVALID_REQUEST; otherwise the leader of the
// key's partition of the internal topic, as `locate` finds it, with its
// endpoint. GroupService answers key type 0 (GROUP), TxnService key type 1
// (TRANSACTION).
#include <functional>
#include <string>
#include <utility>

#include "system/broker/replica_manager.h"
#include "system/protocol/typed_api.h"

namespace samsa::broker {

// The error, or NONE and the leader of the key's coordinator partition.
using LocateCoordinator = std::function<std::pair<protocol::ErrorCode, protocol::BrokerId>(const std::string& key)>;

protocol::FindCoordinatorResponse find_coordinator_response(const protocol::RequestHeader& h,
                                                            const protocol::FindCoordinatorRequest& r,
                                                            const MetadataCache& metadata,
                                                            const LocateCoordinator& locate);

}  // namespace samsa::broker
