#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/log/checkpoint.h"

using namespace samsa::log;

TEST_CASE("offset checkpoints use Kafka's text format", "[log]") {
  const OffsetMap m{{{"orders", 0}, 170410}, {{"orders", 1}, 239430}};
  const std::string text = encode_offset_checkpoint(m);
  CHECK(text == "0\n2\norders 0 170410\norders 1 239430\n");
  CHECK(decode_offset_checkpoint(text).value() == m);
  CHECK(decode_offset_checkpoint("1\n0\n").error().line == 1);
  CHECK(decode_offset_checkpoint("0\n2\norders 0 5\n").error().line == 2);
  CHECK(decode_offset_checkpoint("0\n1\norders x 5\n").error().line == 3);
  CHECK(decode_offset_checkpoint("0\n1\norders 0 5").error().line == 0);  // torn: no final newline
}

TEST_CASE("checkpoint files round-trip", "[log]") {
  rc::prop("decode(encode(offsets)) == offsets", [] {
    const auto raw = *rc::gen::container<std::map<std::pair<std::string, std::int32_t>, std::int64_t>>(
        rc::gen::pair(rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::elementOf(
                                            std::string("abcxyz-_.0123")))),
                      rc::gen::inRange<std::int32_t>(0, 1000)),
        rc::gen::inRange<std::int64_t>(0, 1LL << 62));
    const OffsetMap m(raw.begin(), raw.end());
    RC_ASSERT(decode_offset_checkpoint(encode_offset_checkpoint(m)).value() == m);
  });
  rc::prop("decode(encode(producer state)) == producer state", [] {
    ProducerSnapshot s;
    const auto n = *rc::gen::inRange(0, 5);
    for (int i = 0; i < n; ++i) {
      ProducerEntry e;
      e.epoch = *rc::gen::arbitrary<std::int16_t>();
      e.last_timestamp_ms = *rc::gen::arbitrary<std::int64_t>();
      const auto k = *rc::gen::inRange(0, 5);
      for (int j = 0; j < k; ++j)
        e.recent.push_back({*rc::gen::arbitrary<std::int32_t>(), *rc::gen::arbitrary<std::int32_t>(),
                            *rc::gen::arbitrary<std::int64_t>()});
      s[*rc::gen::arbitrary<std::int64_t>()] = e;
    }
    RC_ASSERT(decode_producer_snapshot(encode_producer_snapshot(s)).value() == s);
  });
  rc::prop("decoding arbitrary text never crashes", [](const std::string& text) {
    (void)decode_offset_checkpoint(text);
    (void)decode_producer_snapshot(text);
    (void)LeaderEpochCache::decode(text);
  });
}

TEST_CASE("leader epoch cache answers OffsetsForLeaderEpoch as KIP-101", "[log]") {
  LeaderEpochCache c;
  CHECK(c.assign(1, 0));
  CHECK_FALSE(c.assign(1, 5));  // same epoch: the first start stays
  CHECK(c.assign(3, 10));
  CHECK(c.assign(4, 25));
  CHECK_FALSE(c.assign(2, 30));  // older epoch: ignored
  CHECK(c.encode() == "0\n3\n1 0\n3 10\n4 25\n");
  CHECK(LeaderEpochCache::decode(c.encode()).value().entries() == c.entries());
  // Epoch 2 was never led: the answer is the largest epoch below it and the
  // start of the next one.
  CHECK(c.end_offset_for(2, 40) == EpochEntry{1, 10});
  CHECK(c.end_offset_for(3, 40) == EpochEntry{3, 25});
  CHECK(c.end_offset_for(4, 40) == EpochEntry{4, 40});
  CHECK(c.end_offset_for(9, 40) == EpochEntry{4, 40});
  CHECK(c.end_offset_for(0, 40) == std::nullopt);
  CHECK(c.truncate_from_end(25));
  CHECK(c.latest() == EpochEntry{3, 10});
  CHECK(c.truncate_from_start(12));
  CHECK(c.entries() == std::vector<EpochEntry>{{3, 12}});
  CHECK(c.assign(5, 12));  // a newer epoch at the same start replaces the empty one
  CHECK(c.entries() == std::vector<EpochEntry>{{5, 12}});
  CHECK(LeaderEpochCache::decode("0\n2\n3 10\n2 20\n").error().line == 4);
}
