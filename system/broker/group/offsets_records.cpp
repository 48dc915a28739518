#include "system/broker/group/offsets_records.h"

#include <limits>

#include "sim/runtime/assert.h"

namespace samsa::broker::group {

namespace {

using protocol::DecodeError;
using protocol::Reader;
using protocol::Writer;

// One code point of UTF-8 at `i` (advancing it), or nullopt for a byte that
// does not start a well-formed sequence (then `i` moves one byte).
std::optional<std::uint32_t> next_code_point(std::string_view s, std::size_t& i) {
  const auto b = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t c = b(i);
  int n = 0;
  std::uint32_t cp = 0, min = 0;
  if (c < 0x80) { ++i; return c; }
  if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; min = 0x80; }
  else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; min = 0x800; }
  else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; min = 0x10000; }
  else { ++i; return std::nullopt; }
  if (i + static_cast<std::size_t>(n) >= s.size()) {
    ++i;
    return std::nullopt;
  }
  for (int k = 1; k <= n; ++k) {
    if ((b(i + static_cast<std::size_t>(k)) & 0xc0) != 0x80) { ++i; return std::nullopt; }
    cp = (cp << 6) | (b(i + static_cast<std::size_t>(k)) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) { ++i; return std::nullopt; }
  i += static_cast<std::size_t>(n) + 1;
  return cp;
}

void write_string(Writer& w, std::string_view s) {
  w.string_length(s.size(), false);
  w.raw(as_bytes(s));
}
void write_nullable_string(Writer& w, const std::optional<std::string>& s) {
  if (!s) return w.string_length(std::nullopt, false);
  write_string(w, *s);
}
void write_bytes(Writer& w, const Bytes& b) {
  w.bytes_length(b.size(), false);
  w.raw(b);
}

Result<std::optional<std::string>, DecodeError> read_nullable_string(Reader& r) {
  SAMSA_TRY(n, r.string_length(false));
  if (!n) return std::optional<std::string>();
  SAMSA_TRY(bytes, r.raw(*n));
  return std::optional<std::string>(std::string(as_chars(bytes)));
}
Result<std::string, DecodeError> read_string(Reader& r, const char* field) {
  const std::size_t at = r.offset();
  SAMSA_TRY(s, read_nullable_string(r));
  if (!s) return Err{DecodeError{at, "non-nullable field was serialized as null", field}};
  return std::move(*s);
}
Result<Bytes, DecodeError> read_bytes(Reader& r, const char* field) {
  const std::size_t at = r.offset();
  SAMSA_TRY(n, r.bytes_length(false));
  if (!n) return Err{DecodeError{at, "non-nullable field was serialized as null", field}};
  SAMSA_TRY(bytes, r.raw(*n));
  return Bytes(bytes.begin(), bytes.end());
}
Result<std::int16_t, DecodeError> read_version(Reader& r, std::int16_t lo, std::int16_t hi, const char* what) {
  const std::size_t at = r.offset();
  SAMSA_TRY(v, r.int16());
  if (v < lo || v > hi)
    return Err{DecodeError{at, std::string("unknown ") + what + " version " + std::to_string(v), "version"}};
  return v;
}

Result<GroupMemberRecord, DecodeError> read_member(Reader& r, std::int16_t version) {
  GroupMemberRecord m;
  SAMSA_TRY(member_id, read_string(r, "memberId"));
  m.member_id = std::move(member_id);
  if (version >= 3) {
    SAMSA_TRY(instance, read_nullable_string(r));
    m.group_instance_id = std::move(instance);
  }
  SAMSA_TRY(client_id, read_string(r, "clientId"));
  m.client_id = std::move(client_id);
  SAMSA_TRY(client_host, read_string(r, "clientHost"));
  m.client_host = std::move(client_host);
  std::int32_t rebalance = 0;
  if (version >= 1) {
    SAMSA_TRY(v, r.int32());
    rebalance = v;
  }
  SAMSA_TRY(session, r.int32());
  m.session_timeout_ms = session;
  m.rebalance_timeout_ms = version == 0 ? session : rebalance;
  SAMSA_TRY(subscription, read_bytes(r, "subscription"));
  m.subscription = std::move(subscription);
  SAMSA_TRY(assignment, read_bytes(r, "assignment"));
  m.assignment = std::move(assignment);
  return m;
}

}  // namespace

std::int32_t java_string_hash(std::string_view s) {
  std::uint32_t h = 0;  // Java's int arithmetic wraps; unsigned gives the same bits
  const auto add = [&](std::uint32_t unit) { h = 31u * h + unit; };
  std::size_t i = 0;
  while (i < s.size()) {
    const auto cp = next_code_point(s, i);
    if (!cp) { add(0xfffd); continue; }
    if (*cp < 0x10000) { add(*cp); continue; }
    const std::uint32_t v = *cp - 0x10000;  // a surrogate pair
    add(0xd800 + (v >> 10));
    add(0xdc00 + (v & 0x3ff));
  }
  return static_cast<std::int32_t>(h);
}

