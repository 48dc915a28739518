#include "system/client/partitioner.h"

#include "sim/runtime/assert.h"
#include "system/protocol/murmur2.h"

namespace samsa::client {

namespace {

// Utils.toPositive: x & 0x7fffffff (not abs: Integer.MIN_VALUE maps to 0).
std::int32_t to_positive(std::int32_t x) { return x & 0x7fffffff; }

template <class V>
V& slot(std::map<std::string, V, std::less<>>& m, std::string_view topic, V initial) {
  auto it = m.find(topic);
  if (it == m.end()) it = m.emplace(std::string(topic), initial).first;
  return it->second;
}

}  // namespace

PartitionId choose_partition(std::optional<PartitionId> explicit_partition, Partitioner& p,
                              std::string_view topic, std::optional<ByteView> key,
                              const TopicLayout& layout) {
  if (explicit_partition) return *explicit_partition;
  return p.partition(topic, key, layout);
}

std::int32_t StickyPartitionCache::random_positive() {
  return to_positive(static_cast<std::int32_t>(static_cast<std::uint32_t>(random_.next() >> 32)));
}

PartitionId StickyPartitionCache::partition(std::string_view topic, const TopicLayout& layout) {
  auto it = sticky_.find(topic);
  if (it != sticky_.end()) return it->second;
  return next_partition(topic, layout, std::nullopt);
}

PartitionId StickyPartitionCache::next_partition(std::string_view topic, const TopicLayout& layout,
                                                 std::optional<PartitionId> prev_partition) {
  SAMSA_ASSERT(layout.partitions > 0, "a partitioner needs a topic with partitions");
  auto it = sticky_.find(topic);
  const bool has_old = it != sticky_.end();
  const PartitionId old = has_old ? it->second : PartitionId(-1);
  // Another record already moved the partition on for this batch.
  if (has_old && old != prev_partition) return old;
  PartitionId next{0};
  const auto& available = layout.available;
  if (available.empty()) {
    next = PartitionId(random_positive() % layout.partitions);
  } else if (available.size() == 1) {
    next = available.front();
  } else {
    // A different available partition than before (Kafka redraws until it is).
    do {
      next = available[static_cast<std::size_t>(random_positive()) % available.size()];
    } while (has_old && next == old);
  }
  slot(sticky_, topic, next) = next;
  return next;
}

PartitionId DefaultPartitioner::partition(std::string_view topic, std::optional<ByteView> key,
                                          const TopicLayout& layout) {
  SAMSA_ASSERT(layout.partitions > 0, "a partitioner needs a topic with partitions");
  if (!key) return sticky_.partition(topic, layout);
  return PartitionId(protocol::partition_for_key(*key, layout.partitions));
}

void DefaultPartitioner::on_new_batch(std::string_view topic, const TopicLayout& layout,
                                      PartitionId prev_partition) {
  sticky_.next_partition(topic, layout, prev_partition);
}

PartitionId RoundRobinPartitioner::partition(std::string_view topic, std::optional<ByteView> key,
                                             const TopicLayout& layout) {
  (void)key;  // Kafka's RoundRobinPartitioner ignores keys
  SAMSA_ASSERT(layout.partitions > 0, "a partitioner needs a topic with partitions");
  std::int32_t& counter = slot(counters_, topic, std::int32_t{0});
  const std::int32_t value = counter;
  // AtomicInteger.getAndIncrement wraps at Integer.MAX_VALUE; toPositive
  // then maps the negative values back, as in Java.
  counter = static_cast<std::int32_t>(static_cast<std::uint32_t>(counter) + 1u);
  if (!layout.available.empty())
    return layout.available[static_cast<std::size_t>(to_positive(value)) % layout.available.size()];
  return PartitionId(to_positive(value) % layout.partitions);
}

}  // namespace samsa::client
