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
constexpr std::int16_t k_value_version = 0;

void write_string(Writer& w, std::string_view s) {
  w.string_length(s.size(), false);
  w.raw(as_bytes(s));
}

Result<std::string, DecodeError> read_string(Reader& r, const char* field) {
  const std::size_t at = r.offset();
  SAMSA_TRY(n, r.string_length(false));
  if (!n) return Err{DecodeError{at, "non-nullable field was serialized as null", field}};
  SAMSA_TRY(bytes, r.raw(*n));
  return std::string(as_chars(bytes));
}

Result<std::int16_t, DecodeError> read_version(Reader& r, std::int16_t want, const char* what) {
  const std::size_t at = r.offset();
  SAMSA_TRY(v, r.int16());
  if (v != want)
    return Err{DecodeError{at, std::string("unknown version ") + std::to_string(v) + " of " + what, "version"}};
  return v;
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

Bytes encode_txn_value(const TxnTransit& t) {
  SAMSA_ASSERT(t.state != TxnState::empty || t.partitions.empty(), "an Empty transaction has no partitions");
  Bytes out;
  Writer w(out);
  w.int16(k_value_version);
  w.int64(t.producer_id.value());
  w.int16(t.producer_epoch.value());
  w.int32(t.txn_timeout_ms);
  w.int8(static_cast<std::int8_t>(t.state));
  if (t.state == TxnState::empty) {
    w.array_length(std::nullopt, false);
  } else {
    // groupBy(_.topic): one entry per topic (in topic order here).
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& p : t.partitions) by_topic[p.topic].push_back(p.partition.value());
    w.array_length(by_topic.size(), false);
    for (const auto& [topic, ids] : by_topic) {
      write_string(w, topic);
      w.array_length(ids.size(), false);
      for (std::int32_t id : ids) w.int32(id);
    }
  }
  w.int64(t.txn_last_update_timestamp_ms);
  w.int64(t.txn_start_timestamp_ms);
  return out;
}

Result<std::string, DecodeError> decode_txn_key(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r, k_key_version, "the transaction log key"));
  (void)version;
  SAMSA_TRY(id, read_string(r, "TransactionalId"));
  if (auto end = expect_end(r); !end) return Err{end.error()};
  return id;
}

Result<TxnTransit, DecodeError> decode_txn_value(ByteView bytes) {
  Reader r(bytes);
  SAMSA_TRY(version, read_version(r, k_value_version, "the transaction log value"));
  (void)version;
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
  SAMSA_TRY(topics, r.array_length(false));
  for (std::size_t i = 0; topics && i < *topics; ++i) {
    SAMSA_TRY(topic, read_string(r, "TransactionPartitions.Topic"));
    const std::size_t ids_at = r.offset();
    SAMSA_TRY(ids, r.array_length(false));
    if (!ids) return Err{DecodeError{ids_at, "non-nullable field was serialized as null", "PartitionIds"}};
    for (std::size_t k = 0; k < *ids; ++k) {
      SAMSA_TRY(id, r.int32());
      // readTxnRecordValue ignores the partitions of an Empty transaction.
      if (t.state != TxnState::empty) t.partitions.insert({topic, protocol::PartitionId(id)});
    }
  }
  SAMSA_TRY(last_update, r.int64());
  t.txn_last_update_timestamp_ms = last_update;
  SAMSA_TRY(start, r.int64());
  t.txn_start_timestamp_ms = start;
  if (auto end = expect_end(r); !end) return Err{end.error()};
  return t;
}

}  // namespace samsa::broker::txn
