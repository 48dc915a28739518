#pragma once
// One segment of a partition log: `<base>.log` with its sparse offset index
// and time index. The indexes live in memory and are written to
// `<base>.index` / `<base>.timeindex` when the segment is sealed (at roll);
// the active segment's indexes are rebuilt from the log on every open.
// The aborted-transaction index (`<base>.txnindex`) is appended to as abort
// markers are stored; the log itself cannot rebuild it (that needs the
// partition's transaction state), so a segment whose file is not trusted
// says so (txn_index_needs_rebuild) and its owner hands it the entries.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sim/runtime/disk.h"
#include "system/log/config.h"
#include "system/log/errors.h"
#include "system/log/index.h"
#include "system/log/scan.h"
#include "system/log/txn_index.h"
#include "system/protocol/typed.h"

namespace samsa::log {

struct RecoveryStats {
  std::uint64_t segments_scanned = 0;
  std::uint64_t bytes_scanned = 0;
  std::uint64_t batches_scanned = 0;
  std::uint64_t bytes_truncated = 0;
  std::uint64_t segments_deleted = 0;
  std::uint64_t indexes_rebuilt = 0;
  std::uint64_t txn_indexes_loaded = 0;   // .txnindex files read and trusted
  std::uint64_t txn_indexes_rebuilt = 0;  // written again from the partition's replay
};

class Segment {
 public:
  // Creates an empty segment (the .log file must not exist yet).
  static Result<std::unique_ptr<Segment>, LogErrc> create(sim::Disk& disk, const std::string& dir,
                                                          std::int64_t base_offset,
                                                          const LogConfig& config);
  // Opens an existing .log without reading it; then recover() or load().
  static Result<std::unique_ptr<Segment>, LogErrc> open(sim::Disk& disk, const std::string& dir,
                                                        std::int64_t base_offset,
                                                        const LogConfig& config);

  // A sealed segment below the recovery point: trusts its data, loads the
  // index files (or rebuilds them from the batch headers when missing or
  // not sane). `next_offset` is the next segment's base offset.
  Result<void, LogErrc> load(std::int64_t next_offset, RecoveryStats& stats);
  // A segment at or past the recovery point: scans every batch from the
  // start, checking CRCs and contiguous offsets, truncates the file at the
  // first bad or partial batch, and rebuilds the indexes. Never trusts
  // unflushed data.
  Result<void, LogErrc> recover(RecoveryStats& stats);

  std::int64_t base_offset() const { return base_offset_; }
  std::int64_t next_offset() const { return next_offset_; }
  std::uint64_t size_bytes() const { return size_bytes_; }
  bool empty() const { return size_bytes_ == 0; }
  // Largest batch max timestamp seen (-1 when none).
  std::int64_t max_timestamp() const { return max_timestamp_; }
  // The timestamp segment.ms counts from: the first batch's max timestamp.
  std::optional<std::int64_t> rolling_timestamp() const { return rolling_timestamp_; }
  bool index_full() const { return offset_index_.full() || time_index_.full(); }
  const OffsetIndex& offset_index() const { return offset_index_; }
  const TimeIndex& time_index() const { return time_index_; }
  std::string log_path() const;

  // --- the aborted-transaction index -------------------------------------------
  const std::vector<AbortedTxn>& aborted_txns() const { return aborted_txns_; }
  // Whether the entries in memory are not known to match the log: the
  // segment was recovered (scanned), or its file did not parse.
  bool txn_index_needs_rebuild() const { return txn_index_needs_rebuild_; }
  bool has_txn_file() const { return txn_file_exists_; }
  // TransactionIndex.append: one abort marker stored in this segment.
  Result<void, LogErrc> append_aborted_txn(const AbortedTxn& t);
  // The entries as the partition's replay of this segment found them:
  // written (or the file removed when none) unless the file already holds
  // exactly these. Returns whether the file changed.
  Result<bool, LogErrc> rebuild_txn_index(std::vector<AbortedTxn> entries);

