#pragma once
// The disk seam on POSIX files under one root directory per node: pread and
// pwrite, fdatasync for File::fsync, and metadata made durable before the
// call returns, as the seam promises: creating, renaming and removing a file
// fsyncs its parent directory (both parents for a rename). Paths are checked
// like the simulated disk's (relative, no '.' or '..' parts), so a node can
// never reach outside its root.
//
// With an io_context (as every LiveWorld node has), the operations that can
// block for milliseconds run on the disk's own I/O thread (disk_io.h) while
// the calling fiber parks and the node's other fibers, and the other nodes
// of the process, go on: fsync, truncate, and the metadata operations that
// fsync a directory (creating open, mkdirs, remove, rename, fsync_dir).
// Reads and writes stay on the world's thread: they copy to and from the
// page cache in microseconds, less than the hand-off to a thread costs.
#include <asio/io_context.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "sim/live/disk_io.h"
#include "sim/runtime/disk.h"
#include "sim/runtime/sync.h"

namespace samsa::sim {

// Counted on whichever thread makes the call.
struct LiveDiskStats {
  std::atomic<std::uint64_t> file_fsyncs{0};
  std::atomic<std::uint64_t> dir_fsyncs{0};
  // Disk::fsync_dir calls on a directory already durable (nothing to do).
  std::atomic<std::uint64_t> dir_fsyncs_skipped{0};
};

class LiveDisk final : public Disk {
 public:
  // `root` must exist (LiveWorld::add_node creates it). Without `io` every
  // operation runs on the calling thread; with it (and the parker of the
  // world whose thread runs `io`), blocking ones run on an I/O thread.
  explicit LiveDisk(std::string root, asio::io_context* io = nullptr, Parker* parker = nullptr);

  Result<std::unique_ptr<File>, DiskErrc> open(std::string_view path,
                                               OpenOptions options) override;
  Result<void, DiskErrc> mkdirs(std::string_view dir) override;
  Result<void, DiskErrc> remove(std::string_view path) override;
  Result<void, DiskErrc> rename(std::string_view from, std::string_view to) override;
  Result<std::vector<std::string>, DiskErrc> list(std::string_view dir) override;
  // fsync(2) of the directory (what the seam's users expect of Kafka's
  // Utils.flushDir). The calls above already made their own changes durable,
  // each with an fsync of the directory it changed, so a directory this disk
  // fsynced and has not changed since is not fsynced again: write_atomic's
  // fsync_dir right after its rename cost a second directory fsync, up to
  // several ms on a busy disk, in checkpoints written under a partition's
  // lock. A directory this disk has not fsynced yet (changed by an earlier
  // process, say) is.
  Result<void, DiskErrc> fsync_dir(std::string_view dir) override;
  bool exists(std::string_view path) override;
  bool is_directory(std::string_view path) override;

  const std::string& root() const { return root_; }
  // The real path of a seam path (root + "/" + path; the root for "").
  std::string real_path(std::string_view path) const;
  LiveDiskStats& stats() { return stats_; }
  // The I/O thread's counters (nullptr without one).
  const DiskIoStats* io_stats() const { return io_thread_ ? &io_thread_->stats() : nullptr; }

  // Runs `op` where blocking is allowed: on the I/O thread (parking the
  // calling fiber) when there is one, else right here. `fsync_key` marks an
  // fsync of one file, for group commit. After a park, a fiber whose node
  // was shut down meanwhile throws Crashed (the operation did happen).
  Result<void, DiskErrc> blocking(std::function<Result<void, DiskErrc>()> op,
                                  const void* fsync_key = nullptr);

 private:
  Result<void, DiskErrc> fsync_parent(std::string_view path);
  Result<void, DiskErrc> fsync_dir_real(const std::string& real);
  // The directory's entries are about to change: no longer known durable.
  void changing(const std::string& real_dir);

  std::string root_;
  LiveDiskStats stats_;
  Parker* parker_ = nullptr;
  std::unique_ptr<DiskIoThread> io_thread_;
  // Real paths of directories fsynced by this disk and unchanged since.
  std::mutex durable_mutex_;
  std::set<std::string> durable_dirs_;
};

// Maps an errno value to the seam's disk error.
DiskErrc disk_errc_of(int err);

}  // namespace samsa::sim
