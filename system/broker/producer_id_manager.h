#pragma once
// Producer ids for InitProducerId (Kafka 2.8's ZooKeeper ProducerIdManager):
// each broker takes blocks of 1000 ids by compare-and-set on
// /latest_producer_id_block, so two brokers never hand out the same id, and
// hands them out one by one.
#include <cstdint>
#include <optional>
#include <string_view>

#include "system/coord/client.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

struct ProducerIdBlock {
  protocol::BrokerId broker;
  std::int64_t start = 0;
  std::int64_t end = 0;  // inclusive
  friend bool operator==(const ProducerIdBlock&, const ProducerIdBlock&) = default;
};

inline constexpr std::int64_t k_producer_id_block_size = 1000;  // ProducerIdManager.PidBlockSize

// {"version":1,"broker":1,"block_start":"0","block_end":"999"}; nullopt for
// empty or malformed data.
std::optional<ProducerIdBlock> parse_producer_id_block(std::string_view json);

class ProducerIdManager {
 public:
  explicit ProducerIdManager(protocol::BrokerId broker) : broker_(broker) {}
  // The next id; takes a new block from the coordinator when this one is
  // used up. An error (the coordinator is unreachable, every id is used)
  // leaves the manager as it was.
  Result<protocol::ProducerId, coord::Code> generate(coord::Client& c);
  const std::optional<ProducerIdBlock>& block() const { return block_; }

 private:
  Result<ProducerIdBlock, coord::Code> claim_block(coord::Client& c);

  protocol::BrokerId broker_;
  std::optional<ProducerIdBlock> block_;
  std::int64_t next_ = 0;
};

}  // namespace samsa::broker
