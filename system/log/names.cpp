#include "system/log/names.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

namespace samsa::log {

std::string partition_dir_name(std::string_view topic, std::int32_t partition) {
  return fmt::format("{}-{}", topic, partition);
}

std::optional<std::pair<std::string, std::int32_t>> parse_partition_dir(std::string_view name) {
  const auto dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  std::int32_t partition = 0;
  const char* first = name.data() + dash + 1;
  const char* last = name.data() + name.size();
  const auto [end, ec] = std::from_chars(first, last, partition);
  if (ec != std::errc{} || end != last || partition < 0) return std::nullopt;
  return std::pair{std::string(name.substr(0, dash)), partition};
}

std::string offset_file_stem(std::int64_t offset) { return fmt::format("{:020d}", offset); }

std::string offset_file_name(std::int64_t offset, std::string_view suffix) {
  return offset_file_stem(offset) + std::string(suffix);
}

std::optional<std::int64_t> parse_offset_file_name(std::string_view name, std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  std::int64_t offset = 0;
  for (char c : name.substr(0, 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    if (offset > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10) return std::nullopt;
    offset = offset * 10 + (c - '0');
  }
  return offset;
}

std::string join_path(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  return fmt::format("{}/{}", dir, name);
}

}  // namespace samsa::log
