#pragma once
// The disk seam on POSIX files under one root directory per node: pread and
// pwrite, fdatasync for File::fsync, and metadata made durable before the
// call returns, as the seam promises: creating, renaming and removing a file
// fsyncs its parent directory (both parents for a rename). Paths are checked
// like the simulated disk's (relative, no '.' or '..' parts), so a node can
// never reach outside its root.
#include <cstdint>
#include <memory>
#include <string>

#include "sim/runtime/disk.h"

namespace samsa::sim {

struct LiveDiskStats {
  std::uint64_t file_fsyncs = 0;
  std::uint64_t dir_fsyncs = 0;
};

class LiveDisk final : public Disk {
 public:
  // `root` must exist (LiveWorld::add_node creates it).
  explicit LiveDisk(std::string root);

  Result<std::unique_ptr<File>, DiskErrc> open(std::string_view path,
                                               OpenOptions options) override;
  Result<void, DiskErrc> mkdirs(std::string_view dir) override;
  Result<void, DiskErrc> remove(std::string_view path) override;
  Result<void, DiskErrc> rename(std::string_view from, std::string_view to) override;
  Result<std::vector<std::string>, DiskErrc> list(std::string_view dir) override;
  // fsync(2) of the directory. The calls above already made their own
  // changes durable; this covers what the seam's users expect of Kafka's
  // Utils.flushDir (and costs one more directory fsync).
  Result<void, DiskErrc> fsync_dir(std::string_view dir) override;
  bool exists(std::string_view path) override;
  bool is_directory(std::string_view path) override;

  const std::string& root() const { return root_; }
  // The real path of a seam path (root + "/" + path; the root for "").
  std::string real_path(std::string_view path) const;
  LiveDiskStats& stats() { return stats_; }

 private:
  Result<void, DiskErrc> fsync_parent(std::string_view path);
  Result<void, DiskErrc> fsync_dir_real(const std::string& real);

  std::string root_;
  LiveDiskStats stats_;
};

// Maps an errno value to the seam's disk error.
DiskErrc disk_errc_of(int err);

}  // namespace samsa::sim
