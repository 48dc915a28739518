#pragma once
// The records of the internal __transaction_state topic, as Kafka 2.8's
// TransactionLog.scala writes them (schemas TransactionLogKey and
// TransactionLogValue in core/src/main/resources/common/message/, version 0,
// not flexible; and Kafka 4.0's value version 1, below): the key is an int16 version (0) and the transactional id;
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
// valueToBytes. Version 0 stores no last producer id or epoch. Version 1
// (Kafka 4.0's TransactionLogValue, flexible: compact strings and arrays,
// tagged fields) adds, tagged and only when not the default,
// PreviousProducerId (tag 0: the transit's last producer id when it
// differs), NextProducerId (tag 1: a pending rotation) and
// ClientTransactionVersion (tag 2: 2 for a transit of an EndTxn that bumped
// the epoch, TV_2). Kafka writes v1 once the transaction version is 1 or
// more; the owner passes the version. An Empty transit with partitions is a
// bug of the caller.
Bytes encode_txn_value(const TxnTransit& t, std::int16_t version = 0);

// readTxnRecordKey / readTxnRecordValue: unknown versions and unknown state
// bytes are errors (Kafka throws IllegalStateException). A value v1 sets
// client_version_stored (and epoch_bump from ClientTransactionVersion).
Result<std::string, protocol::DecodeError> decode_txn_key(ByteView bytes);
Result<TxnTransit, protocol::DecodeError> decode_txn_value(ByteView bytes);

}  // namespace samsa::broker::txn
