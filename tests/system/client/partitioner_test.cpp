// The producer's partitioners pick what Kafka's pick: murmur2 keys against
// kafka-python's independent port (tests/data/murmur2/keys.txt), Kafka's
// published vectors, round robin's per-topic counter, the sticky partition
// of KIP-480 that moves once per new batch.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "system/client/partitioner.h"
#include "system/protocol/murmur2.h"

using namespace samsa;
using namespace samsa::client;
using samsa::protocol::PartitionId;

namespace {

TopicLayout all_available(std::int32_t n) {
  TopicLayout t;
  t.partitions = n;
  for (std::int32_t p = 0; p < n; ++p) t.available.push_back(PartitionId(p));
  return t;
}

Bytes from_hex(const std::string& h) {
  Bytes out;
  if (h == "-") return out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

}  // namespace

TEST_CASE("keyed records land where kafka-python's DefaultPartitioner puts them, lengths 0..64",
          "[client][partitioner][golden]") {
  std::ifstream in(std::filesystem::path(SAMSA_TEST_DATA_DIR) / "murmur2" / "keys.txt");
  REQUIRE(in.good());
  sim::Random random(1);
  DefaultPartitioner partitioner(random);
  const std::int32_t counts[] = {1, 3, 7, 12, 100};
  std::set<std::size_t> lengths;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string key_hex;
    std::int32_t hash = 0;
    fields >> key_hex >> hash;
    const Bytes key = from_hex(key_hex);
    lengths.insert(key.size());
    INFO("key " << key_hex);
    CHECK(protocol::murmur2(key) == hash);
    for (std::int32_t n : counts) {
      std::int32_t expected = -1;
      fields >> expected;
      CHECK(partitioner.partition("t", ByteView(key), all_available(n)).value() == expected);
    }
  }
  CHECK(lengths.size() == 65);
}

TEST_CASE("keyed records follow Kafka's published murmur2 vectors (UtilsTest)", "[client][partitioner]") {
  sim::Random random(1);
  DefaultPartitioner partitioner(random);
  // Utils.murmur2("21") = -973932308; toPositive keeps the low 31 bits.
  CHECK(partitioner.partition("t", as_bytes("21"), all_available(7)).value() == (-973932308 & 0x7fffffff) % 7);
  CHECK(partitioner.partition("t", as_bytes("foobar"), all_available(10)).value() == (-790332482 & 0x7fffffff) % 10);
  CHECK(partitioner.partition("t", as_bytes("abc"), all_available(7)).value() == 479470107 % 7);
  // Keys hash over all partitions, available or not (DefaultPartitioner).
  TopicLayout none = all_available(7);
  none.available = {};
  CHECK(partitioner.partition("t", as_bytes("abc"), none).value() == 479470107 % 7);
}

TEST_CASE("an explicit partition is used as is", "[client][partitioner]") {
  sim::Random random(1);
  DefaultPartitioner sticky(random);
  RoundRobinPartitioner rr;
  for (Partitioner* p : {static_cast<Partitioner*>(&sticky), static_cast<Partitioner*>(&rr)}) {
    CHECK(choose_partition(PartitionId(5), *p, "t", as_bytes("abc"), all_available(7)).value() == 5);
    CHECK(choose_partition(PartitionId(0), *p, "t", std::nullopt, all_available(7)).value() == 0);
  }
  rc::prop("explicit partitions win over keys and stickiness", [](std::uint16_t seed, const Bytes& key) {
    sim::Random r(seed);
    DefaultPartitioner p(r);
    const auto explicit_partition = *rc::gen::inRange<std::int32_t>(0, 50);
    std::optional<ByteView> k;
    if (*rc::gen::arbitrary<bool>()) k = ByteView(key);
    RC_ASSERT(choose_partition(PartitionId(explicit_partition), p, "t", k, all_available(50)).value() == explicit_partition);
  });
}

