#pragma once
// A partition log: a directory `<topic>-<partition>/` of segments named by
// their 20-digit base offset, plus the side files the broker needs
// (recovery point, high watermark, leader epochs, producer state). Used by
// one fiber at a time; every disk call may park the fiber, and a crash at
// any park leaves files that open() recovers.
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/log/checkpoint.h"
#include "system/log/config.h"
#include "system/log/errors.h"
#include "system/log/segment.h"

namespace samsa::log {

struct AppendInfo {
  std::int64_t first_offset = 0;
  std::int64_t last_offset = 0;
  std::int64_t max_timestamp = -1;
  std::size_t batches = 0;
  // A new segment began at this offset just before these batches: the
  // caller's producer state as it was before them belongs in a snapshot
  // there (UnifiedLog.roll's takeSnapshot).
  std::optional<std::int64_t> rolled_to;
};

struct ReadInfo {
  protocol::Records records;     // whole batches, in offset order (a view of the segment's mapping)
  std::int64_t log_start_offset = 0;
  std::int64_t log_end_offset = 0;
};

struct TimestampOffset {
  std::int64_t offset = 0;        // base offset of the first batch with max timestamp >= target
  std::int64_t timestamp_ms = 0;  // that batch's max timestamp
};

class Log {
 public:
  // Opens (creating when missing) the log in `dir` and recovers it: trusted
  // segments below the recovery point load their index files, the rest are
  // scanned and cut at the first torn or corrupt batch.
  static Result<std::unique_ptr<Log>, LogErrc> open(sim::Runtime& rt, std::string dir,
                                                    LogConfig config);

  // Leader append: assigns offsets from the log end offset and stamps
  // `leader_epoch` into every batch. `records` is one or more whole batches
  // (a Produce request's records); they are checked (framing, CRC, sizes).
  // `Crc::verified`: the caller has checked every batch's CRC already (the
  // broker's Partition::validate, as Kafka's analyzeAndValidateRecords runs
  // once before UnifiedLog.append), so it is not computed twice: it was a
  // quarter of a live broker's CPU under a produce load.
  // On an error the log is as before.
  enum class Crc : bool { check, verified };
  Result<AppendInfo, LogErrc> append_as_leader(ByteView records, std::int32_t leader_epoch,
                                               Crc crc = Crc::check);
  // Follower append: batches keep the leader's offsets and epochs; the first
  // must start at the log end offset.
  Result<AppendInfo, LogErrc> append_as_follower(ByteView records);

  // Whole batches from the one containing `offset`, up to max_bytes (at
  // least one batch when min_one, as Kafka's KIP-74), only batches whose last
  // offset is below max_offset (the high watermark, exclusive).
  Result<ReadInfo, LogErrc> read(std::int64_t offset, std::uint64_t max_bytes,
                                 std::int64_t max_offset = std::numeric_limits<std::int64_t>::max(),
                                 bool min_one = true);
  // ListOffsets by timestamp; nullopt when no batch is that late.
  Result<std::optional<TimestampOffset>, LogErrc> offset_for_timestamp(std::int64_t target_ms);

  // Drops every batch whose last offset is >= offset (followers, KIP-101);
  // the log end offset becomes <= offset. Durable when it returns.
  Result<void, LogErrc> truncate_to(std::int64_t offset);
  // Deletes everything and restarts the log empty at `offset`.
  Result<void, LogErrc> truncate_fully_and_start_at(std::int64_t offset);
  // Retention: deletes whole old segments (never the active one) over
  // retention.bytes or older than retention.ms, but only segments wholly
  // below upper_bound_offset (the high watermark). Returns how many.
  Result<std::size_t, LogErrc> delete_old_segments(std::int64_t now_ms,
                                                   std::int64_t upper_bound_offset);

  // fsyncs everything up to the log end offset and advances the recovery
  // point checkpoint.
  Result<void, LogErrc> flush();
  // The flush.ms policy; call it from a timer. Flushes when due.
  Result<void, LogErrc> maybe_flush();
  // Starts a new segment at the log end offset (no-op when the active
  // segment is empty).
  Result<void, LogErrc> roll();

  std::int64_t log_start_offset() const { return segments_.begin()->first; }
  std::int64_t log_end_offset() const { return active().next_offset(); }
  std::int64_t recovery_point() const { return recovery_point_; }
  std::uint64_t size_bytes() const;
  std::vector<std::int64_t> segment_base_offsets() const;
  const Segment& segment(std::int64_t base_offset) const { return *segments_.at(base_offset); }
  const std::string& dir() const { return dir_; }
  const LogConfig& config() const { return config_; }
  bool offline() const { return offline_; }
  const RecoveryStats& recovery_stats() const { return recovery_stats_; }

