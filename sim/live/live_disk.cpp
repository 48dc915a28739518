#include "sim/live/live_disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace samsa::sim {

namespace {

// Retries a syscall interrupted by a signal (the live world handles SIGTERM).
template <class F>
auto retry(F f) {
  for (;;) {
    auto r = f();
    if (r >= 0 || errno != EINTR) return r;
  }
}

// The descriptor is shared with operations queued on the I/O thread, so a
// file closed by one fiber while another's fsync of it is in flight never
// has its descriptor number reused under that fsync.
struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() { ::close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  const int fd;
};

constexpr std::uint64_t k_map_min_bytes = 16 * 1024;

// A range of a file mapped with mmap (Kafka's MappedByteBuffer for
// indexes); it keeps the descriptor open, so the live network can send the
// range with sendfile (FileChannel.transferTo) after the file was closed or
// removed.
class LiveMapping final : public Mapping {
 public:
  LiveMapping(std::shared_ptr<Fd> fd, void* base, std::size_t mapped, std::size_t skip,
              std::uint64_t offset, std::size_t n)
      : fd_(std::move(fd)), base_(base), mapped_(mapped) {
    bytes_ = ByteView(static_cast<const std::uint8_t*>(base) + skip, n);
    offset_ = offset;
  }
  ~LiveMapping() override { ::munmap(base_, mapped_); }
  int fd() const override { return fd_->fd; }

 private:
  std::shared_ptr<Fd> fd_;
  void* base_;
  std::size_t mapped_;
};

class LiveFile final : public File {
 public:
  LiveFile(int fd, std::string path, LiveDisk& disk)
      : fd_(std::make_shared<Fd>(fd)), path_(std::move(path)), disk_(disk) {}

  Result<std::size_t, DiskErrc> read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    const int fd = fd_->fd;
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = retry([&] {
        return ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      });
      if (n < 0) return Err{disk_errc_of(errno)};
      if (n == 0) break;  // end of file: a short read
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  // Maps no further than the file's end: a page past it would fault.
  // Ranges under k_map_min_bytes are read (File::map's default): a mapping
  // costs mmap, munmap and a page fault, and the network copies bytes that
  // short into its send buffer anyway (live_network.cpp, sendfile only from
  // 16 KiB). A follower's or a caught-up consumer's fetch is that short.
  Result<std::shared_ptr<const Mapping>, DiskErrc> map(std::uint64_t offset, std::size_t n) override {
    const std::uint64_t end = std::min<std::uint64_t>(offset + n, size());
    if (end <= offset) return std::shared_ptr<const Mapping>(std::make_shared<ReadMapping>(Bytes{}, offset));
    if (end - offset < k_map_min_bytes) return File::map(offset, static_cast<std::size_t>(end - offset));
    static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t start = offset - offset % page;
    const auto mapped = static_cast<std::size_t>(end - start);
    void* base = ::mmap(nullptr, mapped, PROT_READ, MAP_SHARED, fd_->fd, static_cast<off_t>(start));
    if (base == MAP_FAILED) return Err{disk_errc_of(errno)};
    return std::shared_ptr<const Mapping>(std::make_shared<LiveMapping>(
        fd_, base, mapped, static_cast<std::size_t>(offset - start), offset, static_cast<std::size_t>(end - offset)));
  }

