#pragma once
// A partition's transactions, as Kafka 2.8 keeps them beside its log:
// ProducerStateManager's ongoingTxns (a producer's transaction opens with its
// first transactional batch and closes with its commit or abort marker) and
// unreplicatedTxns (closed, but the marker is not below the high watermark
// yet), Log's first unstable offset and last stable offset (LSO), and the
// entry of the TransactionIndex each abort adds (AbortedTxn: producer id,
// first offset, last offset = the marker's, the LSO when it was aborted).
// The index itself is the log's (.txnindex per segment, log/txn_index.h):
// the owner appends what on_batch reports.
//
// Every stored batch goes through on_batch, whether appended as leader, as
// follower or replayed from the log on a load; after a truncation the
// owner clears and replays.
#include <map>
#include <optional>
#include <vector>

#include "system/protocol/ids.h"
#include "system/protocol/record_batch.h"

namespace samsa::broker::txn {

using protocol::Offset;
using protocol::ProducerId;

struct AbortedTxn {
  ProducerId producer_id;
  Offset first_offset;
  Offset last_offset;         // the abort marker's offset
  Offset last_stable_offset;  // as the index stores it (ProducerStateManager.lastStableOffset)
  friend bool operator==(const AbortedTxn&, const AbortedTxn&) = default;
};

// CompletedTxn: what a marker closed, with the last stable offset right
// after it (ProducerStateManager.lastStableOffset(completedTxn)).
struct CompletedTxn {
  ProducerId producer_id;
  Offset first_offset;
  Offset last_offset;
  bool aborted = false;
  Offset last_stable_offset = Offset::none();
  friend bool operator==(const CompletedTxn&, const CompletedTxn&) = default;
  // The TransactionIndex entry of an abort.
  AbortedTxn aborted_txn() const { return {producer_id, first_offset, last_offset, last_stable_offset}; }
};

class PartitionTxns {
 public:
  // One stored batch; `marker` is the control record of a control batch
  // (nullopt for data, or for a control batch whose record is unreadable,
  // which is then ignored). Returns what a marker closed.
  std::optional<CompletedTxn> on_batch(const protocol::BatchHeader& h, std::optional<protocol::ControlRecord> marker);
  // onHighWatermarkUpdated: closed transactions whose marker is below the
  // high watermark are stable now.
  void on_high_watermark(Offset high_watermark);

  // firstUnstableOffset: the first offset of the oldest transaction that is
  // open or whose marker is not yet below the high watermark.
  std::optional<Offset> first_unstable_offset() const;
  // Log.lastStableOffset: min(first unstable offset, high watermark), with
  // the transactions whose marker is below `high_watermark` counted stable.
  Offset last_stable_offset(Offset high_watermark) const;

  // The first offset of `id`'s open transaction here.
  std::optional<Offset> open_transaction(ProducerId id) const;
  std::size_t open_transactions() const { return ongoing_.size(); }
  // How many markers of `id` this partition has stored: a produce verified
  // with the coordinator (KIP-890 part 1) is appended only if none came in
  // between (Kafka 3.6's VerificationGuard).
  std::uint64_t markers_seen(ProducerId id) const {
    auto it = markers_seen_.find(id);
    return it == markers_seen_.end() ? 0 : it->second;
  }
  void clear();

 private:
  // The lowest first offset of an open transaction of another producer
  // (ProducerStateManager.lastStableOffset(completedTxn)).
  Offset last_stable_offset_after(const CompletedTxn& t) const;

  std::map<ProducerId, Offset> ongoing_;            // producer -> first offset
  std::map<Offset, CompletedTxn> unreplicated_;     // by first offset
  std::map<ProducerId, std::uint64_t> markers_seen_;
};

}  // namespace samsa::broker::txn
