#include "system/broker/producer_id_manager.h"

#include <limits>

#include "system/coord/kafka_layout.h"
#include "system/coord/recipes.h"

namespace samsa::broker {

namespace kafka = coord::kafka;
using coord::Code;

std::optional<ProducerIdBlock> parse_producer_id_block(std::string_view json) {
  const auto broker = kafka::json_int_field(json, "broker");
  const auto start = kafka::json_int_field(json, "block_start");
  const auto end = kafka::json_int_field(json, "block_end");
  if (!broker || !start || !end || *start > *end) return std::nullopt;
  return ProducerIdBlock{protocol::BrokerId(static_cast<std::int32_t>(*broker)), *start, *end};
}

// getNewProducerIdBlock: read the latest block and its version, write the
// next one conditionally, again until the write wins.
Result<ProducerIdBlock, Code> ProducerIdManager::claim_block(coord::Client& c) {
  const std::string path(kafka::k_latest_producer_id_block);
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto d = c.get_data(path);
    if (!d && d.error() != Code::no_node) return Err{d.error()};
    ProducerIdBlock next{broker_, 0, k_producer_id_block_size - 1};
    if (d) {
      if (auto cur = parse_producer_id_block(as_chars(d->data))) {
        if (cur->end > std::numeric_limits<std::int64_t>::max() - k_producer_id_block_size)
          return Err{Code::bad_arguments};  // "Have exhausted all producerIds."
        next = {broker_, cur->end + 1, cur->end + k_producer_id_block_size};
      }
    }
    const std::string json = kafka::producer_id_block_json(broker_.value(), next.start, next.end);
    const Bytes data(json.begin(), json.end());
    Result<std::int32_t, Code> w = Err{Code::no_node};
    if (d) {
      w = coord::conditional_update(c, path, data, d->stat.version);
    } else {
      auto created = c.create(path, data);
      w = created ? Result<std::int32_t, Code>(0) : Result<std::int32_t, Code>(Err{created.error()});
      if (!created && created.error() == Code::node_exists) continue;
    }
    if (w) return next;
    if (w.error() != Code::bad_version) return Err{w.error()};
  }
  return Err{Code::operation_timeout};
}

Result<protocol::ProducerId, Code> ProducerIdManager::generate(coord::Client& c) {
  if (!block_ || next_ > block_->end) {
    auto b = claim_block(c);
    if (!b) return Err{b.error()};
    block_ = *b;
    next_ = b->start;
  }
  return protocol::ProducerId(next_++);
}

}  // namespace samsa::broker
