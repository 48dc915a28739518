#pragma once
// The disk as actors see it: a node's own files, addressed by '/'-separated
// paths relative to the node's data directory. Writes land in the page cache;
// fsync makes them durable. A crash keeps the durable image plus whatever the
// world's fault model keeps of unsynced writes. Creating, renaming and
// removing files are durable when they return (metadata journaling), unless
// the world models ext4 without it: then only after fsync_dir of the parent
// directory. Code that needs a name to survive a crash calls fsync_dir, as
// Kafka's Utils.atomicMoveWithFallback and Utils.flushDir do.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"

namespace samsa::sim {

enum class DiskErrc : std::uint8_t {
  not_found,
  exists,
  io_error,   // EIO: a failed fsync or unreadable sector
  no_space,   // ENOSPC: the disk is full
  bad_path,   // empty, absolute, or with '..' components
  is_directory,
  not_empty,
};

std::string_view to_string(DiskErrc e);

struct OpenOptions {
  bool create = false;     // create when missing
  bool exclusive = false;  // with create: fail with `exists` if present
  bool truncate = false;   // drop the contents on open
};

// A range of a file held in memory (File::map). Kafka reads its indexes
// through mmap and sends log bytes with FileChannel.transferTo; the live disk
// maps the range (mmap) and keeps the file open, so the live network can send
// a view of it with sendfile(2) from fd(). The simulated disk reads the range
// into memory (one read, as File::read). The bytes stay valid while the
// mapping lives; a live mapping of a file truncated below them must not be
// read (SIGBUS), so code reads a mapping only before it parks again.
class Mapping {
 public:
  virtual ~Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ByteView bytes() const { return bytes_; }
  // The file offset bytes()[0] came from.
  std::uint64_t offset() const { return offset_; }
  // A descriptor of the file, open while the mapping lives; -1 when the
  // bytes were read into memory (nothing to send from).
  virtual int fd() const { return -1; }

 protected:
  Mapping() = default;
  ByteView bytes_;
  std::uint64_t offset_ = 0;
};

// A mapping that holds the bytes it read.
class ReadMapping final : public Mapping {
 public:
  ReadMapping(Bytes data, std::uint64_t offset) : data_(std::move(data)) {
    bytes_ = data_;
    offset_ = offset;
  }

 private:
  Bytes data_;
};

class File {
 public:
  virtual ~File() = default;
  // Reads up to out.size() bytes at offset; returns how many (short at EOF).
  virtual Result<std::size_t, DiskErrc> read(std::uint64_t offset,
                                             std::span<std::uint8_t> out) = 0;
  // Up to n bytes at offset (short at EOF) held in memory; the default reads
  // them (one read() call, so a simulated trace is the same as a read's).
  virtual Result<std::shared_ptr<const Mapping>, DiskErrc> map(std::uint64_t offset, std::size_t n);
  virtual Result<void, DiskErrc> write(std::uint64_t offset, ByteView data) = 0;
  virtual Result<void, DiskErrc> append(ByteView data) = 0;
  virtual Result<void, DiskErrc> truncate(std::uint64_t size_bytes) = 0;
  virtual Result<void, DiskErrc> fsync() = 0;
  virtual std::uint64_t size() const = 0;
  virtual const std::string& path() const = 0;
};

class Disk {
 public:
  virtual ~Disk() = default;
  virtual Result<std::unique_ptr<File>, DiskErrc> open(std::string_view path,
                                                       OpenOptions options = {}) = 0;
  virtual Result<void, DiskErrc> mkdirs(std::string_view dir) = 0;
  // Removes a file, or an empty directory.
  virtual Result<void, DiskErrc> remove(std::string_view path) = 0;
  // Atomically renames a file, replacing `to` if it exists.
  virtual Result<void, DiskErrc> rename(std::string_view from, std::string_view to) = 0;
  // Names (not paths) of the entries directly in `dir`, sorted; "" is the root.
  virtual Result<std::vector<std::string>, DiskErrc> list(std::string_view dir) = 0;
  // Makes the entries of `dir` ("" is the root) durable: files created in,
  // renamed into or removed from it before the call.
  virtual Result<void, DiskErrc> fsync_dir(std::string_view dir) = 0;
  virtual bool exists(std::string_view path) = 0;
  virtual bool is_directory(std::string_view path) = 0;
};

// Reads a whole file into memory (convenience for small side files).
// A path both disks accept: relative, '/'-separated, no empty, "." or ".."
// component (else bad_path).
bool valid_path(std::string_view p);
// The directory part of a path ("" for a name in the data directory's root).
std::string parent_of(std::string_view p);

Result<Bytes, DiskErrc> read_all(Disk& disk, std::string_view path);
// A whole file through File::map (Kafka's mmapped index files); the same
// disk calls as read_all.
Result<std::shared_ptr<const Mapping>, DiskErrc> map_all(Disk& disk, std::string_view path);
// Writes a whole file atomically and durably: write tmp, fsync, rename,
// fsync the parent directory (Kafka's Utils.atomicMoveWithFallback).
Result<void, DiskErrc> write_atomic(Disk& disk, std::string_view path, ByteView data);

}  // namespace samsa::sim
