#pragma once
// Which partition a record goes to: Kafka's producer-side partitioners.
//
// - A record with an explicit partition goes there as is (KafkaProducer
//   .partition; the producer then refuses a partition >= the topic's count,
//   as KafkaProducer.waitOnMetadata does).
// - DefaultPartitioner, as in Kafka 2.4 .. 3.2 (KIP-480; the behaviour of
//   clients/.../producer/internals/DefaultPartitioner.java and
//   StickyPartitionCache.java at tag 3.2.0): with a key,
//   (murmur2(key) & 0x7fffffff) % partitions over all partitions; without
//   one, a per-topic sticky partition chosen at random among the available
//   partitions (those with a leader), changed only when the producer starts
//   a new batch (on_new_batch). Kafka 3.3+ (KIP-794, BuiltInPartitioner)
//   instead switches after batch.size bytes and weighs partitions by queue
//   length; that is not modelled here.
// - RoundRobinPartitioner (org.apache.kafka.clients.producer
//   .RoundRobinPartitioner, unchanged 2.4 .. 3.8): ignores keys; a per-topic
//   counter starting at 0, counter % available partitions (in metadata
//   order), or counter % all partitions when none is available. Its
//   on_new_batch does nothing, so a producer that calls partition() again
//   after on_new_batch (Kafka's KafkaProducer.doSend does) skips partitions:
//   KAFKA-9965 / KAFKA-16283, fixed in 3.9 / 4.0 (KAFKA-17632). That is the
//   producer's business; this class does what the 3.x class does.
//
// Randomness comes only from the sim::Random stream given at construction.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/random.h"
#include "system/protocol/ids.h"

namespace samsa::client {

using protocol::PartitionId;

// What a partitioner sees of a topic in the producer's metadata (Kafka's
// Cluster.partitionsForTopic / availablePartitionsForTopic).
struct TopicLayout {
  std::int32_t partitions = 0;          // partitions 0..n-1
  std::vector<PartitionId> available;  // those with a leader, in metadata order
};

class Partitioner {
 public:
  virtual ~Partitioner() = default;
  // The partition for a record without an explicit one. `key` is nullopt for
  // a null key (an empty key is a key). `layout.partitions` must be > 0.
  virtual PartitionId partition(std::string_view topic, std::optional<ByteView> key,
                                const TopicLayout& layout) = 0;
  // Told when the producer is about to start a new batch for a record it
  // sent to `prev_partition` (Partitioner.onNewBatch).
  virtual void on_new_batch(std::string_view topic, const TopicLayout& layout,
                            PartitionId prev_partition) {
    (void)topic;
    (void)layout;
    (void)prev_partition;
  }
};

// The producer's choice: an explicit partition as is, else the partitioner's.
PartitionId choose_partition(std::optional<PartitionId> explicit_partition, Partitioner& p,
                              std::string_view topic, std::optional<ByteView> key,
                              const TopicLayout& layout);

// StickyPartitionCache: one sticky partition per topic.
class StickyPartitionCache {
 public:
  explicit StickyPartitionCache(sim::Random& random) : random_(random) {}
  PartitionId partition(std::string_view topic, const TopicLayout& layout);
  // Moves the topic's sticky partition off `prev_partition`, if it is still
  // there (a second caller for the same full batch changes nothing).
  PartitionId next_partition(std::string_view topic, const TopicLayout& layout,
                             std::optional<PartitionId> prev_partition);

 private:
  // Utils.toPositive(ThreadLocalRandom.nextInt()).
  std::int32_t random_positive();
  sim::Random& random_;
  std::map<std::string, PartitionId, std::less<>> sticky_;
};

class DefaultPartitioner final : public Partitioner {
 public:
  explicit DefaultPartitioner(sim::Random& random) : sticky_(random) {}
  PartitionId partition(std::string_view topic, std::optional<ByteView> key,
                        const TopicLayout& layout) override;
  void on_new_batch(std::string_view topic, const TopicLayout& layout,
                    PartitionId prev_partition) override;

 private:
  StickyPartitionCache sticky_;
};

class RoundRobinPartitioner final : public Partitioner {
 public:
  PartitionId partition(std::string_view topic, std::optional<ByteView> key,
                        const TopicLayout& layout) override;

 private:
  std::map<std::string, std::int32_t, std::less<>> counters_;  // AtomicInteger per topic
};

inline constexpr std::string_view k_default_partitioner =
    "org.apache.kafka.clients.producer.internals.DefaultPartitioner";
inline constexpr std::string_view k_round_robin_partitioner =
    "org.apache.kafka.clients.producer.RoundRobinPartitioner";

}  // namespace samsa::client
