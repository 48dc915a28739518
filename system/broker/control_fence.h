#pragma once
// The broker's checks on control requests (LeaderAndIsr, UpdateMetadata,
// StopReplica) before it acts on them, as Kafka 2.8 does them:
//  - KafkaApis.isBrokerEpochStale (KIP-380): a request carrying an epoch
//    older than this broker's current registration was meant for an earlier
//    incarnation -> STALE_BROKER_EPOCH. -1 (an old request version) passes.
//  - ReplicaManager's controllerEpoch check: a request from a controller
//    epoch older than the newest this broker has obeyed comes from a deposed
//    (zombie) controller -> STALE_CONTROLLER_EPOCH.
// `samsa.legacy.no.controller.epoch.check` and `samsa.legacy.no.broker.epoch`
// switch the two checks off. (The first also switches off
// becomeLeaderOrFollower's leader-epoch comparison in ReplicaManager: Kafka
// 0.8.0-beta, before KAFKA-532, had neither.)
#include "system/broker/config.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

class ControlFence {
 public:
  explicit ControlFence(const LegacySwitches& legacy)
      : check_controller_epoch_(!legacy.no_controller_epoch_check),
        check_broker_epoch_(!legacy.no_broker_epoch) {}

  // This broker's epoch: the czxid of its current registration.
  void set_broker_epoch(protocol::BrokerEpoch e) { broker_epoch_ = e; }
  protocol::BrokerEpoch broker_epoch() const { return broker_epoch_; }
  // The newest controller epoch obeyed so far.
  protocol::ControllerEpoch controller_epoch() const { return controller_epoch_; }

  // NONE when the request may be acted on (and then remembers its
  // controller epoch), else the error to answer with.
  protocol::ErrorCode admit(protocol::ControllerEpoch controller_epoch,
                            protocol::BrokerEpoch request_broker_epoch);

 private:
  bool check_controller_epoch_;
  bool check_broker_epoch_;
  protocol::BrokerEpoch broker_epoch_ = protocol::BrokerEpoch::none();
  protocol::ControllerEpoch controller_epoch_ = protocol::ControllerEpoch::none();
};

}  // namespace samsa::broker
