#pragma once
// The records of the internal __transaction_state topic, as Kafka 2.8's
// TransactionLog.scala writes them (schemas TransactionLogKey and
// TransactionLogValue in core/src/main/resources/common/message/, version 0,
// not flexible): the key is an int16 version (0) and the transactional id;
// the value an int16 version (0), then ProducerId int64, ProducerEpoch int16,
// TransactionTimeoutMs int32, TransactionStatus int8 (the state's byte),
// TransactionPartitions (a nullable array of {Topic string, PartitionIds
// []int32}; null for Empty), TransactionLastUpdateTimestampMs int64 and
// TransactionStartTimestampMs int64. A null value is a tombstone (an expired
// transactional id).
#include <optional>
#include <string>
#include <string_view>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"
#include "system/broker/txn/transaction_metadata.h"
#include "system/protocol/wire.h"

namespace samsa::broker::txn {

inline constexpr std::string_view k_transaction_state_topic = "__transaction_state";

Bytes encode_txn_key(std::string_view transactional_id);
// valueToBytes. The last producer id and epoch are not stored (value v0).
// An Empty transit with partitions is a bug of the caller.
Bytes encode_txn_value(const TxnTransit& t);

// readTxnRecordKey / readTxnRecordValue: unknown versions and unknown state
// bytes are errors (Kafka throws IllegalStateException).
Result<std::string, protocol::DecodeError> decode_txn_key(ByteView bytes);
Result<TxnTransit, protocol::DecodeError> decode_txn_value(ByteView bytes);

}  // namespace samsa::broker::txn
