#pragma once
// A broker's clean stop (Kafka 2.8's KafkaServer.controlledShutdown and the
// rest of KafkaServer.shutdown): ask the controller to move every leadership
// away (ControlledShutdown with the broker epoch, KIP-380), retried
// controlled.shutdown.max.retries times controlled.shutdown.retry.backoff.ms
// apart; then flush every log with its high-watermark checkpoint and
// producer snapshot; then close the coordinator session, so that
// /brokers/ids/<id> (and /controller, if this broker held it) go at once
// instead of after zookeeper.session.timeout.ms.
//
// Live mode runs it as the node's drain hook (SIGTERM); the simulated world
// can run it from any fiber of the node.
#include <cstddef>

#include "system/broker/broker.h"

namespace samsa::broker {

struct ControlledShutdownOutcome {
  bool leadership_moved = false;  // the controller reported nothing left on this broker
  int attempts = 0;               // ControlledShutdown requests sent
  std::size_t remaining = 0;      // partitions still led here after the last answer
  std::size_t flushed = 0;        // logs flushed
};

// Runs on a fiber of the broker's node; parks. With
// controlled.shutdown.enable=false only flushes and closes the session.
ControlledShutdownOutcome controlled_shutdown(BrokerNode& node);

}  // namespace samsa::broker
