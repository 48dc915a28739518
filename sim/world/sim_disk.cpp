#include "sim/world/sim_disk.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "sim/world/world.h"

namespace samsa::sim {

namespace {

void apply_write(Bytes& image, std::uint64_t offset, ByteView data) {
  if (image.size() < offset + data.size()) image.resize(offset + data.size(), 0);
  std::copy(data.begin(), data.end(), image.begin() + static_cast<std::ptrdiff_t>(offset));
}

void apply_op(Bytes& image, const Inode::Op& op, ByteView data) {
  if (op.is_truncate)
    image.resize(op.offset, 0);
  else
    apply_write(image, op.offset, data);
}

// Takes one op back out of an image that holds it (newest first).
void undo(Bytes& image, const Inode::Op& op) {
  image.resize(op.size_before, 0);
  if (const std::uint64_t n = op.overwritten_size(); n > 0)
    std::memcpy(image.data() + op.offset, op.overwritten.get(), n);
}

// The bytes of `image` at [offset, offset + n), for an op's undo record.
std::unique_ptr<std::uint8_t[]> copy_of(const Bytes& image, std::uint64_t offset, std::uint64_t n) {
  if (n == 0) return nullptr;
  auto out = std::make_unique_for_overwrite<std::uint8_t[]>(n);
  std::memcpy(out.get(), image.data() + offset, n);
  return out;
}

// The durable image before the unsynced ops, and the bytes each op wrote
// (rebuilt from the cache: a later op may have overwritten them there).
struct Unwound {
  Bytes durable;
  std::vector<Bytes> data;
};

Unwound unwind(const Inode& inode) {
  Bytes image = inode.cache;
  std::vector<Bytes> data(inode.unsynced.size());
  for (std::size_t k = inode.unsynced.size(); k-- > 0;) {
    const Inode::Op& op = inode.unsynced[k];
    if (!op.is_truncate) {
      const auto from = image.begin() + static_cast<std::ptrdiff_t>(op.offset);
      data[k].assign(from, from + static_cast<std::ptrdiff_t>(op.length));
    }
    undo(image, op);
  }
  return {inode.base ? *inode.base : std::move(image), std::move(data)};
}

class SimFile final : public File {
 public:
  SimFile(SimDisk& disk, std::string path, std::shared_ptr<Inode> inode)
      : disk_(disk), path_(std::move(path)), inode_(std::move(inode)),
        incarnation_(disk.node().incarnation) {}

  Result<std::size_t, DiskErrc> read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (!alive()) return Err{DiskErrc::io_error};
    // Nothing else runs unless this fiber parks, so only a park can have
    // crashed the node (log lookups read many headers: issue 14's profile).
    const bool stalled = disk_.wait_stall();
    const bool waited = disk_.read_latency();
    if ((stalled || waited) && !alive()) return Err{DiskErrc::io_error};
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
    disk_.wait_stall();
    disk_.write_latency();
    if (!alive()) return Err{DiskErrc::io_error};  // a crash while parked drops it
    const std::uint64_t offset = at ? *at : inode_->cache.size();
    const std::uint64_t old_size = inode_->cache.size();
    const std::uint64_t new_size = std::max<std::uint64_t>(old_size, offset + data.size());
    if (!disk_.space_for(old_size, new_size)) return Err{DiskErrc::no_space};
    disk_.record_write(*inode_, offset, data);
    return {};
  }

  Result<void, DiskErrc> truncate(std::uint64_t size_bytes) override {
    if (!alive()) return Err{DiskErrc::io_error};
    disk_.wait_stall();
    disk_.write_latency();
    if (!alive()) return Err{DiskErrc::io_error};
    if (!disk_.space_for(inode_->cache.size(), size_bytes)) return Err{DiskErrc::no_space};
    disk_.record_truncate(*inode_, size_bytes);
    return {};
  }