  Result<void, DiskErrc> write(std::uint64_t offset, ByteView data) override {
    const int fd = fd_->fd;
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = retry([&] {
        return ::pwrite(fd, data.data() + done, data.size() - done,
                        static_cast<off_t>(offset + done));
      });
      if (n < 0) return Err{disk_errc_of(errno)};
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  // The end is read when the append runs; appends run on the world's
  // thread and fibers never interleave inside one, so appends never
  // overwrite each other.
  Result<void, DiskErrc> append(ByteView data) override { return write(size(), data); }

  Result<void, DiskErrc> truncate(std::uint64_t size_bytes) override {
    return disk_.blocking([fd = fd_, size_bytes]() -> Result<void, DiskErrc> {
      if (retry([&] { return ::ftruncate(fd->fd, static_cast<off_t>(size_bytes)); }) != 0)
        return Err{disk_errc_of(errno)};
      return {};
    });
  }

  // fdatasync writes the data and the metadata needed to read it back (the
  // size), which is what the seam's fsync promises.
  Result<void, DiskErrc> fsync() override {
    LiveDiskStats& stats = disk_.stats();
    return disk_.blocking(
        [fd = fd_, &stats]() -> Result<void, DiskErrc> {
          stats.file_fsyncs.fetch_add(1, std::memory_order_relaxed);
          if (retry([&] { return ::fdatasync(fd->fd); }) != 0) return Err{disk_errc_of(errno)};
          return {};
        },
        fd_.get());
  }

  std::uint64_t size() const override {
    struct stat st {};
    if (::fstat(fd_->fd, &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.st_size);
  }
  const std::string& path() const override { return path_; }

 private:
  std::shared_ptr<Fd> fd_;
  std::string path_;
  LiveDisk& disk_;
};

}  // namespace

DiskErrc disk_errc_of(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR: return DiskErrc::not_found;
    case EEXIST: return DiskErrc::exists;
    case ENOSPC:
    case EDQUOT: return DiskErrc::no_space;
    case EISDIR: return DiskErrc::is_directory;
    case ENOTEMPTY: return DiskErrc::not_empty;
    case ENAMETOOLONG: return DiskErrc::bad_path;
    default: return DiskErrc::io_error;
  }
}

LiveDisk::LiveDisk(std::string root, asio::io_context* io, Parker* parker)
    : root_(std::move(root)), parker_(parker) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (io != nullptr) io_thread_ = std::make_unique<DiskIoThread>(*io);
}

Result<void, DiskErrc> LiveDisk::blocking(std::function<Result<void, DiskErrc>()> op,
                                          const void* fsync_key) {
  if (!io_thread_) return op();
  // The result crosses threads as an int: 0, or 1 + the error.
  const int r = io_thread_->run(
      [&op]() -> int {
        auto res = op();
        return res ? 0 : 1 + static_cast<int>(res.error());
      },
      fsync_key);
  if (parker_ != nullptr) parker_->check_alive();
  if (r == 0) return {};
  return Err{static_cast<DiskErrc>(r - 1)};
}

std::string LiveDisk::real_path(std::string_view path) const {
  if (path.empty()) return root_;
  std::string out = root_;
  out += '/';
  out += path;
  return out;
}

