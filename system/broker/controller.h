#pragma once
// The controller (Kafka 2.8's KafkaController with its PartitionStateMachine,
// ReplicaStateMachine and TopicDeletionManager, ZooKeeper mode). Every broker
// runs one; the broker whose session wins the ephemeral /controller is the
// active controller, fenced by /controller_epoch: every write of partition
// state is a multi that first checks /controller_epoch's zkVersion, so a
// deposed controller's writes fail (KAFKA-6082), and every write of a
// partition's state is a compare-and-set on its own zkVersion.
//
// Like Kafka's ControllerEventManager, one fiber handles one event at a time:
// watches (broker, topic, ISR-change and deletion children; /controller) only
// raise flags and wake it; controlled-shutdown requests queue; the
// auto-rebalance check runs on a timer.
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/broker/config.h"
#include "system/broker/controller_channel.h"
#include "system/broker/leader_election.h"
#include "system/broker/zk_registration.h"
#include "system/coord/client.h"
#include "system/protocol/errors.h"

namespace samsa::broker {

using protocol::ErrorCode;

// One partition as the controller knows it (ControllerContext).
struct PartitionInfo {
  std::vector<BrokerId> replicas;          // the assignment; replicas[0] is preferred
  std::optional<LeaderAndIsr> leadership;  // from .../partitions/<p>/state
  ControllerEpoch leadership_epoch;        // the controller epoch stored with it
  PartitionState state = PartitionState::non_existent;
};

struct ControllerContext {
  ControllerEpoch epoch;
  std::int32_t epoch_zk_version = 0;
  std::map<BrokerId, BrokerInfo> live_brokers;  // live or shutting down
  std::set<BrokerId> shutting_down;
  std::map<TopicPartition, PartitionInfo> partitions;
  std::set<std::string> topics;
  std::set<std::string> topics_being_deleted;          // topicsToBeDeleted
  std::set<std::string> topics_ineligible_for_deletion;  // waiting for a broker with a replica
  std::map<std::string, bool> unclean_override;  // topic -> unclean.leader.election.enable
  std::map<std::pair<TopicPartition, BrokerId>, ReplicaState> replica_states;

  BrokerSet live_broker_ids() const;             // without the ones shutting down
  BrokerSet live_or_shutting_down_ids() const;
  bool is_replica_online(BrokerId b, bool include_shutting_down = false) const;
};

// The result of a ControlledShutdown request: the partitions the broker
// still leads (the broker retries until none are left), or an error.
struct ControlledShutdownResult {
  ErrorCode error = ErrorCode::none;
  std::vector<TopicPartition> remaining;
};

class Controller {
 public:
  Controller(sim::Runtime& rt, const BrokerConfig& config, ControllerChannel& channel);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // The body of one coordinator session (run_registered_sessions): takes part
  // in controller elections and, while elected, is the controller. Returns
  // when the session has ended.
  void run_session(coord::Client& c, BrokerEpoch own_epoch);

  // ControlledShutdown (KafkaController.controlledShutdown): parks the caller
  // until the controller fiber handled it. NOT_CONTROLLER when this broker is
  // not the controller; STALE_BROKER_EPOCH for an older incarnation's epoch.
  ControlledShutdownResult controlled_shutdown(BrokerId id, BrokerEpoch epoch);

  bool is_active() const { return active_; }
  ControllerEpoch epoch() const { return ctx_.epoch; }
  const ControllerContext& context() const { return ctx_; }
  // Elections this controller won, for observers.
  std::uint64_t failovers() const { return failovers_; }

 private:
  struct Signals;
  struct ShutdownRequest;
  enum class Strategy : std::uint8_t { offline, preferred, controlled_shutdown };

  // --- the event loop -----------------------------------------------------------
  void handle_pending();
  void elect();
  void on_controller_failover();
  void on_resignation();
  bool session_over() const;

  // --- events ---------------------------------------------------------------------
  void process_broker_change();
  void process_topic_change();
  void process_isr_change_notification();
  void process_topic_deletion();
  void process_stop_replica_outcomes();
  void process_controlled_shutdown(ShutdownRequest& r);
  void check_and_trigger_auto_leader_rebalance();

  // --- KafkaController's callbacks ---------------------------------------------------
  void on_broker_startup(const std::vector<BrokerId>& brokers);
  void on_broker_failure(const std::vector<BrokerId>& brokers);
  void on_new_partition_creation(const std::vector<TopicPartition>& partitions);

