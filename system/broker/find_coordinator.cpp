#include "system/broker/find_coordinator.h"

namespace samsa::broker {

using namespace protocol;

FindCoordinatorResponse find_coordinator_response(const RequestHeader& h, const FindCoordinatorRequest& r,
                                                  const MetadataCache& metadata, const LocateCoordinator& locate) {
  auto answer = [&](const std::string& key) {
    FindCoordinatorResponse::Coordinator c;
    c.key = key;
    c.node_id = BrokerId::none();
    c.error_message = std::nullopt;
    if (key.empty()) {
      c.error_code = ErrorCode::invalid_request;
      return c;
    }
    auto [error, leader] = locate(key);
    c.error_code = error;
    if (error == ErrorCode::none) {
      const BrokerInfo& b = metadata.brokers().at(leader);
      c.node_id = leader;
      c.host = b.endpoint.host;
      c.port = b.endpoint.port;
    }
    return c;
  };
  FindCoordinatorResponse resp;
  if (h.api_version >= 4) {
    for (const auto& k : r.coordinator_keys) resp.coordinators.push_back(answer(k));
    return resp;
  }
  auto c = answer(r.key);
  resp.error_code = c.error_code;
  resp.error_message = std::nullopt;
  resp.node_id = c.node_id;
  resp.host = c.host;
  resp.port = c.port;
  return resp;
}

}  // namespace samsa::broker
