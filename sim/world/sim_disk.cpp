#include "sim/world/sim_disk.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "sim/world/world.h"

namespace samsa::sim {

namespace {

bool valid_path(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.back() == '/') return false;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string parent_of(std::string_view p) {
  const auto slash = p.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(p.substr(0, slash));
}

void apply_write(Bytes& image, std::uint64_t offset, ByteView data) {
  if (image.size() < offset + data.size()) image.resize(offset + data.size(), 0);
  std::copy(data.begin(), data.end(), image.begin() + static_cast<std::ptrdiff_t>(offset));
}

void apply_op(Bytes& image, const Inode::Op& op) {
  if (op.is_truncate)
    image.resize(op.size, 0);
  else
    apply_write(image, op.offset, op.data);
}

class SimFile final : public File {
 public:
  SimFile(SimDisk& disk, std::string path, std::shared_ptr<Inode> inode)
      : disk_(disk), path_(std::move(path)), inode_(std::move(inode)),
        incarnation_(disk.node().incarnation) {}

  Result<std::size_t, DiskErrc> read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (!alive()) return Err{DiskErrc::io_error};
    disk_.read_latency();
    if (!alive()) return Err{DiskErrc::io_error};
    const Bytes& img = inode_->cache;
    if (offset >= img.size()) return std::size_t{0};
    const std::size_t n = std::min<std::uint64_t>(out.size(), img.size() - offset);
    std::memcpy(out.data(), img.data() + offset, n);
    return n;
  }

  Result<void, DiskErrc> write(std::uint64_t offset, ByteView data) override {
    return write_at(offset, data);
  }

  Result<void, DiskErrc> append(ByteView data) override { return write_at(std::nullopt, data); }

  // `offset` nullopt appends: the end is taken after the latency, as
  // O_APPEND does, so concurrent appends never overwrite each other.
  Result<void, DiskErrc> write_at(std::optional<std::uint64_t> at, ByteView data) {
    if (!alive()) return Err{DiskErrc::io_error};
    disk_.write_latency();
    if (!alive()) return Err{DiskErrc::io_error};  // a crash while parked drops it
    const std::uint64_t offset = at ? *at : inode_->cache.size();
    const std::uint64_t old_size = inode_->cache.size();
    const std::uint64_t new_size = std::max<std::uint64_t>(old_size, offset + data.size());
    if (!disk_.space_for(old_size, new_size)) return Err{DiskErrc::no_space};
    apply_write(inode_->cache, offset, data);
    inode_->unsynced.push_back({offset, Bytes(data.begin(), data.end()), false, 0});
    return {};
  }

  Result<void, DiskErrc> truncate(std::uint64_t size_bytes) override {
    if (!alive()) return Err{DiskErrc::io_error};
    disk_.write_latency();
    if (!alive()) return Err{DiskErrc::io_error};
    if (!disk_.space_for(inode_->cache.size(), size_bytes)) return Err{DiskErrc::no_space};
    inode_->cache.resize(size_bytes, 0);
    inode_->unsynced.push_back({0, {}, true, size_bytes});
    return {};
  }

  Result<void, DiskErrc> fsync() override {
    if (!alive()) return Err{DiskErrc::io_error};
    disk_.fsync_latency();
    if (!alive()) return Err{DiskErrc::io_error};
    if (disk_.take_fsync_failure()) {
      // Linux after a failed fsync: the dirty pages are marked clean, so the
      // data stays readable but a later fsync will not make it durable.
      inode_->unsynced.clear();
      return Err{DiskErrc::io_error};
    }
    // Replay only what changed since the last fsync: the cost is the bytes
    // written, not the file size.
    for (const auto& op : inode_->unsynced) apply_op(inode_->durable, op);
    inode_->unsynced.clear();
    return {};
  }

  std::uint64_t size() const override { return inode_->cache.size(); }
  const std::string& path() const override { return path_; }

 private:
  // False while the caller unwinds after a crash (the op is dropped). A
  // handle of an ended incarnation used by a live fiber is a bug of ours.
  bool alive() {
    if (!disk_.world().check_alive()) return false;
    if (incarnation_ != disk_.node().incarnation) {
      if (std::uncaught_exceptions() > 0) return false;
      SAMSA_ASSERT(false, "a File handle of an ended incarnation was used");
    }
    return true;
  }

  SimDisk& disk_;
  std::string path_;
  std::shared_ptr<Inode> inode_;
  std::uint64_t incarnation_;
};

}  // namespace

std::string_view to_string(CrashMode m) {
  switch (m) {
    case CrashMode::keep_none: return "keep_none";
    case CrashMode::keep_all: return "keep_all";
    case CrashMode::torn: return "torn";
  }
  return "unknown";
}

