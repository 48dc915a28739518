#pragma once
// File names of a partition directory, as Kafka spells them:
// `<topic>-<partition>/00000000000000170410.log` (+ .index, .timeindex,
// .txnindex, .snapshot), named by the 20-digit base offset.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace samsa::log {

inline constexpr std::string_view k_log_suffix = ".log";
inline constexpr std::string_view k_index_suffix = ".index";
inline constexpr std::string_view k_time_index_suffix = ".timeindex";
inline constexpr std::string_view k_txn_index_suffix = ".txnindex";
inline constexpr std::string_view k_snapshot_suffix = ".snapshot";
inline constexpr std::string_view k_recovery_point_file = "recovery-point-offset-checkpoint";
inline constexpr std::string_view k_high_watermark_file = "replication-offset-checkpoint";
inline constexpr std::string_view k_leader_epoch_file = "leader-epoch-checkpoint";

// "topic-7"
std::string partition_dir_name(std::string_view topic, std::int32_t partition);
// Splits "my-topic-7" at the last '-' into ("my-topic", 7).
std::optional<std::pair<std::string, std::int32_t>> parse_partition_dir(std::string_view name);

// "00000000000000170410"
std::string offset_file_stem(std::int64_t offset);
// "00000000000000170410" + suffix
std::string offset_file_name(std::int64_t offset, std::string_view suffix);
// The offset of "<20 digits><suffix>", or nullopt for any other name.
std::optional<std::int64_t> parse_offset_file_name(std::string_view name, std::string_view suffix);

// "dir/name" ("name" when dir is empty).
std::string join_path(std::string_view dir, std::string_view name);

}  // namespace samsa::log
