#pragma once
// The `kafka` workload: a coordinator ("zk") and cluster.brokers brokers
// ("b1".."bN", system/broker), the scenario's [[topics]], producers
// ("p1".., system/client's Producer) and a consumer group ("c1"..,
// system/client's Consumer, or the seed's ZooKeeper consumer), every client
// operation recorded in the run's history (send, poll, commit, assign,
// process; DESIGN.md's format). After the run an "admin" node reads every
// partition back and takes the final-state snapshot (each replica's log,
// high watermark, leader flag and leader epoch); check() judges the history
// against it.
//
// Node groups for nemeses: "brokers", "coordinator", "producers",
// "consumers", "clients"; dynamic targets resolved at fault time: "leader"
// (of the first topic's partition 0), "controller", "follower" (a replica
// of that partition that is neither its leader nor the controller),
// "group-coordinator" (the leader of the group's __consumer_offsets partition).
//
// [workload] options (defaults in kafka_workload()):
//   producers, records (per producer; 0: until the end), rate_per_s (per
//   producer), keys (distinct keys; 0: null keys), sync (wait for each send),
//   consumers, group_protocol (classic | zookeeper), delivery
//   (process-before-commit | commit-before-process), process_ms, workers
//   (application threads per consumer; 0: the poll loop processes), dispatch
//   (round-robin | key-hash: which worker takes a record),
//   checks (the final-state checks to apply; see README.md).
// [config]: Kafka keys, routed by name to the brokers, the producers or the
// consumers (kafka/workload.cpp lists them); unset keys keep Kafka's (or
// samsa's simulated-cluster) defaults.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/workload.h"

namespace samsa::scenarios::kafka {

// The checks check() knows (the `checks` option names a subset).
const std::vector<std::string>& check_names();

// The [config] keys the workload's producers and consumers read (the rest
// are the brokers'); `samsa live workload` passes the same ones to its clients.
const std::vector<std::string>& producer_config_keys();
const std::vector<std::string>& consumer_config_keys();

// Bad keys are the scenario's mistake, said before the run starts (the
// workload types' validate): the key and the broker, producer or consumer
// config that refuses it (a null map is not checked).
Result<void, ConfigMistake> validate_configs(std::vector<std::pair<std::string, std::string>> broker_settings,
                                             const std::map<std::string, std::string>* producer,
                                             const std::map<std::string, std::string>* consumer);

// The set [config] keys (nulls left out) with each component's prefixed key
// folded in under its plain name ("producer.acks" as "acks"):
// expectations_for reads each key for the one component it means.
nlohmann::json flat_config(const ScenarioSpec& spec);

// What every cluster workload tells invariants::expectations_for: its
// [config] keys, the largest replication factor, the nemeses with their
// targets and disk modes (weight 0 left out), and the fault budget.
nlohmann::json cluster_expectation_config(const ScenarioSpec& spec);

// The kafka workload's: cluster_expectation_config plus the delivery mode
// (commit-before-process is at-most-once) and the consumer's workers.
nlohmann::json expectation_config(const ScenarioSpec& spec);

}  // namespace samsa::scenarios::kafka
