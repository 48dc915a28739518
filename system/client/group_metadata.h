#pragma once
// ConsumerGroupMetadata (KIP-447): what a consumer hands to a transactional
// producer's sendOffsetsToTransaction so the group coordinator can fence a
// zombie whose generation is gone (TxnOffsetCommit v3).
#include <cstdint>
#include <optional>
#include <string>

namespace samsa::client {

struct ConsumerGroupMetadata {
  std::string group_id;
  std::int32_t generation_id = -1;  // -1: not checked (a consumer without group management)
  std::string member_id;            // empty: not checked
  std::optional<std::string> group_instance_id;
};

}  // namespace samsa::client
