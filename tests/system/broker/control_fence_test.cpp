// The broker's fencing of control requests: controller epoch (zombie
// controllers) and broker epoch (KIP-380), and their legacy switches.
#include "system/broker/control_fence.h"

#include <catch2/catch.hpp>

using namespace samsa::broker;
using samsa::protocol::BrokerEpoch;
using samsa::protocol::ControllerEpoch;
using samsa::protocol::ErrorCode;

TEST_CASE("control fence: a deposed controller's requests are refused", "[broker][fence]") {
  ControlFence f{LegacySwitches{}};
  f.set_broker_epoch(BrokerEpoch(100));
  CHECK(f.admit(ControllerEpoch(2), BrokerEpoch(100)) == ErrorCode::none);
  CHECK(f.admit(ControllerEpoch(1), BrokerEpoch(100)) == ErrorCode::stale_controller_epoch);
  CHECK(f.admit(ControllerEpoch(2), BrokerEpoch(100)) == ErrorCode::none);
  CHECK(f.admit(ControllerEpoch(3), BrokerEpoch(100)) == ErrorCode::none);
  CHECK(f.controller_epoch() == ControllerEpoch(3));
  CHECK(f.admit(ControllerEpoch(2), BrokerEpoch(100)) == ErrorCode::stale_controller_epoch);
}

TEST_CASE("control fence: requests for an earlier incarnation are refused (KIP-380)", "[broker][fence]") {
  ControlFence f{LegacySwitches{}};
  f.set_broker_epoch(BrokerEpoch(200));
  CHECK(f.admit(ControllerEpoch(1), BrokerEpoch(150)) == ErrorCode::stale_broker_epoch);
  CHECK(f.admit(ControllerEpoch(1), BrokerEpoch(200)) == ErrorCode::none);
  CHECK(f.admit(ControllerEpoch(1), BrokerEpoch(250)) == ErrorCode::none);  // newer: Kafka admits
  CHECK(f.admit(ControllerEpoch(1), BrokerEpoch::none()) == ErrorCode::none);  // old versions carry -1
}

TEST_CASE("control fence: samsa.legacy.no.controller.epoch.check obeys a zombie controller",
          "[broker][fence][legacy]") {
  LegacySwitches legacy;
  legacy.no_controller_epoch_check = true;
  ControlFence f{legacy};
  f.set_broker_epoch(BrokerEpoch(1));
  CHECK(f.admit(ControllerEpoch(5), BrokerEpoch(1)) == ErrorCode::none);
  CHECK(f.admit(ControllerEpoch(4), BrokerEpoch(1)) == ErrorCode::none);
  CHECK(f.controller_epoch() == ControllerEpoch(5));
  CHECK(f.admit(ControllerEpoch(1), BrokerEpoch(0)) == ErrorCode::stale_broker_epoch);  // the other check stays
  legacy.no_broker_epoch = true;
  ControlFence g{legacy};
  g.set_broker_epoch(BrokerEpoch(9));
  CHECK(g.admit(ControllerEpoch(1), BrokerEpoch(3)) == ErrorCode::none);
}
