#pragma once
// The controller's requests on the wire (Kafka's ControllerChannelManager):
// one queue and one sender fiber (in a task scope) per broker; each request is sent, its
// response awaited, and on a broken connection the same request is sent
// again on a new one, in order, until the broker is removed. Frames are
// real Kafka requests built from the typed messages, at the versions of
// Kafka 2.7's inter-broker protocol (LeaderAndIsr v4, UpdateMetadata v6,
// StopReplica v3: the last versions before topic ids).
#include <functional>
#include <map>
#include <memory>

#include "sim/runtime/runtime.h"
#include "system/broker/controller_channel.h"
#include "system/protocol/typed_api.h"

namespace samsa::broker {

struct ControlVersions {
  std::int16_t leader_and_isr = 4;
  std::int16_t update_metadata = 6;
  std::int16_t stop_replica = 3;
};

// The typed messages of a control request.
protocol::LeaderAndIsrRequest to_message(const ControlRequest& r, const LeaderAndIsrCommand& c);
protocol::UpdateMetadataRequest to_message(const ControlRequest& r, const UpdateMetadataCommand& c);
protocol::StopReplicaRequest to_message(const ControlRequest& r, const StopReplicaCommand& c);
// The whole request frame, with client id "controller-<id>" (harmless: Kafka's is the broker id).
Bytes encode_control_request(const ControlRequest& r, std::int32_t correlation_id,
                             const ControlVersions& versions = {});

struct ControlResponse {
  BrokerId broker;
  protocol::ApiKey api{};
  protocol::ErrorCode error = protocol::ErrorCode::none;
};

class NetworkControllerChannel final : public ControllerChannel {
 public:
  struct Options {
    std::size_t queue_limit = 4096;  // per broker; a full queue drops (and logs) the request
    sim::Duration request_timeout = std::chrono::seconds(30);  // controller.socket.timeout.ms
    sim::Duration retry_backoff = std::chrono::milliseconds(100);
    ControlVersions versions;
  };
  NetworkControllerChannel(sim::Runtime& rt, BrokerId self, Options options);
  ~NetworkControllerChannel() override;

  void add_broker(const BrokerInfo& broker) override;
  void remove_broker(BrokerId id) override;
  void send(BrokerId to, ControlRequest request) override;
  void clear() override;

  // Called from a sender fiber with each response (must not park).
  void on_response(std::function<void(const ControlResponse&)> fn);
  std::size_t queued(BrokerId id) const;

 private:
  struct Shared;
  struct Queue;
  // A broker's queue and the scope that owns its sender fiber: removing the
  // broker stops the scope, which cancels a send or reconnect in progress.
  struct Entry {
    std::shared_ptr<Queue> queue;
    std::unique_ptr<sim::TaskScope> scope;
  };
  void stop(Entry& e);

  std::shared_ptr<Shared> shared_;
  std::map<BrokerId, Entry> queues_;
};

}  // namespace samsa::broker