  // --- the state machines ----------------------------------------------------------
  void trigger_online_partition_state_change();
  void elect_leaders(const std::vector<TopicPartition>& partitions, Strategy strategy);
  void initialize_leader_and_isr(const std::vector<TopicPartition>& partitions);
  void replicas_online(const std::vector<std::pair<TopicPartition, BrokerId>>& replicas);
  void replicas_offline(const std::vector<std::pair<TopicPartition, BrokerId>>& replicas);
  void set_partition_state(const TopicPartition& tp, PartitionState to);
  void set_replica_state(const TopicPartition& tp, BrokerId b, ReplicaState to);
  ReplicaState replica_state(const TopicPartition& tp, BrokerId b) const;
  bool any_replica_in(const std::string& topic, ReplicaState st) const;
  bool all_replicas_in(const std::string& topic, ReplicaState st) const;

  // --- TopicDeletionManager ------------------------------------------------------------
  void resume_deletions();
  void start_topic_deletion(const std::string& topic);
  void fail_replica_deletion(const std::vector<std::pair<TopicPartition, BrokerId>>& replicas);
  void complete_delete_topic(const std::string& topic);

  // --- coordinator reads and fenced writes --------------------------------------------
  bool load_context();
  bool read_topic(const std::string& topic);
  std::optional<LeaderAndIsr> read_leadership(const TopicPartition& tp, ControllerEpoch* epoch);
  enum class WriteResult : std::uint8_t { ok, conflict, moved, failed };
  WriteResult write_leadership(const TopicPartition& tp, LeaderAndIsr& next);
  WriteResult create_leadership(const TopicPartition& tp, LeaderAndIsr& next);
  bool controller_moved();

  // --- requests to brokers -----------------------------------------------------------
  ControlPartitionState control_state(const TopicPartition& tp, bool is_new = false) const;
  void add_leader_and_isr(const std::set<BrokerId>& to, const TopicPartition& tp, bool is_new);
  void add_update_metadata(const std::set<BrokerId>& to, const std::vector<TopicPartition>& tps);
  void send_batch();
  LeaderEpoch stop_replica_epoch(const TopicPartition& tp, const PartitionInfo& info) const;
  bool allow_unclean(const std::string& topic) const;
  std::vector<std::pair<TopicPartition, BrokerId>> replicas_on(const BrokerSet& brokers) const;

  sim::Runtime& rt_;
  BrokerConfig config_;
  BrokerId id_;
  ControllerChannel& channel_;
  coord::Client* client_ = nullptr;  // during run_session
  BrokerEpoch own_epoch_;
  bool active_ = false;
  bool resign_ = false;  // a fenced write saw that another controller took over
  ControllerContext ctx_;
  RequestBatch batch_;
  std::shared_ptr<Signals> signals_;
  std::deque<ShutdownRequest*> shutdown_requests_;
  sim::MonoTime next_rebalance_check_;
  std::uint64_t failovers_ = 0;
};

// The broker side of ISR changes (ReplicaManager.propagateIsrChanges): a
// sequential /isr_change_notification/isr_change_ node listing partitions
// whose ISR the leader changed, for the controller to refresh its cache.
Result<void, coord::Code> propagate_isr_changes(coord::Client& c,
                                                const std::vector<TopicPartition>& partitions);

// CreateTopics in ZooKeeper mode (AdminZkClient.createTopicWithAssignment):
// the topic's config overrides to /config/topics/<topic>, then the assignment
// to /brokers/topics/<topic>; the controller reacts to the new child.
// node_exists: the topic exists.
Result<void, coord::Code> write_topic(coord::Client& c, const std::string& topic,
                                      const std::map<PartitionId, std::vector<BrokerId>>& assignment,
                                      const std::map<std::string, std::string>& configs);
// DeleteTopics (AdminZkClient.deleteTopic): /admin/delete_topics/<topic>.
Result<void, coord::Code> mark_topic_for_deletion(coord::Client& c, const std::string& topic);

// /brokers/topics/<topic> -> assignment (TopicZNode.decode); nullopt when the
// value does not parse.
std::optional<std::map<PartitionId, std::vector<BrokerId>>> parse_topic_assignment(
    std::string_view json);
// /config/topics/<topic> -> overrides (ConfigEntityZNode), and back.
std::optional<std::map<std::string, std::string>> parse_topic_configs(std::string_view json);
std::string topic_configs_json(const std::map<std::string, std::string>& configs);

}  // namespace samsa::broker
