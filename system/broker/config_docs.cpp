// DescribeConfigs v3+ documentation strings (KIP-569, include_documentation):
// one per key samsa models, as Kafka answers with the ConfigDef doc of
// KafkaConfig (broker keys) or LogConfig (topic keys). The texts say what the
// key does in samsa, in Kafka's sense; they are samsa's own words.
#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

#include "system/broker/config.h"

namespace samsa::broker {
namespace {

using Doc = std::pair<std::string_view, std::string_view>;

// Sorted by key (the lookup is a binary search; the test finds every key).
constexpr Doc k_broker_docs[] = {
    {"advertised.listeners", "Listeners published to clients and other brokers, when they differ from listeners."},
    {"auto.create.topics.enable", "Create a topic on the server when a client asks for the metadata of a topic that does not exist."},
    {"auto.leader.rebalance.enable", "Periodically move leadership back to each partition's preferred replica when the imbalance exceeds leader.imbalance.per.broker.percentage."},
    {"broker.id", "The id of this broker; unique in the cluster."},
    {"broker.rack", "The rack of this broker, used by rack-aware replica assignment."},
    {"compression.type", "The final compression of a topic's data: a codec, 'uncompressed', or 'producer' to keep what the producer used."},
    {"controlled.shutdown.enable", "Move leadership off this broker through the controller before it shuts down."},
    {"controlled.shutdown.max.retries", "How many times a controlled shutdown is tried before the broker shuts down anyway."},
    {"controlled.shutdown.retry.backoff.ms", "The wait between controlled shutdown attempts."},
    {"controller.socket.timeout.ms", "The timeout of the controller's requests to brokers."},
    {"default.replication.factor", "The replication factor of automatically created topics."},
    {"delete.topic.enable", "Whether topics can be deleted; when false, a deletion request has no effect."},
    {"group.initial.rebalance.delay.ms", "How long the group coordinator waits for more members to join a new empty group before its first rebalance."},
    {"group.max.session.timeout.ms", "The largest session timeout a group member may ask for."},
    {"group.max.size", "The most members a consumer group may have."},
    {"group.min.session.timeout.ms", "The smallest session timeout a group member may ask for."},
    {"host.name", "Deprecated: the host name the broker binds to when listeners is not set."},
    {"leader.imbalance.check.interval.seconds", "How often the controller checks whether partition leadership needs rebalancing."},
    {"leader.imbalance.per.broker.percentage", "The share of a broker's partitions led by others above which the controller rebalances leadership."},
    {"listeners", "The URIs the broker listens on, comma separated."},
    {"log.cleanup.policy", "The default retention policy for old segments: delete or compact."},
    {"log.dir", "The directory where log data is kept (used when log.dirs is not set)."},
    {"log.dirs", "The directories where log data is kept; log.dir is used when this is not set."},
    {"log.flush.interval.messages", "How many messages a log partition accumulates before they are forced to disk."},
    {"log.flush.interval.ms", "The longest time a message stays in memory before it is forced to disk; log.flush.scheduler.interval.ms when not set."},
    {"log.flush.offset.checkpoint.interval.ms", "How often the record of the last flush, which recovery starts from, is updated."},
    {"log.flush.scheduler.interval.ms", "How often the log flusher checks whether a log needs flushing."},
    {"log.index.interval.bytes", "The bytes between two entries of the offset index."},
    {"log.index.size.max.bytes", "The largest size of an offset index file."},
    {"log.message.timestamp.type", "Whether a message's timestamp is the producer's CreateTime or the broker's LogAppendTime."},
    {"log.retention.bytes", "The largest size of a log before old segments are deleted."},
    {"log.retention.check.interval.ms", "How often the log cleaner checks whether a segment may be deleted."},
    {"log.retention.hours", "How long a log segment is kept before deletion, in hours (after log.retention.ms and log.retention.minutes)."},
    {"log.retention.minutes", "How long a log segment is kept before deletion, in minutes (after log.retention.ms)."},
    {"log.retention.ms", "How long a log segment is kept before deletion, in milliseconds; -1 keeps it forever."},
    {"log.roll.hours", "The longest time before a new log segment is rolled, in hours (after log.roll.ms)."},
    {"log.roll.ms", "The longest time before a new log segment is rolled, in milliseconds."},
    {"log.segment.bytes", "The largest size of one log segment file."},
    {"max.id.map.snapshots", "How many producer state snapshots are kept per partition."},
    {"max.incremental.fetch.session.cache.slots", "The incremental fetch sessions (KIP-227) a broker keeps; 0 serves every fetch in full."},
    {"message.max.bytes", "The largest record batch the broker accepts (after compression)."},
    {"min.insync.replicas", "With acks=all, the fewest in-sync replicas that must acknowledge a write; fewer gives NOT_ENOUGH_REPLICAS."},
    {"num.io.threads", "The threads that process requests (samsa runs requests as fibers; kept for compatibility)."},
    {"num.network.threads", "The threads that serve the network (samsa runs connections as fibers; kept for compatibility)."},
    {"num.partitions", "The number of partitions of automatically created topics."},
    {"num.recovery.threads.per.data.dir", "The threads per data directory that recover logs at startup and flush them at shutdown."},
    {"num.replica.fetchers", "The fetcher threads per source broker that replicate partitions."},
    {"offset.metadata.max.bytes", "The largest metadata string of an offset commit."},
    {"offsets.commit.required.acks", "The acks an offset commit needs before it is answered."},
    {"offsets.commit.timeout.ms", "How long an offset commit waits for the offsets topic's replicas before it times out."},
    {"offsets.load.buffer.size", "The batch size for reading the offsets topic when a coordinator loads a partition."},
    {"offsets.retention.check.interval.ms", "How often stale committed offsets are looked for."},
    {"offsets.retention.minutes", "How long the committed offsets of a group without members are kept."},
    {"offsets.topic.compression.codec", "The compression codec of the offsets topic."},
    {"offsets.topic.num.partitions", "The number of partitions of the offsets topic."},
    {"offsets.topic.replication.factor", "The replication factor of the offsets topic; its creation fails until that many brokers are up."},
    {"offsets.topic.segment.bytes", "The segment size of the offsets topic."},
    {"port", "Deprecated: the port to listen on when listeners is not set."},
    {"producer.id.expiration.check.interval.ms", "How often expired producer ids are removed."},
    {"producer.id.expiration.ms", "How long a partition keeps a producer's state after its last write."},
    {"replica.fetch.backoff.ms", "The wait after a replica fetch error."},
    {"replica.fetch.max.bytes", "The bytes a replica fetch asks for per partition (at least one batch is returned)."},
    {"replica.fetch.min.bytes", "The fewest bytes a replica fetch waits for, up to replica.fetch.wait.max.ms."},
    {"replica.fetch.response.max.bytes", "The most bytes of a whole replica fetch response (at least one batch is returned)."},
    {"replica.fetch.wait.max.ms", "The longest a follower's fetch waits at the leader; below replica.lag.time.max.ms."},
    {"replica.high.watermark.checkpoint.interval.ms", "How often the high watermark is saved to disk."},
    {"replica.lag.time.max.ms", "A follower that has not caught up to the leader's log end for this long is removed from the ISR."},
    {"replica.socket.timeout.ms", "The socket timeout of replica fetch requests."},
    {"request.timeout.ms", "How long a client of this broker waits for a response before it retries or fails."},
    {"samsa.legacy.dedupe.last.batch.only", "samsa: remember only the last batch per producer, not five (the KAFKA-5494 class): retries with several requests in flight may be stored twice."},
    {"samsa.legacy.isr.expand.below.epoch.start", "samsa: let a follower join the ISR before it reached the start of the leader's epoch (KAFKA-7128)."},
    {"samsa.legacy.no.broker.epoch", "samsa: obey control requests meant for an earlier incarnation of this broker (before KIP-380, KAFKA-7235)."},
    {"samsa.legacy.no.controller.epoch.check", "samsa: obey control requests from a controller with a stale epoch (a zombie controller), and LeaderAndIsr whatever its leader epoch (Kafka 0.8.0-beta, KAFKA-532)."},
    {"samsa.legacy.no.epoch.bump.per.transaction", "samsa: keep the producer epoch across transactions (before KIP-890 part 2): a delayed produce from one transaction can land in the next (KAFKA-14402, KAFKA-17754)."},
    {"samsa.legacy.no.fetch.leader.epoch", "samsa: fetches neither carry nor check the current leader epoch (before KIP-320, KAFKA-6880)."},
    {"samsa.legacy.no.implicit.add.partitions", "samsa: accept transactional produce without checking the partition is in the transaction (before KIP-890 part 1)."},
    {"samsa.legacy.offsets.for.leader.epoch.v0", "samsa: truncate by OffsetsForLeaderEpoch without KIP-279's fix (KAFKA-6361)."},
    {"samsa.legacy.truncate.to.high.watermark", "samsa: a new follower truncates to its own high watermark (before KIP-101, KAFKA-1211)."},
    {"socket.receive.buffer.bytes", "The socket receive buffer size; -1 for the OS default."},
    {"socket.request.max.bytes", "The largest request the broker reads."},
    {"socket.send.buffer.bytes", "The socket send buffer size; -1 for the OS default."},
    {"transaction.abort.timed.out.transaction.cleanup.interval.ms", "How often transactions that timed out are rolled back."},
    {"transaction.max.timeout.ms", "The largest transaction timeout a producer may ask for."},
    {"transaction.remove.expired.transaction.cleanup.interval.ms", "How often transactional ids expired by transactional.id.expiration.ms are removed."},
    {"transaction.state.log.min.isr", "min.insync.replicas of the transaction state topic."},
    {"transaction.state.log.num.partitions", "The number of partitions of the transaction state topic."},
    {"transaction.state.log.replication.factor", "The replication factor of the transaction state topic; its creation fails until that many brokers are up."},
    {"transaction.state.log.segment.bytes", "The segment size of the transaction state topic."},
    {"transactional.id.expiration.ms", "How long the coordinator keeps a transactional id without updates before it expires it."},
    {"unclean.leader.election.enable", "Elect a replica outside the ISR as leader when no ISR member is alive, at the risk of losing data."},
    {"zookeeper.connect", "The coordinator (ZooKeeper) address, host:port[,host:port...][/chroot]."},
    {"zookeeper.connection.timeout.ms", "How long the broker waits to connect to the coordinator; zookeeper.session.timeout.ms when not set."},
    {"zookeeper.session.timeout.ms", "The coordinator session timeout: a broker silent this long loses its registration."},
};

constexpr Doc k_topic_docs[] = {
    {"cleanup.policy", "The retention policy for old segments of this topic: delete or compact."},
    {"compression.type", "The final compression of this topic's data: a codec, 'uncompressed', or 'producer' to keep what the producer used."},
    {"flush.messages", "How many messages this topic's partitions accumulate before they are forced to disk."},
    {"flush.ms", "The longest time a message of this topic stays in memory before it is forced to disk."},
    {"index.interval.bytes", "The bytes between two entries of this topic's offset index."},
    {"max.message.bytes", "The largest record batch this topic accepts (after compression)."},
    {"message.timestamp.type", "Whether a message's timestamp is the producer's CreateTime or the broker's LogAppendTime."},
    {"min.insync.replicas", "With acks=all, the fewest in-sync replicas that must acknowledge a write to this topic."},
    {"retention.bytes", "The largest size of a partition's log before old segments are deleted; -1 for no limit."},
    {"retention.ms", "How long a segment is kept before deletion; -1 keeps it forever."},
    {"segment.bytes", "The largest size of one log segment file of this topic."},
    {"segment.index.bytes", "The largest size of an offset index file of this topic."},
    {"segment.ms", "The longest time before a new log segment is rolled, even if it is not full."},
    {"unclean.leader.election.enable", "Elect a replica outside the ISR as this topic's leader when no ISR member is alive, at the risk of losing data."},
};

template <std::size_t N>
std::optional<std::string_view> find_doc(const Doc (&docs)[N], std::string_view key) {
  auto it = std::lower_bound(std::begin(docs), std::end(docs), key,
                             [](const Doc& d, std::string_view k) { return d.first < k; });
  if (it == std::end(docs) || it->first != key) return std::nullopt;
  return it->second;
}

}  // namespace

std::optional<std::string_view> config_documentation(ConfigDocKind kind, std::string_view key) {
  return kind == ConfigDocKind::topic ? find_doc(k_topic_docs, key) : find_doc(k_broker_docs, key);
}

}  // namespace samsa::broker
