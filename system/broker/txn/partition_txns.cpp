#include "system/broker/txn/partition_txns.h"

#include <algorithm>

namespace samsa::broker::txn {

std::optional<CompletedTxn> PartitionTxns::on_batch(const protocol::BatchHeader& h,
                                                    std::optional<protocol::ControlRecord> marker) {
  if (!h.is_transactional() || h.producer_id == protocol::k_no_producer_id) return std::nullopt;
  const ProducerId id(h.producer_id);
  if (!h.is_control()) {
    ongoing_.try_emplace(id, Offset(h.base_offset));  // the first batch opens it
    return std::nullopt;
  }
  if (!marker) return std::nullopt;
  ++markers_seen_[id];
  // appendEndTxnMarker: a marker for a producer with nothing open here
  // (it added the partition but wrote nothing) closes an empty
  // transaction at the marker itself.
  const Offset marker_offset(h.base_offset);
  auto it = ongoing_.find(id);
  const Offset first = it == ongoing_.end() ? marker_offset : it->second;
  if (it != ongoing_.end()) ongoing_.erase(it);
  CompletedTxn done{id, first, marker_offset, marker->type == protocol::ControlType::abort};
  done.last_stable_offset = last_stable_offset_after(done);
  unreplicated_[first] = done;
  return done;
}

Offset PartitionTxns::last_stable_offset_after(const CompletedTxn& t) const {
  std::optional<Offset> next;
  for (const auto& [id, first] : ongoing_)
    if (id != t.producer_id && (!next || first < *next)) next = first;
  return next.value_or(t.last_offset.next());
}

void PartitionTxns::on_high_watermark(Offset high_watermark) {
  for (auto it = unreplicated_.begin(); it != unreplicated_.end();) {
    if (it->second.last_offset < high_watermark) {
      it = unreplicated_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<Offset> PartitionTxns::first_unstable_offset() const {
  std::optional<Offset> out;
  if (!unreplicated_.empty()) out = unreplicated_.begin()->first;
  for (const auto& [id, first] : ongoing_)
    if (!out || first < *out) out = first;
  return out;
}

Offset PartitionTxns::last_stable_offset(Offset high_watermark) const {
  // As of `high_watermark` itself, whether on_high_watermark has seen it yet.
  Offset out = high_watermark;
  for (const auto& [first, t] : unreplicated_)
    if (t.last_offset >= high_watermark) {
      out = std::min(out, first);
      break;  // by first offset: the first one that counts is the lowest
    }
  for (const auto& [id, first] : ongoing_) out = std::min(out, first);
  return out;
}

std::optional<Offset> PartitionTxns::open_transaction(ProducerId id) const {
  auto it = ongoing_.find(id);
  if (it == ongoing_.end()) return std::nullopt;
  return it->second;
}

void PartitionTxns::clear() {
  ongoing_.clear();
  unreplicated_.clear();
  markers_seen_.clear();
}

}  // namespace samsa::broker::txn
