#include "sim/runtime/disk.h"
#include "sim/runtime/network.h"

namespace samsa::sim {

std::string_view to_string(NetErrc e) {
  switch (e) {
    case NetErrc::refused: return "connection refused";
    case NetErrc::timed_out: return "timed out";
    case NetErrc::reset: return "connection reset";
    case NetErrc::closed: return "closed";
    case NetErrc::address_in_use: return "address in use";
    case NetErrc::bad_frame: return "bad frame";
  }
  return "unknown network error";
}

std::string_view to_string(DiskErrc e) {
  switch (e) {
    case DiskErrc::not_found: return "not found";
    case DiskErrc::exists: return "exists";
    case DiskErrc::io_error: return "I/O error";
    case DiskErrc::no_space: return "no space left on device";
    case DiskErrc::bad_path: return "bad path";
    case DiskErrc::is_directory: return "is a directory";
    case DiskErrc::not_empty: return "directory not empty";
  }
  return "unknown disk error";
}

void put_frame_size(Bytes& frame, std::size_t at) {
  SAMSA_ASSERT(frame.size() >= at + 4);
  const auto n = static_cast<std::uint32_t>(frame.size() - at - 4);
  frame[at] = static_cast<std::uint8_t>(n >> 24);
  frame[at + 1] = static_cast<std::uint8_t>(n >> 16);
  frame[at + 2] = static_cast<std::uint8_t>(n >> 8);
  frame[at + 3] = static_cast<std::uint8_t>(n);
}

std::optional<std::uint32_t> frame_size(ByteView frame) {
  if (frame.size() < 4) return std::nullopt;
  return (std::uint32_t{frame[0]} << 24) | (std::uint32_t{frame[1]} << 16) |
         (std::uint32_t{frame[2]} << 8) | std::uint32_t{frame[3]};
}

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

Result<Bytes, DiskErrc> read_all(Disk& disk, std::string_view path) {
  auto file = disk.open(path);
  if (!file) return Err{file.error()};
  Bytes out((*file)->size());
  auto n = (*file)->read(0, out);
  if (!n) return Err{n.error()};
  out.resize(*n);
  return out;
}

Result<std::shared_ptr<const Mapping>, DiskErrc> File::map(std::uint64_t offset, std::size_t n) {
  Bytes out(n);
  auto got = read(offset, out);
  if (!got) return Err{got.error()};
  out.resize(*got);
  return std::shared_ptr<const Mapping>(std::make_shared<ReadMapping>(std::move(out), offset));
}

Result<std::shared_ptr<const Mapping>, DiskErrc> map_all(Disk& disk, std::string_view path) {
  auto file = disk.open(path);
  if (!file) return Err{file.error()};
  return (*file)->map(0, (*file)->size());
}

Bytes FrameParts::flatten() const {
  Bytes out;
  out.reserve(size());
  std::size_t from = 0;
  for (const auto& s : splices) {
    out.insert(out.end(), bytes.begin() + static_cast<std::ptrdiff_t>(from),
               bytes.begin() + static_cast<std::ptrdiff_t>(s.at));
    out.insert(out.end(), s.view.begin(), s.view.end());
    from = s.at;
  }
  out.insert(out.end(), bytes.begin() + static_cast<std::ptrdiff_t>(from), bytes.end());
  return out;
}

std::size_t FrameParts::size() const {
  std::size_t n = bytes.size();
  for (const auto& s : splices) n += s.view.size();
  return n;
}

Result<void, NetErrc> Connection::send_parts(const FrameParts& frame) {
  if (frame.splices.empty()) return send(frame.bytes);
  return send(frame.flatten());
}

Result<void, DiskErrc> write_atomic(Disk& disk, std::string_view path, ByteView data) {
  const std::string tmp = std::string(path) + ".tmp";
  {
    auto file = disk.open(tmp, {.create = true, .truncate = true});
    if (!file) return Err{file.error()};
    if (auto r = (*file)->append(data); !r) return r;
    if (auto r = (*file)->fsync(); !r) return r;
  }
  if (auto r = disk.rename(tmp, path); !r) return r;
  return disk.fsync_dir(parent_of(path));
}

}  // namespace samsa::sim
