#pragma once
// The simulated disk of one node. Each file has a page-cache image (what
// reads see) and a durable image (what a crash keeps for sure); writes land
// in the cache, fsync makes them durable. Unsynced writes are kept as ranges
// over the cache image plus the bytes they overwrote, so a file costs about
// its size however long it goes without fsync (Kafka's default flush policy).
// On a crash the disk keeps the durable image plus, per CrashMode, none, all,
// a torn prefix, or an independent subset of the unsynced writes. Faults:
// fsync errors, latent sector corruption (bytes flipped, found by CRCs on
// read), a full disk, stalls, latency per operation, and (ext4 without
// metadata journaling) names durable only after a directory fsync.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/disk.h"
#include "sim/runtime/runtime.h"

namespace samsa::sim {

class World;
struct SimNode;

// What a crash keeps of the unsynced writes (in issue order):
//   keep_none    none of them
//   keep_all     all of them
//   torn         a prefix; the first write not kept whole lands in whole
//                sectors up to a seeded cut, the sector the cut falls in holds
//                garbage (within the write's range), the rest is lost
//   keep_subset  each write (or truncate) kept or lost independently
enum class CrashMode : std::uint8_t { keep_none, keep_all, torn, keep_subset };
std::string_view to_string(CrashMode m);

struct DiskConfig {
  // Weights for choosing what a crash keeps of unsynced writes.
  std::uint32_t weight_keep_none = 1;
  std::uint32_t weight_keep_all = 1;
  std::uint32_t weight_torn = 2;
  std::uint32_t weight_keep_subset = 2;
  std::uint32_t sector_bytes = 4096;  // 512 or 4096: the unit a torn write tears in
  // ext4 without journaled metadata: creating, renaming and removing a file
  // are durable only after fsync_dir of its directory. Off: at once.
  bool dir_ops_need_fsync = false;
  // The kernel's writeback (vm.dirty_expire_centisecs): an unsynced write
  // older than this becomes durable on its own. 0: never (only fsync).
  Duration writeback_after{0};
  static constexpr std::uint64_t k_unlimited_bytes = 1ull << 40;
  std::uint64_t capacity_bytes = k_unlimited_bytes;
  Duration read_latency_max{0};  // uniform in [0, max]; 0 means no parking
  Duration write_latency_max{0};
  Duration fsync_latency_min{0};
  Duration fsync_latency_max{0};
};

struct Inode {
  Bytes cache;  // what reads see
  // One unsynced write or truncate: a range over `cache` plus the bytes it
  // overwrote (empty for appends), so the durable image is the cache with
  // the unsynced ops undone, newest first.
  // 40 bytes: under Kafka's default flush policy every write of a run stays
  // unsynced, and at 1,000 records/s these records were a sixth of its peak.
  struct Op {
    std::uint64_t offset;       // write: start; truncate: the new size
    std::uint64_t size_before;  // file size before the op
    Duration at;                // virtual time issued (writeback)
    std::uint32_t length;       // write: bytes written (under 4 GiB); truncate: 0
    bool is_truncate;
    // The old bytes at [offset, offset + overwritten_size()), below
    // size_before; null when there are none (an append).
    std::unique_ptr<std::uint8_t[]> overwritten;
    std::uint64_t overwritten_size() const {
      const std::uint64_t end = is_truncate ? size_before : std::min<std::uint64_t>(offset + length, size_before);
      return end > offset ? end - offset : 0;
    }
  };
  static_assert(sizeof(Op) == 40);
  std::vector<Op> unsynced;
  // The durable image when it is not the cache minus `unsynced`: only after a
  // failed fsync (Linux marks those pages clean; they never become durable).
  std::optional<Bytes> base;
};

class SimDisk final : public Disk {
 public:
  SimDisk(World& world, SimNode& node, DiskConfig config, Random rng);

  // --- Disk ----------------------------------------------------------------
  Result<std::unique_ptr<File>, DiskErrc> open(std::string_view path,
                                               OpenOptions options) override;
  Result<void, DiskErrc> mkdirs(std::string_view dir) override;
  Result<void, DiskErrc> remove(std::string_view path) override;
  Result<void, DiskErrc> rename(std::string_view from, std::string_view to) override;
  Result<std::vector<std::string>, DiskErrc> list(std::string_view dir) override;
  Result<void, DiskErrc> fsync_dir(std::string_view dir) override;
  bool exists(std::string_view path) override;
  bool is_directory(std::string_view path) override;

  // --- faults and inspection -------------------------------------------------
  // Applies the crash model to unsynced writes; returns the mode it chose.
  CrashMode crash();
  CrashMode crash(CrashMode mode);
  void fail_fsyncs(std::uint32_t count) { failing_fsyncs_ += count; }
  // Every operation of this disk (data and metadata) parks until `d` from
  // now: a stalled device, a full queue, a multipath failover.
  void stall(Duration d);
  void set_capacity(std::uint64_t bytes) { config_.capacity_bytes = bytes; }
  // Flips bits in [offset, offset + length) of both images of a file.
  bool corrupt(std::string_view path, std::uint64_t offset, std::uint64_t length);
  std::uint64_t used_bytes() const;
  // Durable contents of every file, for saving a failing run's disk.
  std::map<std::string, Bytes> durable_files() const;
  std::map<std::string, std::shared_ptr<Inode>>& files() { return files_; }
  // The durable image of one file (what keep_none would leave).
  static Bytes durable_image(const Inode& inode);
  // After the last run, for a run whose disks nobody saves: frees every
  // file's contents and undo records, so that the checks after the run
  // reuse that memory (at 1,000 records/s a third of the peak). The files
  // read as empty afterwards.
  void discard_contents();
  // Bytes held for unsynced writes beyond the cache images (overwritten
  // bytes, op records, failed-fsync bases): the cost of the crash model.
  std::uint64_t unsynced_overhead_bytes() const;

  // --- used by SimFile --------------------------------------------------------
  bool read_latency();  // true when it parked
  void write_latency();
  void fsync_latency();
  bool wait_stall();  // true when it parked
  void record_write(Inode& inode, std::uint64_t offset, ByteView data);
  void record_truncate(Inode& inode, std::uint64_t size_bytes);
  void fsynced(Inode& inode);
  void fsync_failed(Inode& inode);
  bool space_for(std::uint64_t old_size, std::uint64_t new_size) const;
  bool take_fsync_failure();
  SimNode& node() { return node_; }
  World& world() { return world_; }

 private:
  void crash_inode(Inode& inode, CrashMode mode);
  void tear(Bytes& image, const Inode::Op& op, ByteView data);
  void write_back(Inode& inode);
  void park_for(Duration d, const char* what);
  void unlink(const std::shared_ptr<Inode>& inode);

  World& world_;
  SimNode& node_;
  DiskConfig config_;
  Random rng_;
  std::map<std::string, std::shared_ptr<Inode>> files_;
  std::set<std::string> dirs_;
  // With dir_ops_need_fsync: the names a crash keeps (as of each directory's
  // last fsync_dir).
  std::map<std::string, std::shared_ptr<Inode>> durable_names_;
  Duration stalled_until_{0};
  std::vector<std::weak_ptr<Inode>> unlinked_;  // removed while open
  std::uint32_t failing_fsyncs_ = 0;
};

}  // namespace samsa::sim