  // --- the aborted-transaction index (.txnindex per segment) ----------------------
  // TransactionIndex.append on the active segment: an abort marker at
  // t.last_offset was just stored.
  Result<void, LogErrc> append_aborted_txn(const AbortedTxn& t);
  // Log.collectAbortedTransactions: the aborted transactions overlapping
  // [fetch_offset, upper_bound_offset), from the segment holding
  // fetch_offset on until a segment's search is complete.
  std::vector<AbortedTxn> collect_aborted_txns(std::int64_t fetch_offset,
                                               std::int64_t upper_bound_offset) const;
  // After open or a truncation: `replayed` are the aborted transactions the
  // owner found replaying the whole log; every segment whose index was not
  // trusted (recovered, unreadable, or missing while the replay found
  // aborts in it) takes its share and has its file written again.
  Result<void, LogErrc> recover_txn_index(const std::vector<AbortedTxn>& replayed);

  // --- side files ------------------------------------------------------------------
  const LeaderEpochCache& leader_epochs() const { return epochs_; }
  // Records a new leader epoch starting at the log end offset (becoming leader).
  Result<void, LogErrc> assign_leader_epoch(std::int32_t epoch);
  Result<void, LogErrc> checkpoint_high_watermark(std::int64_t high_watermark);
  // The last checkpointed high watermark (0 when none), at most the log end.
  Result<std::int64_t, LogErrc> read_high_watermark();
  // Writes `<offset>.snapshot`, the producer state that held at `offset`
  // (at most the log end); keeps the newest producer_snapshots_kept.
  Result<void, LogErrc> save_producer_snapshot(const ProducerSnapshot& snapshot, std::int64_t offset);
  // The newest snapshot at or below the log end offset, with its offset.
  Result<std::optional<std::pair<std::int64_t, ProducerSnapshot>>, LogErrc> load_producer_snapshot();

 private:
  Log(sim::Runtime& rt, std::string dir, LogConfig config);
  Result<void, LogErrc> load();
  Result<void, LogErrc> load_segments(const std::vector<std::int64_t>& bases);
  Result<void, LogErrc> rebuild_leader_epochs();
  Result<void, LogErrc> remove_strays(const std::vector<std::string>& names,
                                      const std::vector<std::int64_t>& bases);
  Result<void, LogErrc> delete_segments_from(std::int64_t base_offset);
  Result<void, LogErrc> write_recovery_point(std::int64_t offset);
  Result<void, LogErrc> write_epochs(const LeaderEpochCache& epochs);
  Result<std::vector<BatchHeader>, LogErrc> check_records(ByteView records, Crc crc) const;
  Result<AppendInfo, LogErrc> append(Bytes records, std::vector<BatchHeader> headers);
  Result<void, LogErrc> maybe_roll(const std::vector<BatchHeader>& headers, std::uint64_t bytes);
  Result<void, LogErrc> after_append(const AppendInfo& info);
  Result<ReadInfo, LogErrc> read_first_batch(Segment& seg, std::uint64_t position,
                                             std::int64_t max_offset, ReadInfo out);
  Result<void, LogErrc> delete_oldest_segment();
  Result<std::vector<std::int64_t>, LogErrc> snapshot_offsets();
  Result<void, LogErrc> delete_snapshots_above(std::int64_t offset);
  Result<void, LogErrc> delete_snapshots_below(std::int64_t offset);
  // Disk errors from fsync take the log offline (the page cache state is
  // unknown after a failed fsync, as with Kafka's offline log dirs).
  template <class T>
  Result<T, LogErrc> guard(Result<T, LogErrc> r);
  Segment& active() { return *segments_.rbegin()->second; }
  const Segment& active() const { return *segments_.rbegin()->second; }

  sim::Runtime& rt_;
  sim::Disk& disk_;
  std::string dir_;
  LogConfig config_;
  std::map<std::int64_t, std::unique_ptr<Segment>> segments_;  // by base offset; never empty once open
  std::int64_t recovery_point_ = 0;
  std::int64_t unflushed_messages_ = 0;
  std::int64_t last_flush_ms_ = 0;
  bool offline_ = false;
  LeaderEpochCache epochs_;
  RecoveryStats recovery_stats_;
  // What the checkpoint files already hold durably: the periodic
  // checkpoints skip rewriting (and fsyncing) an unchanged value, so an
  // idle partition costs no disk work.
  std::optional<std::int64_t> checkpointed_high_watermark_;
  std::optional<std::pair<std::int64_t, std::string>> saved_snapshot_;  // (offset, text)
};

}  // namespace samsa::log
