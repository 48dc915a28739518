#pragma once
// Strong id types: Kafka's ids are distinct types, not bare ints, so that a
// leader epoch cannot be passed where an offset is expected (Redpanda's
// model::node_id / model::offset follow the same idea). Each wraps the
// integer of Kafka's wire width, is constructed only explicitly, compares
// and hashes, and prints as its number with fmt.
//
// Sentinels carry Kafka's names for them where Kafka has one:
//   BrokerId::none()        -1  no leader (MetadataResponse LeaderId, LeaderAndIsr.NO_LEADER)
//   LeaderEpoch::none()     -1  RecordBatch.NO_PARTITION_LEADER_EPOCH
//   ProducerId::none()      -1  RecordBatch.NO_PRODUCER_ID
//   ProducerEpoch::none()   -1  RecordBatch.NO_PRODUCER_EPOCH
//   Sequence::none()        -1  RecordBatch.NO_SEQUENCE
//   Offset::none()          -1  ListOffsetsResponse.UNKNOWN_OFFSET, FetchResponse.INVALID_HIGH_WATERMARK
//   GenerationId::none()    -1  JoinGroupRequest.UNKNOWN_GENERATION_ID
//   BrokerEpoch::none()     -1  AbstractControlRequest.UNKNOWN_BROKER_EPOCH
//   ControllerEpoch::none() -1  the controller epoch before any controller (KafkaController)
// A default-constructed id holds 0, like the plain integer it replaces; the
// generated message structs initialise every id field to its spec default.
#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

#include <fmt/format.h>

namespace samsa::protocol {

template <class Tag, class Rep>
class StrongId {
 public:
  using rep = Rep;

  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value_(v) {}

  constexpr Rep value() const { return value_; }

  static constexpr StrongId none() requires requires { Tag::k_none; } { return StrongId(Tag::k_none); }
  constexpr bool is_none() const requires requires { Tag::k_none; } { return value_ == Tag::k_none; }

  // The next value: +1, or as Tag::next says (Sequence wraps).
  constexpr StrongId next(Rep by = 1) const {
    if constexpr (requires { Tag::next(value_, by); }) {
      return StrongId(Tag::next(value_, by));
    } else {
      return StrongId(static_cast<Rep>(value_ + by));
    }
  }

  friend constexpr auto operator<=>(const StrongId&, const StrongId&) = default;
  friend constexpr bool operator==(const StrongId&, const StrongId&) = default;

 private:
  Rep value_{};
};

namespace id_tags {
struct Broker { static constexpr std::int32_t k_none = -1; };
struct Partition {};
struct Offset { static constexpr std::int64_t k_none = -1; };
struct LeaderEpoch { static constexpr std::int32_t k_none = -1; };
struct ProducerId { static constexpr std::int64_t k_none = -1; };
struct ProducerEpoch { static constexpr std::int16_t k_none = -1; };
struct Sequence {
  static constexpr std::int32_t k_none = -1;
  // Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from
  // Integer.MAX_VALUE to 0.
  static constexpr std::int32_t next(std::int32_t sequence, std::int32_t increment) {
    constexpr std::int32_t max = std::numeric_limits<std::int32_t>::max();
    if (sequence > max - increment) return increment - (max - sequence) - 1;
    return sequence + increment;
  }
};
struct GenerationId { static constexpr std::int32_t k_none = -1; };
struct ControllerEpoch { static constexpr std::int32_t k_none = -1; };
struct BrokerEpoch { static constexpr std::int64_t k_none = -1; };
}  // namespace id_tags

using BrokerId = StrongId<id_tags::Broker, std::int32_t>;
using PartitionId = StrongId<id_tags::Partition, std::int32_t>;
using Offset = StrongId<id_tags::Offset, std::int64_t>;
using LeaderEpoch = StrongId<id_tags::LeaderEpoch, std::int32_t>;
using ProducerId = StrongId<id_tags::ProducerId, std::int64_t>;
using ProducerEpoch = StrongId<id_tags::ProducerEpoch, std::int16_t>;
using Sequence = StrongId<id_tags::Sequence, std::int32_t>;
using GenerationId = StrongId<id_tags::GenerationId, std::int32_t>;
using ControllerEpoch = StrongId<id_tags::ControllerEpoch, std::int32_t>;
using BrokerEpoch = StrongId<id_tags::BrokerEpoch, std::int64_t>;

// Offsets are positions: a distance can be added, and two offsets differ by
// a count of records.
constexpr Offset operator+(Offset o, std::int64_t n) { return Offset(o.value() + n); }
constexpr Offset operator-(Offset o, std::int64_t n) { return Offset(o.value() - n); }
constexpr std::int64_t operator-(Offset a, Offset b) { return a.value() - b.value(); }

// Kafka's DefaultRecordBatch.decrementSequence.
constexpr Sequence decrement_sequence(Sequence s, std::int32_t decrement) {
  if (s.value() < decrement) {
    return Sequence(std::numeric_limits<std::int32_t>::max() - (decrement - s.value()) + 1);
  }
  return Sequence(s.value() - decrement);
}

}  // namespace samsa::protocol

template <class Tag, class Rep>
struct std::hash<samsa::protocol::StrongId<Tag, Rep>> {
  std::size_t operator()(const samsa::protocol::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};

template <class Tag, class Rep>
struct fmt::formatter<samsa::protocol::StrongId<Tag, Rep>> : fmt::formatter<Rep> {
  template <class Ctx>
  auto format(const samsa::protocol::StrongId<Tag, Rep>& id, Ctx& ctx) const {
    return fmt::formatter<Rep>::format(id.value(), ctx);
  }
};