SimDisk::SimDisk(World& world, SimNode& node, DiskConfig config, Random rng)
    : world_(world), node_(node), config_(config), rng_(rng) {}

void SimDisk::park_for(Duration d, const char* what) {
  Waiter w(what);
  world_.park(w, world_.mono_now(node_) + d);
}

void SimDisk::read_latency() {
  if (config_.read_latency_max.count() > 0)
    park_for(rng_.uniform(Duration{0}, config_.read_latency_max), "disk.read");
}

void SimDisk::write_latency() {
  if (config_.write_latency_max.count() > 0)
    park_for(rng_.uniform(Duration{0}, config_.write_latency_max), "disk.write");
}

void SimDisk::fsync_latency() {
  if (config_.fsync_latency_max.count() > 0)
    park_for(rng_.uniform(config_.fsync_latency_min, config_.fsync_latency_max), "disk.fsync");
}

bool SimDisk::space_for(std::uint64_t old_size, std::uint64_t new_size) const {
  if (new_size <= old_size) return true;
  return used_bytes() + (new_size - old_size) <= config_.capacity_bytes;
}

bool SimDisk::take_fsync_failure() {
  if (failing_fsyncs_ == 0) return false;
  --failing_fsyncs_;
  world_.trace().fold(TraceKind::fault, 20, static_cast<std::uint64_t>(node_.id));
  return true;
}

void SimDisk::unlink(const std::shared_ptr<Inode>& inode) {
  // An unlinked file with open handles keeps its blocks, as on POSIX.
  if (inode.use_count() > 1) unlinked_.push_back(inode);
}

std::uint64_t SimDisk::used_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [path, inode] : files_) total += inode->cache.size();
  for (const auto& weak : unlinked_)
    if (auto inode = weak.lock()) total += inode->cache.size();
  return total;
}

Result<std::unique_ptr<File>, DiskErrc> SimDisk::open(std::string_view path,
                                                      OpenOptions options) {
  // Dropped while unwinding after a crash: nothing of it may survive.
  if (!world_.check_alive()) return Err{DiskErrc::io_error};
  if (!valid_path(path)) return Err{DiskErrc::bad_path};
  if (dirs_.count(std::string(path))) return Err{DiskErrc::is_directory};
  const std::string parent = parent_of(path);
  auto it = files_.find(std::string(path));
  if (it == files_.end()) {
    if (!options.create) return Err{DiskErrc::not_found};
    if (!parent.empty() && !dirs_.count(parent)) return Err{DiskErrc::not_found};
    it = files_.emplace(std::string(path), std::make_shared<Inode>()).first;
  } else if (options.create && options.exclusive) {
    return Err{DiskErrc::exists};
  }
  auto file = std::make_unique<SimFile>(*this, std::string(path), it->second);
  if (options.truncate && it->second->cache.size() > 0) {
    if (auto r = file->truncate(0); !r) return Err{r.error()};
  }
  return std::unique_ptr<File>(std::move(file));
}

Result<void, DiskErrc> SimDisk::mkdirs(std::string_view dir) {
  // Dropped while unwinding after a crash: nothing of it may survive.
  if (!world_.check_alive()) return Err{DiskErrc::io_error};
  if (!valid_path(dir)) return Err{DiskErrc::bad_path};
  // Check every ancestor first: a failed mkdirs creates nothing.
  std::vector<std::string> chain;
  for (std::string d(dir); !d.empty(); d = parent_of(d)) {
    if (files_.count(d)) return Err{DiskErrc::exists};
    chain.push_back(d);
  }
  dirs_.insert(chain.begin(), chain.end());
  return {};
}

Result<void, DiskErrc> SimDisk::remove(std::string_view path) {
  // Dropped while unwinding after a crash: nothing of it may survive.
  if (!world_.check_alive()) return Err{DiskErrc::io_error};
  const std::string p(path);
  if (auto f = files_.find(p); f != files_.end()) {
    unlink(f->second);
    files_.erase(f);
    return {};
  }
  if (!dirs_.count(p)) return Err{DiskErrc::not_found};
  const std::string prefix = p + "/";
  auto f = files_.lower_bound(prefix);
  auto d = dirs_.lower_bound(prefix);
  if ((f != files_.end() && f->first.starts_with(prefix)) ||
      (d != dirs_.end() && d->starts_with(prefix)))
    return Err{DiskErrc::not_empty};
  dirs_.erase(p);
  return {};
}

