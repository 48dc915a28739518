#include "system/client/group/consumer_protocol.h"

#include <algorithm>

#include "sim/runtime/assert.h"

namespace samsa::client::group {

namespace {

using protocol::DecodeError;
using protocol::Reader;
using protocol::Writer;

void write_string(Writer& w, std::string_view s) {
  w.string_length(s.size(), false);
  w.raw(as_bytes(s));
}

void write_nullable_string(Writer& w, const std::optional<std::string>& s) {
  if (!s) return w.string_length(std::nullopt, false);
  write_string(w, *s);
}

void write_nullable_bytes(Writer& w, const std::optional<Bytes>& b) {
  w.bytes_length(b ? std::optional<std::size_t>(b->size()) : std::nullopt, false);
  if (b) w.raw(*b);
}

// [](Topic string, Partitions []int32), one entry per run of equal topics.
void write_topic_partitions(Writer& w, const std::vector<TopicPartition>& grouped) {
  std::vector<std::pair<std::string_view, std::vector<std::int32_t>>> topics;
  for (const auto& tp : grouped) {
    auto it = std::find_if(topics.begin(), topics.end(),
                           [&](const auto& t) { return t.first == tp.topic; });
    if (it == topics.end()) it = topics.insert(topics.end(), {tp.topic, {}});
    it->second.push_back(tp.partition.value());
  }
  w.array_length(topics.size(), false);
  for (const auto& [topic, partitions] : topics) {
    write_string(w, topic);
    w.array_length(partitions.size(), false);
    for (auto p : partitions) w.int32(p);
  }
}

Result<std::string, DecodeError> read_string(Reader& r, const char* field) {
  const std::size_t at = r.offset();
  SAMSA_TRY(n, r.string_length(false));
  if (!n) return Err{DecodeError{at, "non-nullable field was serialized as null", field}};
  SAMSA_TRY(bytes, r.raw(*n));
  return std::string(as_chars(bytes));
}

Result<std::optional<std::string>, DecodeError> read_nullable_string(Reader& r) {
  SAMSA_TRY(n, r.string_length(false));
  if (!n) return std::optional<std::string>();
  SAMSA_TRY(bytes, r.raw(*n));
  return std::optional<std::string>(std::string(as_chars(bytes)));
}

Result<std::optional<Bytes>, DecodeError> read_nullable_bytes(Reader& r) {
  SAMSA_TRY(n, r.bytes_length(false));
  if (!n) return std::optional<Bytes>();
  SAMSA_TRY(bytes, r.raw(*n));
  return std::optional<Bytes>(Bytes(bytes.begin(), bytes.end()));
}

Result<std::size_t, DecodeError> read_array_length(Reader& r, const char* field) {
  const std::size_t at = r.offset();
  SAMSA_TRY(n, r.array_length(false));
  if (!n) return Err{DecodeError{at, "non-nullable field was serialized as null", field}};
  // Each element takes at least 2 bytes: refuse counts the buffer cannot hold
  // before reserving anything for them.
  if (*n > r.remaining()) return Err{DecodeError{at, "array longer than the bytes left", field}};
  return *n;
}

Result<std::vector<TopicPartition>, DecodeError> read_topic_partitions(Reader& r,
                                                                       const char* field) {
  SAMSA_TRY(topics, read_array_length(r, field));
  std::vector<TopicPartition> out;
  for (std::size_t i = 0; i < topics; ++i) {
    SAMSA_TRY(topic, read_string(r, field));
    SAMSA_TRY(count, read_array_length(r, field));
    for (std::size_t j = 0; j < count; ++j) {
      SAMSA_TRY(p, r.int32());
      out.push_back({topic, protocol::PartitionId(p)});
    }
  }
  return out;
}

Result<std::int16_t, DecodeError> read_version(Reader& r) {
  const std::size_t at = r.offset();
  SAMSA_TRY(v, r.int16());
  if (v < k_consumer_protocol_lowest_version)
    return Err{DecodeError{at, "unsupported consumer protocol version " + std::to_string(v), "Version"}};
  return std::min(v, k_consumer_protocol_highest_version);
}

}  // namespace

std::string to_string(const TopicPartition& tp) {
  return tp.topic + "-" + std::to_string(tp.partition.value());
}

Bytes encode_subscription(const Subscription& s, std::int16_t version) {
  SAMSA_ASSERT(version >= 0 && version <= k_consumer_protocol_highest_version);
  Bytes out;
  Writer w(out);
  w.int16(version);
  std::vector<std::string> topics = s.topics;
  std::sort(topics.begin(), topics.end());
  w.array_length(topics.size(), false);
  for (const auto& t : topics) write_string(w, t);
  write_nullable_bytes(w, s.user_data);
  if (version >= 1) {
    std::vector<TopicPartition> owned = s.owned_partitions;
    std::sort(owned.begin(), owned.end());
    write_topic_partitions(w, owned);
  }
  if (version >= 2) w.int32(s.generation_id.value());
  if (version >= 3) write_nullable_string(w, s.rack_id);
  return out;
}

Bytes encode_assignment(const Assignment& a, std::int16_t version) {
  SAMSA_ASSERT(version >= 0 && version <= k_consumer_protocol_highest_version);
  Bytes out;
  Writer w(out);
  w.int16(version);
  write_topic_partitions(w, a.partitions);
  write_nullable_bytes(w, a.user_data);
  return out;
}

Result<std::int16_t, DecodeError> decode_version(ByteView bytes) {
  Reader r(bytes);
  return r.int16();
}

Result<Subscription, DecodeError> decode_subscription(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r));
  Subscription s;
  SAMSA_TRY(topics, read_array_length(r, "Topics"));
  for (std::size_t i = 0; i < topics; ++i) {
    SAMSA_TRY(t, read_string(r, "Topics"));
    s.topics.push_back(std::move(t));
  }
  SAMSA_TRY(user_data, read_nullable_bytes(r));
  s.user_data = std::move(user_data);
  if (version >= 1) {
    SAMSA_TRY(owned, read_topic_partitions(r, "OwnedPartitions"));
    s.owned_partitions = std::move(owned);
  }
  if (version >= 2) {
    SAMSA_TRY(generation, r.int32());
    s.generation_id = protocol::GenerationId(generation);
  }
  if (version >= 3) {
    SAMSA_TRY(rack, read_nullable_string(r));
    if (rack && !rack->empty()) s.rack_id = std::move(rack);
  }
  return s;
}

Result<Assignment, DecodeError> decode_assignment(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r));
  (void)version;  // every version so far has the same fields
  Assignment a;
  SAMSA_TRY(partitions, read_topic_partitions(r, "AssignedPartitions"));
  a.partitions = std::move(partitions);
  SAMSA_TRY(user_data, read_nullable_bytes(r));
  a.user_data = std::move(user_data);
  return a;
}

}  // namespace samsa::client::group
