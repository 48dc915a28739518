#include "system/broker/txn/transaction_log.h"

#include <map>
#include <vector>

#include "sim/runtime/assert.h"

namespace samsa::broker::txn {

namespace {

using protocol::DecodeError;
using protocol::Reader;
using protocol::Writer;

constexpr std::int16_t k_key_version = 0;
// TransactionLogValue's tags (version 1, Kafka 4.0).
constexpr std::uint32_t k_tag_previous_producer_id = 0;
constexpr std::uint32_t k_tag_next_producer_id = 1;
constexpr std::uint32_t k_tag_client_transaction_version = 2;
constexpr std::int16_t k_tv2 = 2;  // TransactionVersion.TV_2: the epoch bump per transaction

void write_string(Writer& w, std::string_view s, bool compact = false) {
  w.string_length(s.size(), compact);
  w.raw(as_bytes(s));
}

Result<std::string, DecodeError> read_string(Reader& r, const char* field, bool compact = false) {
  const std::size_t at = r.offset();
  SAMSA_TRY(n, r.string_length(compact));
  if (!n) return Err{DecodeError{at, "non-nullable field was serialized as null", field}};
  SAMSA_TRY(bytes, r.raw(*n));
  return std::string(as_chars(bytes));
}

Result<std::int16_t, DecodeError> read_version(Reader& r, std::int16_t min, std::int16_t max, const char* what) {
  const std::size_t at = r.offset();
  SAMSA_TRY(v, r.int16());
  if (v < min || v > max)
    return Err{DecodeError{at, std::string("unknown version ") + std::to_string(v) + " of " + what, "version"}};
  return v;
}

void write_tagged_int(Writer& w, std::uint32_t tag, std::int64_t v, int bytes) {
  w.unsigned_varint(tag);
  w.unsigned_varint(static_cast<std::uint32_t>(bytes));
  if (bytes == 8) w.int64(v);
  else w.int16(static_cast<std::int16_t>(v));
}

// The tagged fields of value v1, defaults left out (as Kafka's generated
// writers do): PreviousProducerId, NextProducerId, ClientTransactionVersion.
void write_value_tags(Writer& w, const TxnTransit& t) {
  const bool previous = !t.last_producer_id.is_none() && t.last_producer_id != t.producer_id;
  const bool next = !t.next_producer_id.is_none();
  const bool tv = t.epoch_bump;
  w.unsigned_varint(static_cast<std::uint32_t>(previous + next + tv));
  if (previous) write_tagged_int(w, k_tag_previous_producer_id, t.last_producer_id.value(), 8);
  if (next) write_tagged_int(w, k_tag_next_producer_id, t.next_producer_id.value(), 8);
  if (tv) write_tagged_int(w, k_tag_client_transaction_version, k_tv2, 2);
}

// A tagged-field section; `known` reads the tags it knows (others are skipped).
template <class Known>
Result<void, DecodeError> read_tags(Reader& r, Known known) {
  SAMSA_TRY(count, r.unsigned_varint());
  for (std::uint32_t i = 0; i < count; ++i) {
    SAMSA_TRY(tag, r.unsigned_varint());
    SAMSA_TRY(size, r.unsigned_varint());
    const std::size_t at = r.offset();
    SAMSA_TRY(field, r.raw(size));
    Reader f(field, at);
    if (auto k = known(tag, f); !k) return Err{k.error()};
  }
  return {};
}

Result<void, DecodeError> read_value_tags(Reader& r, TxnTransit& t) {
  t.client_version_stored = true;
  return read_tags(r, [&](std::uint32_t tag, Reader& f) -> Result<void, DecodeError> {
    if (tag == k_tag_previous_producer_id) {
      SAMSA_TRY(v, f.int64());
      t.last_producer_id = ProducerId(v);
    } else if (tag == k_tag_next_producer_id) {
      SAMSA_TRY(v, f.int64());
      t.next_producer_id = ProducerId(v);
    } else if (tag == k_tag_client_transaction_version) {
      SAMSA_TRY(v, f.int16());
      t.epoch_bump = v >= k_tv2;
    }
    return {};
  });
}

Result<void, DecodeError> expect_end(const Reader& r) {
  if (r.remaining() != 0)
    return Err{DecodeError{r.offset(), std::to_string(r.remaining()) + " bytes after the end of the record", ""}};
  return {};
}

}  // namespace

Bytes encode_txn_key(std::string_view transactional_id) {
  Bytes out;
  Writer w(out);
  w.int16(k_key_version);
  write_string(w, transactional_id);
  return out;
}

Bytes encode_txn_value(const TxnTransit& t, std::int16_t version) {
  SAMSA_ASSERT(t.state != TxnState::empty || t.partitions.empty(), "an Empty transaction has no partitions");
  SAMSA_ASSERT(version == 0 || version == 1, "TransactionLogValue versions 0-1");
  const bool flexible = version >= 1;
  Bytes out;
  Writer w(out);
  w.int16(version);
  w.int64(t.producer_id.value());
  w.int16(t.producer_epoch.value());
  w.int32(t.txn_timeout_ms);
  w.int8(static_cast<std::int8_t>(t.state));
  if (t.state == TxnState::empty) {
    w.array_length(std::nullopt, flexible);
  } else {
    // groupBy(_.topic): one entry per topic (in topic order here).
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& p : t.partitions) by_topic[p.topic].push_back(p.partition.value());
    w.array_length(by_topic.size(), flexible);
    for (const auto& [topic, ids] : by_topic) {
      write_string(w, topic, flexible);
      w.array_length(ids.size(), flexible);
      for (std::int32_t id : ids) w.int32(id);
      if (flexible) w.unsigned_varint(0);  // the entry's tagged fields: none
    }
  }
  w.int64(t.txn_last_update_timestamp_ms);
  w.int64(t.txn_start_timestamp_ms);
  if (flexible) write_value_tags(w, t);
  return out;
}