Result<void, DiskErrc> SimDisk::rename(std::string_view from, std::string_view to) {
  // Dropped while unwinding after a crash: nothing of it may survive.
  if (!world_.check_alive()) return Err{DiskErrc::io_error};
  if (!valid_path(from) || !valid_path(to)) return Err{DiskErrc::bad_path};
  auto it = files_.find(std::string(from));
  if (it == files_.end()) return Err{DiskErrc::not_found};
  const std::string parent = parent_of(to);
  if (!parent.empty() && !dirs_.count(parent)) return Err{DiskErrc::not_found};
  if (dirs_.count(std::string(to))) return Err{DiskErrc::is_directory};
  auto inode = it->second;
  files_.erase(it);
  if (auto old = files_.find(std::string(to)); old != files_.end()) unlink(old->second);
  files_[std::string(to)] = std::move(inode);
  return {};
}

Result<std::vector<std::string>, DiskErrc> SimDisk::list(std::string_view dir) {
  // Dropped while unwinding after a crash: nothing of it may survive.
  if (!world_.check_alive()) return Err{DiskErrc::io_error};
  const std::string d(dir);
  if (!d.empty() && !dirs_.count(d)) return Err{DiskErrc::not_found};
  const std::string prefix = d.empty() ? "" : d + "/";
  std::set<std::string> names;
  auto add = [&](const std::string& p) {
    if (!p.starts_with(prefix) || p.size() == prefix.size()) return;
    std::string rest = p.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('/')));
  };
  for (const auto& [p, inode] : files_) add(p);
  for (const auto& p : dirs_) add(p);
  return std::vector<std::string>(names.begin(), names.end());
}

bool SimDisk::exists(std::string_view path) {
  const std::string p(path);
  return files_.count(p) > 0 || dirs_.count(p) > 0;
}

bool SimDisk::is_directory(std::string_view path) { return dirs_.count(std::string(path)) > 0; }

// --- faults -------------------------------------------------------------------------

CrashMode SimDisk::crash() {
  const std::uint64_t total = config_.weight_keep_none + config_.weight_keep_all + config_.weight_torn;
  SAMSA_ASSERT(total > 0);
  const std::uint64_t r = rng_.uniform(0, total - 1);
  if (r < config_.weight_keep_none) return crash(CrashMode::keep_none);
  if (r < config_.weight_keep_none + config_.weight_keep_all) return crash(CrashMode::keep_all);
  return crash(CrashMode::torn);
}

CrashMode SimDisk::crash(CrashMode mode) {
  for (auto& [path, inode] : files_) {
    if (inode->unsynced.empty()) continue;
    switch (mode) {
      case CrashMode::keep_none: break;
      case CrashMode::keep_all:
        for (const auto& op : inode->unsynced) apply_op(inode->durable, op);
        break;
      case CrashMode::torn: apply_torn(*inode); break;
    }
    inode->unsynced.clear();
    inode->cache = inode->durable;
  }
  return mode;
}

void SimDisk::apply_torn(Inode& inode) {
  // Keep a prefix of the unsynced operations in issue order; the first one
  // not kept whole may land partly (a torn write of a byte prefix).
  const std::size_t n = inode.unsynced.size();
  const std::size_t keep = static_cast<std::size_t>(rng_.uniform(0, n));
  for (std::size_t i = 0; i < keep; ++i) apply_op(inode.durable, inode.unsynced[i]);
  if (keep < n && !inode.unsynced[keep].is_truncate && rng_.chance(0.5)) {
    const auto& op = inode.unsynced[keep];
    const std::size_t part = static_cast<std::size_t>(rng_.uniform(0, op.data.size()));
    apply_write(inode.durable, op.offset, ByteView(op.data).first(part));
  }
}

bool SimDisk::corrupt(std::string_view path, std::uint64_t offset, std::uint64_t length) {
  auto it = files_.find(std::string(path));
  if (it == files_.end()) return false;
  // A latent sector error: the same bits flip in what is on the platter and
  // in what a read would return.
  bool any = false;
  Inode& inode = *it->second;
  for (std::uint64_t i = offset; i < offset + length; ++i) {
    const auto mask = static_cast<std::uint8_t>(1u << rng_.uniform(0, 7));
    if (i < inode.durable.size()) inode.durable[i] ^= mask, any = true;
    if (i < inode.cache.size()) inode.cache[i] ^= mask, any = true;
  }
  world_.trace().fold(TraceKind::fault, 21, offset);
  return any;
}

std::map<std::string, Bytes> SimDisk::durable_files() const {
  std::map<std::string, Bytes> out;
  for (const auto& [path, inode] : files_) out.emplace(path, inode->durable);
  return out;
}

}  // namespace samsa::sim