Result<void, DiskErrc> LiveDisk::fsync_dir_real(const std::string& real) {
  const int fd = retry([&] { return ::open(real.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) return Err{disk_errc_of(errno)};
  stats_.dir_fsyncs.fetch_add(1, std::memory_order_relaxed);
  const int r = retry([&] { return ::fsync(fd); });
  const int err = errno;
  ::close(fd);
  if (r != 0) return Err{disk_errc_of(err)};
  std::lock_guard<std::mutex> lk(durable_mutex_);
  durable_dirs_.insert(real);
  return {};
}

void LiveDisk::changing(const std::string& real_dir) {
  std::lock_guard<std::mutex> lk(durable_mutex_);
  durable_dirs_.erase(real_dir);
}

Result<void, DiskErrc> LiveDisk::fsync_parent(std::string_view path) {
  return fsync_dir_real(real_path(parent_of(path)));
}

Result<std::unique_ptr<File>, DiskErrc> LiveDisk::open(std::string_view path, OpenOptions options) {
  if (!valid_path(path)) return Err{DiskErrc::bad_path};
  const std::string real = real_path(path);
  struct stat st {};
  const bool existed = ::stat(real.c_str(), &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) return Err{DiskErrc::is_directory};
  int flags = O_RDWR | O_CLOEXEC;
  if (options.create) flags |= O_CREAT;
  if (options.create && options.exclusive) flags |= O_EXCL;
  if (options.truncate) flags |= O_TRUNC;
  if (existed) {
    const int fd = retry([&] { return ::open(real.c_str(), flags, 0644); });
    if (fd < 0) return Err{disk_errc_of(errno)};
    return std::unique_ptr<File>(std::make_unique<LiveFile>(fd, std::string(path), *this));
  }
  // A created file's name is durable before open returns: the directory
  // fsync runs off the world's thread.
  // (The file is made on the I/O thread, so a Crashed thrown after the
  // park still closes its descriptor.)
  std::unique_ptr<File> file;
  auto made = blocking([&]() -> Result<void, DiskErrc> {
    changing(real_path(parent_of(path)));
    const int fd = retry([&] { return ::open(real.c_str(), flags, 0644); });
    if (fd < 0) return Err{disk_errc_of(errno)};
    file = std::make_unique<LiveFile>(fd, std::string(path), *this);
    return fsync_parent(path);
  });
  if (!made) return Err{made.error()};
  return file;
}

Result<void, DiskErrc> LiveDisk::mkdirs(std::string_view dir) {
  if (valid_path(dir) && is_directory(dir)) return {};  // nothing to make (or fsync)
  return blocking([&]() -> Result<void, DiskErrc> {
    if (!valid_path(dir)) return Err{DiskErrc::bad_path};
    // Check every ancestor first: a failed mkdirs creates nothing.
    std::vector<std::string> missing;
    for (std::string d(dir); !d.empty(); d = parent_of(d)) {
      struct stat st {};
      if (::stat(real_path(d).c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return Err{DiskErrc::exists};
        break;
      }
      missing.push_back(d);
    }
    std::reverse(missing.begin(), missing.end());
    for (const std::string& d : missing) {
      changing(real_path(parent_of(d)));
      changing(real_path(d));
      if (::mkdir(real_path(d).c_str(), 0755) != 0 && errno != EEXIST)
        return Err{disk_errc_of(errno)};
      if (auto r = fsync_parent(d); !r) return r;
    }
    return {};
  });
}

Result<void, DiskErrc> LiveDisk::remove(std::string_view path) {
  return blocking([&]() -> Result<void, DiskErrc> {
    if (!valid_path(path)) return Err{DiskErrc::bad_path};
    const std::string real = real_path(path);
    struct stat st {};
    if (::lstat(real.c_str(), &st) != 0) return Err{disk_errc_of(errno)};
    changing(real_path(parent_of(path)));
    if (S_ISDIR(st.st_mode)) changing(real);
    const int r = S_ISDIR(st.st_mode) ? ::rmdir(real.c_str()) : ::unlink(real.c_str());
    if (r != 0) return Err{errno == EEXIST ? DiskErrc::not_empty : disk_errc_of(errno)};
    return fsync_parent(path);
  });
}

Result<void, DiskErrc> LiveDisk::rename(std::string_view from, std::string_view to) {
  return blocking([&]() -> Result<void, DiskErrc> {
    if (!valid_path(from) || !valid_path(to)) return Err{DiskErrc::bad_path};
    const std::string real_from = real_path(from);
    const std::string real_to = real_path(to);
    struct stat st {};
    if (::stat(real_from.c_str(), &st) != 0) return Err{disk_errc_of(errno)};
    if (S_ISDIR(st.st_mode)) return Err{DiskErrc::is_directory};  // the seam renames files
    if (::stat(real_to.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Err{DiskErrc::is_directory};
    changing(real_path(parent_of(to)));
    changing(real_path(parent_of(from)));
    if (::rename(real_from.c_str(), real_to.c_str()) != 0) return Err{disk_errc_of(errno)};
    // Durable when it returns: the new name's directory, then the old one's.
    if (auto r = fsync_parent(to); !r) return r;
    if (parent_of(from) != parent_of(to)) return fsync_parent(from);
    return {};
  });
}

Result<std::vector<std::string>, DiskErrc> LiveDisk::list(std::string_view dir) {
  if (!dir.empty() && !valid_path(dir)) return Err{DiskErrc::bad_path};
  DIR* d = ::opendir(real_path(dir).c_str());
  if (d == nullptr) return Err{disk_errc_of(errno)};
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Result<void, DiskErrc> LiveDisk::fsync_dir(std::string_view dir) {
  return blocking([&]() -> Result<void, DiskErrc> {
    if (!dir.empty() && !valid_path(dir)) return Err{DiskErrc::bad_path};
    const std::string real = real_path(dir);
    bool durable;
    {
      std::lock_guard<std::mutex> lk(durable_mutex_);
      durable = durable_dirs_.count(real) > 0;
    }
    struct stat st {};
    if (durable && ::stat(real.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      stats_.dir_fsyncs_skipped.fetch_add(1, std::memory_order_relaxed);
      return {};
    }
    return fsync_dir_real(real);
  });
}

bool LiveDisk::exists(std::string_view path) {
  if (!valid_path(path)) return false;
  struct stat st {};
  return ::stat(real_path(path).c_str(), &st) == 0;
}

bool LiveDisk::is_directory(std::string_view path) {
  if (!path.empty() && !valid_path(path)) return false;
  struct stat st {};
  return ::stat(real_path(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace samsa::sim
