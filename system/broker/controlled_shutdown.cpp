#include "system/broker/controlled_shutdown.h"

#include <fmt/format.h>

#include "system/protocol/typed_api.h"

namespace samsa::broker {

namespace p = protocol;

namespace {

// ControlledShutdown v3 (flexible; broker epoch since v2), as
// KafkaServer.controlledShutdown's doControlledShutdown sends it: to the
// controller the metadata cache names. nullopt when there is no controller
// to ask or the exchange broke.
std::optional<p::ControlledShutdownResponse> ask_controller(BrokerNode& node, std::int32_t correlation_id) {
  const MetadataCache& md = node.replicas->metadata();
  const BrokerId controller = md.controller();
  if (controller.is_none()) return std::nullopt;
  const auto endpoint = md.endpoint(controller);
  if (!endpoint) return std::nullopt;
  const auto deadline =
      node.rt.now() + std::chrono::milliseconds(std::max(1, node.config.controller_socket_timeout_ms));
  auto conn = node.rt.net().connect(sim::Address{endpoint->host, endpoint->port}, deadline);
  if (!conn) return std::nullopt;
  p::RequestHeader h;
  h.api_key = p::ApiKey::controlled_shutdown;
  h.api_version = 3;
  h.correlation_id = correlation_id;
  h.client_id = fmt::format("broker-{}-controlled-shutdown", node.config.broker_id);
  p::ControlledShutdownRequest req;
  req.broker_id = BrokerId(node.config.broker_id);
  req.broker_epoch = node.replicas->fence().broker_epoch();
  std::optional<p::ControlledShutdownResponse> out;
  if ((*conn)->send(p::encode_request_frame(h, req))) {
    auto frame = (*conn)->recv(deadline);
    if (frame) {
      auto r = p::decode_response_frame<p::ControlledShutdownResponse>(p::share_frame(std::move(*frame)), 3);
      if (r && r->correlation_id == correlation_id) out = std::move(r->body);
    }
  }
  (*conn)->close();
  return out;
}

// True when no broker but this one is alive in the metadata cache: there is
// nowhere to move leadership, so retrying cannot help (Kafka would spend
// its retries; a whole cluster stopping broker by broker would wait
// controlled.shutdown.max.retries x backoff on its last broker).
bool alone(BrokerNode& node) {
  for (const auto& [id, info] : node.replicas->metadata().brokers())
    if (id.value() != node.config.broker_id) return false;
  return true;
}

// Moves leadership away; fills the outcome's attempts and remaining.
void move_leadership(BrokerNode& node, ControlledShutdownOutcome& out) {
  const auto backoff = std::chrono::milliseconds(std::max<std::int64_t>(0, node.config.controlled_shutdown_retry_backoff_ms));
  for (int attempt = 0; attempt < std::max(1, node.config.controlled_shutdown_max_retries); ++attempt) {
    if (attempt > 0) node.rt.sleep(backoff);
    ++out.attempts;
    const auto r = ask_controller(node, attempt + 1);
    if (!r) {
      node.rt.log().warn("controlled shutdown: no answer from the controller (attempt {})", out.attempts);
      continue;
    }
    out.remaining = r->remaining_partitions.size();
    if (r->error_code == p::ErrorCode::none && r->remaining_partitions.empty()) {
      out.leadership_moved = true;
      return;
    }
    node.rt.log().warn("controlled shutdown: {} ({} partitions still led here, attempt {})",
                       p::to_string(r->error_code), out.remaining, out.attempts);
    if (r->error_code == p::ErrorCode::none && alone(node)) return;
  }
}

// LogManager.shutdown: every log flushed, with its checkpoints.
std::size_t flush_logs(BrokerNode& node) {
  std::size_t flushed = 0;
  for (const auto& tp : node.replicas->hosted()) {
    auto part = node.replicas->partition(tp);
    if (!part) continue;
    CheckpointLock files(*part);
    PartitionLock lock(*part);
    const bool ok = part->log().flush().ok();
    (void)part->checkpoint_high_watermark();
    (void)part->save_producer_snapshot();
    if (ok) ++flushed;
    else node.rt.log().error("controlled shutdown: flushing {} failed", to_string(tp));
  }
  return flushed;
}

}  // namespace

ControlledShutdownOutcome controlled_shutdown(BrokerNode& node) {
  ControlledShutdownOutcome out;
  if (node.config.controlled_shutdown_enable && node.serving) move_leadership(node, out);
  out.flushed = flush_logs(node);
  node.shutting_down = true;
  if (auto* c = node.replicas->coordinator()) c->close();
  if (out.leadership_moved)
    node.rt.log().info("controlled shutdown: leadership moved ({} attempts); {} logs flushed",
                       out.attempts, out.flushed);
  else
    node.rt.log().warn("controlled shutdown: {} partitions still led here after {} attempts; {} logs flushed",
                       out.remaining, out.attempts, out.flushed);
  return out;
}

}  // namespace samsa::broker