  Result<void, DiskErrc> fsync() override {
    if (!alive()) return Err{DiskErrc::io_error};
    disk_.wait_stall();
    disk_.fsync_latency();
    if (!alive()) return Err{DiskErrc::io_error};
    if (disk_.take_fsync_failure()) {
      // Linux after a failed fsync: the dirty pages are marked clean, so the
      // data stays readable but a later fsync will not make it durable.
      disk_.fsync_failed(*inode_);
      return Err{DiskErrc::io_error};
    }
    disk_.fsynced(*inode_);
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
    case CrashMode::keep_subset: return "keep_subset";
  }
  return "unknown";
}

SimDisk::SimDisk(World& world, SimNode& node, DiskConfig config, Random rng)
    : world_(world), node_(node), config_(config), rng_(rng) {
  SAMSA_ASSERT(config_.sector_bytes == 512 || config_.sector_bytes == 4096,
               "sector_bytes must be 512 or 4096");
}

// --- the page cache and what is unsynced ----------------------------------------------

void SimDisk::record_write(Inode& inode, std::uint64_t offset, ByteView data) {
  SAMSA_ASSERT(data.size() <= UINT32_MAX, "a single disk write of 4 GiB or more");
  Inode::Op op{offset, inode.cache.size(), world_.now(), static_cast<std::uint32_t>(data.size()), false, nullptr};
  op.overwritten = copy_of(inode.cache, offset, op.overwritten_size());
  apply_write(inode.cache, offset, data);
  inode.unsynced.push_back(std::move(op));
  world_.trace().fold(TraceKind::disk_write,
                      (static_cast<std::uint64_t>(node_.id) << 48) ^ offset,
                      XXH3_64bits(data.data(), data.size()), node_.id);
  write_back(inode);
}

void SimDisk::record_truncate(Inode& inode, std::uint64_t size_bytes) {
  Inode::Op op{size_bytes, inode.cache.size(), world_.now(), 0, true, nullptr};
  op.overwritten = copy_of(inode.cache, size_bytes, op.overwritten_size());
  inode.cache.resize(size_bytes, 0);
  inode.unsynced.push_back(std::move(op));
  world_.trace().fold(TraceKind::disk_write, static_cast<std::uint64_t>(node_.id) << 48,
                      size_bytes, node_.id);
  write_back(inode);
}

void SimDisk::write_back(Inode& inode) {
  // Dropping the oldest op from the undo records makes it durable. (After
  // a failed fsync the durable image is explicit; leave it to the next
  // fsync then.)
  if (config_.writeback_after.count() == 0 || inode.base) return;
  const Duration horizon = world_.now() - config_.writeback_after;
  std::size_t old = 0;
  while (old < inode.unsynced.size() && inode.unsynced[old].at <= horizon) ++old;
  if (old > 0)
    inode.unsynced.erase(inode.unsynced.begin(),
                         inode.unsynced.begin() + static_cast<std::ptrdiff_t>(old));
}

void SimDisk::fsynced(Inode& inode) {
  // The cost is the ops' records, not the file size, unless a failed fsync
  // left an explicit durable image: then only the later ops are added to it.
  if (inode.base && !inode.unsynced.empty()) {
    Unwound u = unwind(inode);
    for (std::size_t k = 0; k < inode.unsynced.size(); ++k)
      apply_op(*inode.base, inode.unsynced[k], u.data[k]);
  }
  inode.unsynced.clear();
}

void SimDisk::fsync_failed(Inode& inode) {
  if (!inode.unsynced.empty()) inode.base = unwind(inode).durable;
  inode.unsynced.clear();
}

Bytes SimDisk::durable_image(const Inode& inode) {
  if (inode.unsynced.empty()) return inode.base ? *inode.base : inode.cache;
  return unwind(inode).durable;
}

std::uint64_t SimDisk::unsynced_overhead_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [path, inode] : files_) {
    total += inode->unsynced.capacity() * sizeof(Inode::Op);
    for (const auto& op : inode->unsynced) total += op.overwritten_size();
    if (inode->base) total += inode->base->capacity();
  }
  return total;
}

