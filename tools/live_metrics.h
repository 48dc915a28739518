#pragma once
// `samsa live --metrics-port P`: the embedded cluster's state in the
// Prometheus text format (version 0.0.4), with Kafka's metric names as the
// Prometheus JMX exporter spells them where Kafka has them
// (kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions ->
// kafka_server_replicamanager_underreplicatedpartitions), labelled by broker.
#include <map>
#include <memory>
#include <string>

#include "sim/live/live_world.h"
#include "system/broker/broker.h"

namespace samsa::tools {

// The embedded cluster's brokers by node (set by each broker's main).
using BrokerNodes = std::map<sim::NodeId, std::weak_ptr<broker::BrokerNode>>;

// Request rate and latency per API and broker, from the frames of the
// brokers' accepted connections (sim::FrameObserver): a request's time runs
// from the broker taking its frame to its response being queued (Kafka's
// TotalTimeMs, less the response's time in the socket). A request without
// a response (acks=0) completes when the next one on its connection
// arrives or the connection closes. Latencies: the last 1028 per API and
// broker (the size of Kafka's Yammer histogram reservoir). One world thread.
class RequestMetrics {
 public:
  RequestMetrics();
  ~RequestMetrics();
  // The observer for broker `broker_id`'s node (LiveNodeConfig::frame_observer).
  std::shared_ptr<sim::FrameObserver> observer_for(int broker_id);
  // kafka_network_requestmetrics_requests_total{broker,request} and
  // kafka_network_requestmetrics_totaltimems{broker,request,quantile} (+ _count).
  void render(std::string& out) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The text of one scrape. Runs on the world's thread.
std::string render_metrics(sim::LiveWorld& world, const BrokerNodes& brokers,
                           const RequestMetrics* requests = nullptr);

}  // namespace samsa::tools
