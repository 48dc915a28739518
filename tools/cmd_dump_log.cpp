// `samsa dump-log PATH [--records]`: prints a segment's batches like
// Kafka's kafka-dump-log.sh. PATH is a .log, .index, .timeindex or .txnindex file, or
// a partition directory (every .log in it, in offset order). Works on live
// data directories and on sim disk images written out as files. The bytes
// are parsed by system/log's scan_batches, the same code recovery uses.
// Exit codes: 0 printed (also when it found corrupt batches: it says so),
// 2 the path cannot be read.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "system/log/index.h"
#include "system/log/names.h"
#include "system/log/scan.h"
#include "system/log/txn_index.h"
#include "system/protocol/record_batch.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

namespace fs = std::filesystem;
namespace plog = samsa::log;
namespace protocol = samsa::protocol;

std::optional<Bytes> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Keys and values as text, with anything unprintable escaped.
std::string printable(std::optional<ByteView> bytes) {
  if (!bytes) return "null";
  std::string out;
  for (std::uint8_t c : *bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

std::string_view codec_name(const protocol::BatchHeader& h) {
  static constexpr std::string_view names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
  return h.compression_known() ? names[h.attributes & 7] : "unknown";
}

void print_records(ByteView batch) {
  auto it = protocol::RecordIterator::open(batch);
  if (!it) {
    fmt::print("| records unreadable: {}\n", protocol::to_string(it.error()));
    return;
  }
  const auto& h = it->header();
  const char* time_name =
      h.timestamp_type() == protocol::TimestampType::log_append_time ? "LogAppendTime" : "CreateTime";
  while (true) {
    auto r = it->next();
    if (!r) {
      fmt::print("| records unreadable: {}\n", protocol::to_string(r.error()));
      return;
    }
    if (*r == nullptr) return;
    const protocol::RecordView& rec = **r;
    const std::int32_t sequence = h.base_sequence < 0 ? -1 : h.base_sequence + rec.offset_delta;
    fmt::print("| offset: {} {}: {} keySize: {} valueSize: {} sequence: {} headers: {} key: {} payload: {}\n",
               rec.offset, time_name, rec.timestamp,
               rec.key ? static_cast<std::int64_t>(rec.key->size()) : -1,
               rec.value ? static_cast<std::int64_t>(rec.value->size()) : -1, sequence,
               rec.headers.size(), printable(rec.key), printable(rec.value));
  }
}

void dump_segment(const fs::path& p, const Bytes& bytes, bool records) {
  fmt::print("Dumping {}\n", p.string());
  const auto base = plog::parse_offset_file_name(p.filename().string(), plog::k_log_suffix);
  if (base) fmt::print("Starting offset: {}\n", *base);
  const auto scan = plog::scan_batches(bytes, {.start_position = 0, .strict = false});
  std::size_t bad = 0;
  for (const auto& b : scan.batches) {
    const auto& h = b.header;
    bad += b.crc_ok ? 0 : 1;
    fmt::print(
        "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} "
        "producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} position: {} "
        "{}: {} maxTimestamp: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}\n",
        h.base_offset, h.last_offset(), h.records_count, h.base_sequence, h.last_sequence(),
        h.producer_id, h.producer_epoch, h.partition_leader_epoch, h.is_transactional(),
        h.is_control(), b.position,
        h.timestamp_type() == protocol::TimestampType::log_append_time ? "LogAppendTime" : "CreateTime",
        h.base_timestamp, h.max_timestamp, h.size_bytes(), h.magic, codec_name(h), h.crc, b.crc_ok);
    if (records) print_records(ByteView(bytes).subspan(b.position, h.size_bytes()));
  }
  if (bad > 0) fmt::print("Found {} batch(es) with a bad CRC\n", bad);
  if (scan.stop != plog::ScanStop::clean_end)
    fmt::print("Found {} invalid bytes at position {} of {}: {}\n", bytes.size() - scan.valid_bytes,
               scan.valid_bytes, p.filename().string(), plog::to_string(scan.stop));
}

template <class Index>
void dump_index(const fs::path& p, const Result<Index, plog::IndexError>& index) {
  fmt::print("Dumping {}\n", p.string());
  if (!index) {
    fmt::print("Index is not sane at entry {}: {}\n", index.error().entry, index.error().what);
    return;
  }
  for (const auto& e : index->entries()) {
    if constexpr (std::is_same_v<Index, plog::OffsetIndex>)
      fmt::print("offset: {} position: {}\n", e.offset, e.position);
    else
      fmt::print("timestamp: {} offset: {}\n", e.timestamp_ms, e.offset);
  }
}

// DumpLogSegments.dumpTxnIndex's lines.
void dump_txn_index(const fs::path& p, ByteView bytes, std::int64_t base) {
  fmt::print("Dumping {}\n", p.string());
  auto entries = plog::decode_txn_index(bytes, base);
  if (!entries) {
    fmt::print("Index is not sane at entry {}: {}\n", entries.error().entry, entries.error().what);
    return;
  }
  for (const auto& t : *entries)
    fmt::print("version: {} producerId: {} firstOffset: {} lastOffset: {} lastStableOffset: {}\n",
               plog::k_aborted_txn_version, t.producer_id, t.first_offset, t.last_offset,
               t.last_stable_offset);
}

int dump_file(const fs::path& p, bool records) {
  const auto bytes = read_file(p);
  if (!bytes) {
    fmt::print(stderr, "samsa dump-log: cannot read {}\n", p.string());
    return 2;
  }
  const std::string name = p.filename().string();
  if (auto base = plog::parse_offset_file_name(name, plog::k_index_suffix)) {
    dump_index(p, plog::OffsetIndex::decode(*bytes, *base, bytes->size() / 8 + 1, ~0ull));
  } else if (auto tbase = plog::parse_offset_file_name(name, plog::k_time_index_suffix)) {
    dump_index(p, plog::TimeIndex::decode(*bytes, *tbase, bytes->size() / 12 + 1));
  } else if (auto xbase = plog::parse_offset_file_name(name, plog::k_txn_index_suffix)) {
    dump_txn_index(p, *bytes, *xbase);
  } else {
    dump_segment(p, *bytes, records);
  }
  return 0;
}

int dump(const std::string& path, bool records) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return dump_file(path, records);
  std::vector<fs::path> logs;
  for (const auto& entry : fs::directory_iterator(path, ec))
    if (plog::parse_offset_file_name(entry.path().filename().string(), plog::k_log_suffix))
      logs.push_back(entry.path());
  if (ec) {
    fmt::print(stderr, "samsa dump-log: cannot list {}: {}\n", path, ec.message());
    return 2;
  }
  std::sort(logs.begin(), logs.end());  // 20-digit names sort like their offsets
  for (const auto& p : logs)
    if (const int rc = dump_file(p, records); rc != 0) return rc;
  return 0;
}

}  // namespace

Command add_dump_log_command(CLI::App& app) {
  struct Options {
    std::string path;
    bool records = false;
  };
  auto options = std::make_shared<Options>();
  Command c;
  c.app = app.add_subcommand("dump-log", "print the batches of a log segment (like kafka-dump-log)");
  c.app->add_option("path", options->path,
                    "a .log, .index, .timeindex or .txnindex file, or a partition directory")
      ->required();
  c.app->add_flag("--records", options->records, "also print each record's key and value");
  c.run = [options] { return dump(options->path, options->records); };
  return c;
}

}  // namespace samsa::tools
