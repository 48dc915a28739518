#pragma once
// Durability of the coordinator: a transaction log and a snapshot on the
// runtime disk. Every transaction is appended and fsynced before the server
// acknowledges it; a snapshot (written atomically) periodically replaces the
// log. Recovery = the snapshot plus the logged transactions after its zxid;
// a torn or corrupt tail (CRC mismatch) is cut off: it was never acknowledged.
#include <memory>
#include <string>

#include "sim/runtime/disk.h"
#include "system/coord/state_machine.h"

namespace samsa::coord {

std::uint32_t crc32(ByteView data);

Bytes encode_txn(const Txn& t);
Result<Txn, ParseError> decode_txn(ByteView payload);

struct RecoveryInfo {
  std::size_t snapshot_nodes = 0;
  std::size_t txns_replayed = 0;
  std::uint64_t torn_bytes = 0;  // cut off the log's tail
};

class TxnLog {
 public:
  TxnLog(sim::Disk& disk, std::string dir) : disk_(disk), dir_(std::move(dir)) {}

  // Rebuilds the state from disk (an empty state when there is nothing) and
  // opens the log for appending.
  Result<StateMachine, std::string> recover(RecoveryInfo* info = nullptr);
  // Appends and fsyncs one transaction.
  Result<void, sim::DiskErrc> append(const Txn& t);
  // Writes a snapshot of `sm` and empties the log.
  Result<void, sim::DiskErrc> snapshot(const StateMachine& sm);
  std::uint64_t log_bytes() const { return log_ ? log_->size() : 0; }

 private:
  std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }
  sim::Disk& disk_;
  std::string dir_;
  std::unique_ptr<sim::File> log_;
};

}  // namespace samsa::coord
