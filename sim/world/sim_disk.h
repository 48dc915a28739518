#pragma once
// The simulated disk of one node. Each file has a durable image and a
// page-cache image; writes land in the cache, fsync promotes them. On a crash
// the disk keeps the durable image plus none, all, or a seeded torn prefix
// of the unsynced writes (in the order they were issued). Faults: fsync
// errors, latent sector corruption (bytes flipped, found by CRCs on read),
// a full disk, and latency per operation.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/disk.h"
#include "sim/runtime/runtime.h"

namespace samsa::sim {

class World;
struct SimNode;

enum class CrashMode : std::uint8_t { keep_none, keep_all, torn };
std::string_view to_string(CrashMode m);

struct DiskConfig {
  // Weights for choosing what a crash keeps of unsynced writes.
  std::uint32_t weight_keep_none = 1;
  std::uint32_t weight_keep_all = 1;
  std::uint32_t weight_torn = 2;
  std::uint64_t capacity_bytes = 1ull << 40;
  Duration read_latency_max{0};  // uniform in [0, max]; 0 means no parking
  Duration write_latency_max{0};
  Duration fsync_latency_min{0};
  Duration fsync_latency_max{0};
};

struct Inode {
  Bytes durable;
  Bytes cache;
  struct Op {
    std::uint64_t offset;
    Bytes data;          // empty with is_truncate
    bool is_truncate;
    std::uint64_t size;  // for truncate
  };
  std::vector<Op> unsynced;
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
  bool exists(std::string_view path) override;
  bool is_directory(std::string_view path) override;

  // --- faults and inspection -------------------------------------------------
  // Applies the crash model to unsynced writes; returns the mode it chose.
  CrashMode crash();
  CrashMode crash(CrashMode mode);
  void fail_fsyncs(std::uint32_t count) { failing_fsyncs_ += count; }
  void set_capacity(std::uint64_t bytes) { config_.capacity_bytes = bytes; }
  // Flips bits in [offset, offset + length) of both images of a file.
  bool corrupt(std::string_view path, std::uint64_t offset, std::uint64_t length);
  std::uint64_t used_bytes() const;
  // Durable contents of every file, for saving a failing run's disk.
  std::map<std::string, Bytes> durable_files() const;
  std::map<std::string, std::shared_ptr<Inode>>& files() { return files_; }

  // --- used by SimFile --------------------------------------------------------
  void read_latency();
  void write_latency();
  void fsync_latency();
  bool space_for(std::uint64_t old_size, std::uint64_t new_size) const;
  bool take_fsync_failure();
  SimNode& node() { return node_; }
  World& world() { return world_; }

 private:
  void apply_torn(Inode& inode);
  void park_for(Duration d, const char* what);
  void unlink(const std::shared_ptr<Inode>& inode);

  World& world_;
  SimNode& node_;
  DiskConfig config_;
  Random rng_;
  std::map<std::string, std::shared_ptr<Inode>> files_;
  std::set<std::string> dirs_;
  std::vector<std::weak_ptr<Inode>> unlinked_;  // removed while open
  std::uint32_t failing_fsyncs_ = 0;
};

}  // namespace samsa::sim
