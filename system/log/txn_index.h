#pragma once
// The aborted-transaction index (.txnindex) of one segment, Kafka's
// TransactionIndex (storage's AbortedTxn): one 34-byte big-endian entry per
// abort marker stored in the segment,
//   version int16 (0) | producerId int64 | firstOffset int64 |
//   lastOffset int64 (the marker's) | lastStableOffset int64
// in marker order. read_committed fetches list the aborted transactions a
// range of the log overlaps (collect), so a consumer can drop their records.
//
// As the other indexes here, the entries also live in memory; unlike them
// the file is appended to as markers are stored (TransactionIndex.append),
// so a sealed segment's file is complete without a rewrite at roll. Only a
// segment that stored an abort marker has the file (Kafka creates it
// lazily).
#include <cstdint>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"
#include "system/log/index.h"

namespace samsa::log {

inline constexpr std::size_t k_aborted_txn_bytes = 34;
inline constexpr std::int16_t k_aborted_txn_version = 0;  // AbortedTxn.CurrentVersion

struct AbortedTxn {
  std::int64_t producer_id = -1;
  std::int64_t first_offset = 0;
  std::int64_t last_offset = 0;         // the abort marker's offset
  std::int64_t last_stable_offset = 0;  // the LSO right after the abort
  bool operator==(const AbortedTxn&) const = default;
};

// One entry's 34 bytes appended to out.
void encode_aborted_txn(Bytes& out, const AbortedTxn& t);
Bytes encode_txn_index(const std::vector<AbortedTxn>& entries);
// Parses a .txnindex of the segment at base_offset. TransactionIndex.
// sanityCheck's rules: whole entries, version 0, every last offset inside
// the segment (>= base_offset); and ours: first <= last, markers in order.
Result<std::vector<AbortedTxn>, IndexError> decode_txn_index(ByteView file, std::int64_t base_offset);

// TransactionIndex.collectAbortedTxns: appends the entries that overlap
// [fetch_offset, upper_bound_offset) (last offset >= fetch offset, first
// offset < upper bound). Returns true when the search is complete: an entry
// whose last stable offset reaches the upper bound means no later abort can
// overlap the range (TxnIndexSearchResult.isComplete).
bool collect_aborted_txns_in(const std::vector<AbortedTxn>& entries, std::int64_t fetch_offset,
                             std::int64_t upper_bound_offset, std::vector<AbortedTxn>& out);

}  // namespace samsa::log