  // Appends whole batches with their final offsets (already validated). On
  // an error the segment is as before.
  Result<void, LogErrc> append(ByteView batches, const std::vector<BatchHeader>& headers);
  // The file position of the batch that contains `offset` or, when offset
  // falls in no batch, of the first batch after it; nullopt past the end.
  Result<std::optional<std::uint64_t>, LogErrc> find_position(std::int64_t offset);
  // A batch boundary a read ended at: the batches before `position` all end
  // below `next_offset`. Followers and consumers read on from where their
  // last read ended, so find_position starts its header scan at the latest
  // such boundary below the offset instead of at the sparse index entry
  // (~20 headers earlier); Kafka keeps the same for its log end and high
  // watermark (LogOffsetMetadata.relativePositionInSegment).
  void note_boundary(std::uint64_t position, std::int64_t next_offset);
  // The first batch at or after `position` whose max timestamp is >= target.
  Result<std::optional<BatchHeader>, LogErrc> find_timestamp(std::int64_t target_ms);
  // Calls fn with every batch header in order (no CRC check); stops early
  // at a header that does not read.
  Result<void, LogErrc> for_each_header(const std::function<void(const BatchHeader&)>& fn);
  // Up to n bytes at position, never past the segment's end.
  Result<Bytes, LogErrc> read(std::uint64_t position, std::uint64_t n);
  // The same bytes through sim::File::map (the live disk mmaps them and the
  // network sends them with sendfile; the simulated disk reads them as
  // read() does). Read the view before parking: a truncation may follow.
  Result<protocol::Records, LogErrc> map(std::uint64_t position, std::uint64_t n);
  // Drops the batches whose last offset is >= offset (whole batches) and
  // makes the cut durable. Returns the bytes dropped.
  Result<std::uint64_t, LogErrc> truncate_to(std::int64_t offset);
  // Makes the data durable.
  Result<void, LogErrc> fsync();
  // Seals the segment before a roll: final time index entry, index files
  // written and everything fsynced.
  Result<void, LogErrc> seal();
  // Deletes the segment's files (the .log first, so a crash in between
  // leaves stray index files, which open() removes).
  Result<void, LogErrc> remove_files();

 private:
  Segment(sim::Disk& disk, std::string dir, std::int64_t base_offset, const LogConfig& config,
          std::unique_ptr<sim::File> file);
  bool fits(const BatchHeader& h) const;
  void index_batch(const BatchHeader& h, std::uint64_t position);
  void reset_indexes();
  Result<std::optional<BatchHeader>, LogErrc> header_at(std::uint64_t position);
  // Where find_position's scan for `offset` may start: the index entry, or
  // a later noted boundary.
  std::uint64_t scan_start(std::int64_t offset) const;
  Result<protocol::BatchSpan, LogErrc> span_at(std::uint64_t position);  // position < size_bytes_
  using HeaderBytes = std::array<std::uint8_t, protocol::k_batch_header_bytes>;
  // The header's bytes at `position` (fewer at the end of the segment): how many.
  Result<std::size_t, LogErrc> read_header_bytes(std::uint64_t position, HeaderBytes& buf);
  Result<void, LogErrc> rebuild_from_headers(RecoveryStats& stats);
  Result<bool, LogErrc> load_index_files();
  Result<void, LogErrc> load_txn_index(RecoveryStats& stats);
  Result<void, LogErrc> truncate_txn_index(std::int64_t offset);
  std::string path(std::string_view suffix) const;

  sim::Disk& disk_;
  std::string dir_;
  std::int64_t base_offset_;
  const LogConfig& config_;
  std::unique_ptr<sim::File> file_;
  std::uint64_t size_bytes_ = 0;
  std::int64_t next_offset_;
  std::int64_t max_timestamp_ = -1;
  std::int64_t offset_of_max_timestamp_ = -1;
  std::optional<std::int64_t> rolling_timestamp_;
  std::uint64_t bytes_since_index_entry_ = 0;
  OffsetIndex offset_index_;
  TimeIndex time_index_;
  // note_boundary's last few (one per reader of a partition: its followers
  // and consumers), replaced in turn; cleared with the indexes, since only a
  // truncation or a rebuild moves bytes that are already written. {0, 0} is
  // the segment's start, always a boundary.
  struct Boundary {
    std::uint64_t position = 0;
    std::int64_t next_offset = 0;
  };
  std::array<Boundary, 4> boundaries_{};
  std::size_t next_boundary_ = 0;
  std::vector<AbortedTxn> aborted_txns_;
  std::vector<AbortedTxn> txn_file_entries_;  // what the file holds, as loaded
  std::unique_ptr<sim::File> txn_file_;       // opened at the first append
  bool txn_file_exists_ = false;
  bool txn_file_dirty_ = false;               // appended since the last fsync
  bool txn_index_needs_rebuild_ = false;
};

}  // namespace samsa::log