void SimDisk::park_for(Duration d, const char* what) {
  Waiter w(what);
  world_.park(w, world_.mono_now(node_) + d);
}

void SimDisk::stall(Duration d) {
  stalled_until_ = std::max(stalled_until_, world_.now() + d);
  world_.trace().fold(TraceKind::fault, 22, static_cast<std::uint64_t>(d.count()));
}

bool SimDisk::wait_stall() {
  if (world_.now() >= stalled_until_) return false;
  Waiter w("disk.stall");
  world_.park(w, world_.mono_at(node_, stalled_until_));
  return true;
}

bool SimDisk::read_latency() {
  if (config_.read_latency_max.count() <= 0) return false;
  park_for(rng_.uniform(Duration{0}, config_.read_latency_max), "disk.read");
  return true;
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
  // The default capacity is beyond what an in-memory disk can hold, so only
  // a disk given a smaller one (set_capacity: a disk-full fault) pays for
  // summing its files on every write.
  if (config_.capacity_bytes >= DiskConfig::k_unlimited_bytes) return true;
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
  wait_stall();
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
  wait_stall();
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
  wait_stall();
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
  wait_stall();
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
  wait_stall();
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

Result<void, DiskErrc> SimDisk::fsync_dir(std::string_view dir) {
  if (!world_.check_alive()) return Err{DiskErrc::io_error};
  wait_stall();
  fsync_latency();
  if (!world_.check_alive()) return Err{DiskErrc::io_error};
  const std::string d(dir);
  if (!d.empty() && !valid_path(d)) return Err{DiskErrc::bad_path};
  if (!d.empty() && !dirs_.count(d)) return Err{DiskErrc::not_found};
  if (!config_.dir_ops_need_fsync) return {};
  // The directory's entries as they are now become what a crash keeps.
  for (auto it = durable_names_.begin(); it != durable_names_.end();)
    it = parent_of(it->first) == d ? durable_names_.erase(it) : std::next(it);
  for (const auto& [path, inode] : files_)
    if (parent_of(path) == d) durable_names_[path] = inode;
  world_.trace().fold(TraceKind::fault, 23, stable_hash(d));
  return {};
}

bool SimDisk::exists(std::string_view path) {
  const std::string p(path);
  return files_.count(p) > 0 || dirs_.count(p) > 0;
}

bool SimDisk::is_directory(std::string_view path) { return dirs_.count(std::string(path)) > 0; }

// --- faults -------------------------------------------------------------------------

CrashMode SimDisk::crash() {
  const std::uint64_t w[] = {config_.weight_keep_none, config_.weight_keep_all,
                             config_.weight_torn, config_.weight_keep_subset};
  const std::uint64_t total = w[0] + w[1] + w[2] + w[3];
  SAMSA_ASSERT(total > 0);
  std::uint64_t r = rng_.uniform(0, total - 1);
  for (std::uint8_t m = 0; m < 4; ++m) {
    if (r < w[m]) return crash(static_cast<CrashMode>(m));
    r -= w[m];
  }
  return crash(CrashMode::keep_subset);
}

CrashMode SimDisk::crash(CrashMode mode) {
  // Without a directory fsync a name never reached the platter (ext4 model).
  if (config_.dir_ops_need_fsync) files_ = durable_names_;
  for (auto& [path, inode] : files_) crash_inode(*inode, mode);
  return mode;
}

void SimDisk::crash_inode(Inode& inode, CrashMode mode) {
  if (inode.unsynced.empty()) {
    if (inode.base) inode.cache = *std::exchange(inode.base, std::nullopt);
    return;
  }
  if (mode == CrashMode::keep_all && !inode.base) {
    inode.unsynced.clear();  // the cache is the image
    return;
  }
  Unwound u = unwind(inode);
  Bytes image = std::move(u.durable);
  const std::size_t n = inode.unsynced.size();
  switch (mode) {
    case CrashMode::keep_none: break;
    case CrashMode::keep_all:
      for (std::size_t k = 0; k < n; ++k) apply_op(image, inode.unsynced[k], u.data[k]);
      break;
    case CrashMode::torn: {
      const std::size_t keep = static_cast<std::size_t>(rng_.uniform(0, n));
      for (std::size_t k = 0; k < keep; ++k) apply_op(image, inode.unsynced[k], u.data[k]);
      if (keep < n && !inode.unsynced[keep].is_truncate && rng_.chance(0.5))
        tear(image, inode.unsynced[keep], u.data[keep]);
      break;
    }
    case CrashMode::keep_subset:
      for (std::size_t k = 0; k < n; ++k)
        if (rng_.chance(0.5)) apply_op(image, inode.unsynced[k], u.data[k]);
      break;
  }
  inode.cache = std::move(image);
  inode.unsynced.clear();
  inode.base.reset();
}

void SimDisk::tear(Bytes& image, const Inode::Op& op, ByteView data) {
  // The write reached the platter in whole sectors up to a cut; the sector
  // the cut falls in holds garbage (only within the write's own range: the
  // bytes before it in that sector were there already); the rest is lost.
  const std::uint64_t sector = config_.sector_bytes;
  const std::uint64_t cut = op.offset + rng_.uniform(0, op.length);
  const std::uint64_t whole_end = std::max(op.offset, cut / sector * sector);
  apply_write(image, op.offset, data.first(whole_end - op.offset));
  if (cut == whole_end) return;
  const std::uint64_t torn_end = std::min(op.offset + op.length, (cut / sector + 1) * sector);
  Bytes garbage(torn_end - whole_end);
  for (auto& b : garbage) b = static_cast<std::uint8_t>(rng_.uniform(0, 255));
  apply_write(image, whole_end, garbage);
}

bool SimDisk::corrupt(std::string_view path, std::uint64_t offset, std::uint64_t length) {
  auto it = files_.find(std::string(path));
  if (it == files_.end()) return false;
  // A latent sector error: the same bits flip in what is on the platter and
  // in what a read would return (so in every image and undo record).
  bool any = false;
  Inode& inode = *it->second;
  auto flip = [](Inode::Op& op, std::uint64_t i, std::uint8_t mask) {
    if (i >= op.offset && i - op.offset < op.overwritten_size()) op.overwritten[i - op.offset] ^= mask;
  };
  for (std::uint64_t i = offset; i < offset + length; ++i) {
    const auto mask = static_cast<std::uint8_t>(1u << rng_.uniform(0, 7));
    if (i < inode.cache.size()) inode.cache[i] ^= mask, any = true;
    if (inode.base && i < inode.base->size()) (*inode.base)[i] ^= mask, any = true;
    for (auto& op : inode.unsynced) flip(op, i, mask);
  }
  world_.trace().fold(TraceKind::fault, 21, offset);
  return any;
}

void SimDisk::discard_contents() {
  auto discard = [](Inode& inode) {
    Bytes().swap(inode.cache);
    std::vector<Inode::Op>().swap(inode.unsynced);
    inode.base.reset();
  };
  for (auto& [path, inode] : files_) discard(*inode);
  for (auto& [path, inode] : durable_names_) discard(*inode);
  for (auto& weak : unlinked_)
    if (auto inode = weak.lock()) discard(*inode);
}

std::map<std::string, Bytes> SimDisk::durable_files() const {
  std::map<std::string, Bytes> out;
  for (const auto& [path, inode] : config_.dir_ops_need_fsync ? durable_names_ : files_)
    out.emplace(path, durable_image(*inode));
  return out;
}

}  // namespace samsa::sim