Result<std::string, DecodeError> decode_txn_key(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r, k_key_version, k_key_version, "the transaction log key"));
  (void)version;
  SAMSA_TRY(id, read_string(r, "TransactionalId"));
  if (auto end = expect_end(r); !end) return Err{end.error()};
  return id;
}

Result<TxnTransit, DecodeError> decode_txn_value(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r, 0, 1, "the transaction log value"));
  const bool flexible = version >= 1;
  TxnTransit t;
  SAMSA_TRY(pid, r.int64());
  t.producer_id = ProducerId(pid);
  SAMSA_TRY(epoch, r.int16());
  t.producer_epoch = ProducerEpoch(epoch);
  SAMSA_TRY(timeout, r.int32());
  t.txn_timeout_ms = timeout;
  const std::size_t status_at = r.offset();
  SAMSA_TRY(status, r.int8());
  const auto state = txn_state_from_byte(status);
  if (!state)
    return Err{DecodeError{status_at, "unknown transaction state byte " + std::to_string(status),
                           "TransactionStatus"}};
  t.state = *state;
  SAMSA_TRY(topics, r.array_length(flexible));
  for (std::size_t i = 0; topics && i < *topics; ++i) {
    SAMSA_TRY(topic, read_string(r, "TransactionPartitions.Topic", flexible));
    const std::size_t ids_at = r.offset();
    SAMSA_TRY(ids, r.array_length(flexible));
    if (!ids) return Err{DecodeError{ids_at, "non-nullable field was serialized as null", "PartitionIds"}};
    for (std::size_t k = 0; k < *ids; ++k) {
      SAMSA_TRY(id, r.int32());
      // readTxnRecordValue ignores the partitions of an Empty transaction.
      if (t.state != TxnState::empty) t.partitions.insert({topic, protocol::PartitionId(id)});
    }
    if (flexible)
      if (auto tags = read_tags(r, [](std::uint32_t, Reader&) { return Result<void, DecodeError>{}; }); !tags)
        return Err{tags.error()};
  }
  SAMSA_TRY(last_update, r.int64());
  t.txn_last_update_timestamp_ms = last_update;
  SAMSA_TRY(start, r.int64());
  t.txn_start_timestamp_ms = start;
  if (flexible)
    if (auto tags = read_value_tags(r, t); !tags) return Err{tags.error()};
  if (auto end = expect_end(r); !end) return Err{end.error()};
  return t;
}

}  // namespace samsa::broker::txn