std::int32_t offsets_partition_for(std::string_view group_id, std::int32_t num_partitions) {
  SAMSA_ASSERT(num_partitions > 0, "offsets.topic.num.partitions must be positive");
  const std::int32_t h = java_string_hash(group_id);
  const std::int32_t abs = h == std::numeric_limits<std::int32_t>::min() ? 0 : (h < 0 ? -h : h);
  return abs % num_partitions;
}

Bytes encode_key(const OffsetCommitKey& k, std::int16_t version) {
  SAMSA_ASSERT(version == 0 || version == 1);
  Bytes out;
  Writer w(out);
  w.int16(version);
  write_string(w, k.group);
  write_string(w, k.topic);
  w.int32(k.partition);
  return out;
}

Bytes encode_key(const GroupMetadataKey& k) {
  Bytes out;
  Writer w(out);
  w.int16(k_group_metadata_key_version);
  write_string(w, k.group);
  return out;
}

Bytes encode_value(const OffsetCommitValue& v) {
  return encode_value(v, v.expire_timestamp_ms != -1 ? 1 : k_offset_commit_value_version);
}

Bytes encode_value(const OffsetCommitValue& v, std::int16_t version) {
  SAMSA_ASSERT(version >= 0 && version <= 3);
  Bytes out;
  Writer w(out);
  w.int16(version);
  w.int64(v.offset.value());
  if (version >= 3) w.int32(v.leader_epoch.value());
  write_string(w, v.metadata);
  w.int64(v.commit_timestamp_ms);
  if (version == 1) w.int64(v.expire_timestamp_ms);
  return out;
}

Bytes encode_value(const GroupMetadataValue& v, std::int16_t version) {
  SAMSA_ASSERT(version >= 0 && version <= 3);
  Bytes out;
  Writer w(out);
  w.int16(version);
  write_string(w, v.protocol_type);
  w.int32(v.generation.value());
  write_nullable_string(w, v.protocol);
  write_nullable_string(w, v.leader);
  if (version >= 2) w.int64(v.current_state_timestamp_ms);
  w.array_length(v.members.size(), false);
  for (const auto& m : v.members) {
    write_string(w, m.member_id);
    if (version >= 3) write_nullable_string(w, m.group_instance_id);
    write_string(w, m.client_id);
    write_string(w, m.client_host);
    if (version >= 1) w.int32(m.rebalance_timeout_ms);
    w.int32(m.session_timeout_ms);
    write_bytes(w, m.subscription);
    write_bytes(w, m.assignment);
  }
  return out;
}

Result<RecordKey, DecodeError> decode_key(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r, 0, 2, "group metadata message"));
  SAMSA_TRY(group, read_string(r, "group"));
  if (version == 2) return RecordKey(GroupMetadataKey{std::move(group)});
  SAMSA_TRY(topic, read_string(r, "topic"));
  SAMSA_TRY(partition, r.int32());
  return RecordKey(OffsetCommitKey{std::move(group), std::move(topic), partition});
}

Result<OffsetCommitValue, DecodeError> decode_offset_commit_value(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r, 0, 3, "offset message"));
  OffsetCommitValue v;
  SAMSA_TRY(offset, r.int64());
  v.offset = protocol::Offset(offset);
  if (version >= 3) {
    SAMSA_TRY(epoch, r.int32());
    v.leader_epoch = protocol::LeaderEpoch(epoch);
  }
  SAMSA_TRY(metadata, read_string(r, "metadata"));
  v.metadata = std::move(metadata);
  SAMSA_TRY(commit_timestamp, r.int64());
  v.commit_timestamp_ms = commit_timestamp;
  if (version == 1) {
    SAMSA_TRY(expire, r.int64());
    v.expire_timestamp_ms = expire;
  }
  return v;
}

Result<GroupMetadataValue, DecodeError> decode_group_metadata_value(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r, 0, 3, "group metadata"));
  GroupMetadataValue v;
  SAMSA_TRY(protocol_type, read_string(r, "protocolType"));
  v.protocol_type = std::move(protocol_type);
  SAMSA_TRY(generation, r.int32());
  v.generation = protocol::GenerationId(generation);
  SAMSA_TRY(protocol_name, read_nullable_string(r));
  v.protocol = std::move(protocol_name);
  SAMSA_TRY(leader, read_nullable_string(r));
  v.leader = std::move(leader);
  if (version >= 2) {
    SAMSA_TRY(ts, r.int64());
    v.current_state_timestamp_ms = ts;
  }
  const std::size_t at = r.offset();
  SAMSA_TRY(count, r.array_length(false));
  if (!count || *count > r.remaining())
    return Err{DecodeError{at, "bad members array length", "members"}};
  for (std::size_t i = 0; i < *count; ++i) {
    SAMSA_TRY(member, read_member(r, version));
    v.members.push_back(std::move(member));
  }
  return v;
}

}  // namespace samsa::broker::group