TEST_CASE("round robin: a per-topic counter over the available partitions", "[client][partitioner]") {
  RoundRobinPartitioner rr;
  std::vector<std::int32_t> a, b;
  for (int i = 0; i < 8; ++i) {
    a.push_back(rr.partition("a", as_bytes("key ignored"), all_available(4)).value());
    if (i % 2 == 0) b.push_back(rr.partition("b", std::nullopt, all_available(3)).value());
  }
  CHECK(a == std::vector<std::int32_t>{0, 1, 2, 3, 0, 1, 2, 3});
  CHECK(b == std::vector<std::int32_t>{0, 1, 2, 0});  // topic b's own counter
  // Only partitions with a leader, in metadata order; none: over all.
  TopicLayout some{6, {PartitionId(4), PartitionId(1)}};
  CHECK(rr.partition("c", std::nullopt, some).value() == 4);
  CHECK(rr.partition("c", std::nullopt, some).value() == 1);
  CHECK(rr.partition("c", std::nullopt, some).value() == 4);
  TopicLayout none{5, {}};
  CHECK(rr.partition("c", std::nullopt, none).value() == 3);  // the counter went on to 3
  rc::prop("round robin covers the available partitions evenly", [](std::uint8_t n_raw, std::uint16_t sends) {
    const std::int32_t n = n_raw % 20 + 1;
    RoundRobinPartitioner p;
    std::map<std::int32_t, int> counts;
    for (int i = 0; i < sends; ++i) ++counts[p.partition("t", std::nullopt, all_available(n)).value()];
    int lo = sends, hi = 0;
    for (std::int32_t q = 0; q < n; ++q) {
      lo = std::min(lo, counts[q]);
      hi = std::max(hi, counts[q]);
    }
    RC_ASSERT(hi - lo <= 1);
    const auto used = std::count_if(counts.begin(), counts.end(), [](const auto& c) { return c.second > 0; });
    RC_ASSERT(used == std::min<int>(n, sends));
  });
}

TEST_CASE("sticky: keyless records stay on one partition until a new batch", "[client][partitioner]") {
  rc::prop("the partition changes exactly at each new batch, to another available one",
           [](std::uint64_t seed, std::uint8_t n_raw) {
             const std::int32_t n = n_raw % 10 + 2;
             sim::Random random(seed);
             DefaultPartitioner p(random);
             const TopicLayout layout = all_available(n);
             std::int32_t current = p.partition("t", std::nullopt, layout).value();
             RC_ASSERT(current >= 0);
             RC_ASSERT(current < n);
             const int batches = *rc::gen::inRange(1, 20);
             for (int b = 0; b < batches; ++b) {
               const int records = *rc::gen::inRange(1, 10);
               for (int r = 0; r < records; ++r) RC_ASSERT(p.partition("t", std::nullopt, layout).value() == current);
               p.on_new_batch("t", layout, PartitionId(current));
               // A second record racing for the same full batch changes nothing more.
               const std::int32_t next = p.partition("t", std::nullopt, layout).value();
               p.on_new_batch("t", layout, PartitionId(current));
               RC_ASSERT(p.partition("t", std::nullopt, layout).value() == next);
               RC_ASSERT(next != current);
               current = next;
             }
           });
  sim::Random random(7);
  DefaultPartitioner p(random);
  TopicLayout one{5, {PartitionId(3)}};
  CHECK(p.partition("solo", std::nullopt, one).value() == 3);
  p.on_new_batch("solo", one, PartitionId(3));
  CHECK(p.partition("solo", std::nullopt, one).value() == 3);  // the only available one
  TopicLayout some{6, {PartitionId(1), PartitionId(4)}};
  const std::int32_t first = p.partition("two", std::nullopt, some).value();
  CHECK((first == 1 || first == 4));
  p.on_new_batch("two", some, PartitionId(first));
  CHECK(p.partition("two", std::nullopt, some).value() == (first == 1 ? 4 : 1));
  // Topics are sticky independently; a keyed record does not move them.
  const std::int32_t other = p.partition("other", std::nullopt, all_available(8)).value();
  (void)p.partition("other", as_bytes("k"), all_available(8)).value();
  CHECK(p.partition("other", std::nullopt, all_available(8)).value() == other);
}

TEST_CASE("sticky: the same random stream gives the same partitions", "[client][partitioner]") {
  auto run = [](std::uint64_t seed) {
    sim::Random random(seed);
    DefaultPartitioner p(random);
    std::vector<std::int32_t> out;
    for (int i = 0; i < 50; ++i) {
      out.push_back(p.partition("t", std::nullopt, all_available(12)).value());
      p.on_new_batch("t", all_available(12), PartitionId(out.back()));
    }
    return out;
  };
  CHECK(run(11) == run(11));
  CHECK(run(11) != run(12));
  // And over many batches every partition gets picked.
  const auto picks = run(5);
  CHECK(std::set<std::int32_t>(picks.begin(), picks.end()).size() == 12);
}
