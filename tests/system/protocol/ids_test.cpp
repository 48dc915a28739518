#include "system/protocol/ids.h"

#include <set>
#include <type_traits>
#include <unordered_set>

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

using namespace samsa::protocol;

// Distinct types, and none of them converts from or to a bare integer
// implicitly.
static_assert(!std::is_convertible_v<std::int32_t, BrokerId>);
static_assert(!std::is_convertible_v<BrokerId, std::int32_t>);
static_assert(!std::is_convertible_v<BrokerId, PartitionId>);
static_assert(!std::is_convertible_v<LeaderEpoch, GenerationId>);
static_assert(!std::is_convertible_v<Offset, ProducerId>);
static_assert(!std::is_constructible_v<BrokerId, PartitionId>);
static_assert(!std::is_assignable_v<Offset&, std::int64_t>);
static_assert(std::is_constructible_v<Offset, std::int64_t>);
// Kafka's wire widths.
static_assert(std::is_same_v<BrokerId::rep, std::int32_t>);
static_assert(std::is_same_v<PartitionId::rep, std::int32_t>);
static_assert(std::is_same_v<LeaderEpoch::rep, std::int32_t>);
static_assert(std::is_same_v<Sequence::rep, std::int32_t>);
static_assert(std::is_same_v<GenerationId::rep, std::int32_t>);
static_assert(std::is_same_v<ControllerEpoch::rep, std::int32_t>);
static_assert(std::is_same_v<Offset::rep, std::int64_t>);
static_assert(std::is_same_v<ProducerId::rep, std::int64_t>);
static_assert(std::is_same_v<BrokerEpoch::rep, std::int64_t>);
static_assert(std::is_same_v<ProducerEpoch::rep, std::int16_t>);
static_assert(sizeof(Offset) == 8 && sizeof(BrokerId) == 4 && sizeof(ProducerEpoch) == 2);

TEST_CASE("strong ids: Kafka's sentinels are -1", "[protocol]") {
  CHECK(BrokerId::none().value() == -1);
  CHECK(LeaderEpoch::none().value() == -1);
  CHECK(ProducerId::none().value() == -1);
  CHECK(ProducerEpoch::none().value() == -1);
  CHECK(Sequence::none().value() == -1);
  CHECK(Offset::none().value() == -1);
  CHECK(GenerationId::none().value() == -1);
  CHECK(BrokerEpoch::none().value() == -1);
  CHECK(BrokerId::none().is_none());
  CHECK_FALSE(BrokerId(0).is_none());
  CHECK(BrokerId{}.value() == 0);
}

TEST_CASE("strong ids: order, equality, hash and fmt follow the number", "[protocol]") {
  rc::prop("ids compare as their values", [](std::int64_t a, std::int64_t b) {
    RC_ASSERT((Offset(a) < Offset(b)) == (a < b));
    RC_ASSERT((Offset(a) == Offset(b)) == (a == b));
    RC_ASSERT((Offset(a) <=> Offset(b)) == (a <=> b));
    RC_ASSERT(std::hash<Offset>{}(Offset(a)) == std::hash<std::int64_t>{}(a));
    RC_ASSERT(fmt::format("{}", Offset(a)) == std::to_string(a));
  });
  std::set<BrokerId> ordered{BrokerId(3), BrokerId(1), BrokerId(2)};
  CHECK(ordered.begin()->value() == 1);
  std::unordered_set<PartitionId> hashed{PartitionId(7), PartitionId(7)};
  CHECK(hashed.size() == 1);
  CHECK(fmt::format("broker {} epoch {:>4}", BrokerId(2), LeaderEpoch(-1)) == "broker 2 epoch   -1");
}

TEST_CASE("strong ids: offsets add and subtract as positions", "[protocol]") {
  CHECK((Offset(10) + 5).value() == 15);
  CHECK((Offset(10) - 5).value() == 5);
  CHECK(Offset(10) - Offset(4) == 6);
  CHECK(Offset(10).next() == Offset(11));
  CHECK(LeaderEpoch(3).next() == LeaderEpoch(4));
  CHECK(ProducerEpoch(5).next().value() == 6);
}

TEST_CASE("strong ids: sequences wrap like Kafka's DefaultRecordBatch.incrementSequence", "[protocol]") {
  constexpr std::int32_t max = std::numeric_limits<std::int32_t>::max();
  CHECK(Sequence(0).next() == Sequence(1));
  CHECK(Sequence(max).next() == Sequence(0));
  CHECK(Sequence(max - 1).next(5) == Sequence(3));
  CHECK(Sequence(max - 4).next(5) == Sequence(0));
  CHECK(Sequence(max - 5).next(5) == Sequence(max));
  CHECK(decrement_sequence(Sequence(0), 1) == Sequence(max));
  CHECK(decrement_sequence(Sequence(3), 5) == Sequence(max - 1));
  rc::prop("decrement undoes increment", [](std::uint32_t raw, std::uint16_t by) {
    const Sequence s(static_cast<std::int32_t>(raw & 0x7fffffff));
    const std::int32_t n = by;
    RC_ASSERT(decrement_sequence(s.next(n), n) == s);
    RC_ASSERT(s.next(n).value() >= 0);
  });
}
