// A failing run's sim disk, written out as real files (the disk image
// export that `samsa dump-log` reads), and parsed back with the same
// scan_batches that `samsa dump-log` and recovery use.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "scenarios/disk_image.h"
#include "system/log/names.h"
#include "system/log/scan.h"
#include "tests/system/log/log_rig.h"

using namespace samsa::testing;
using namespace samsa::log;
namespace fs = std::filesystem;

namespace {

Bytes read_real(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("an exported sim disk image parses back batch by batch", "[log]") {
  LogRig rig(12);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.segment_bytes = 500;  // two 217-byte batches a segment
    c.index_interval_bytes = 100;
    auto log = open_log(rt, c, "data/orders-3");
    for (int i = 0; i < 6; ++i) REQUIRE(log->append_as_leader(make_batch(3, 1000 + i, 40), 5).ok());
    REQUIRE(log->flush().ok());
  });
  // SAMSA_LOG_EXPORT_DIR keeps the image for `samsa dump-log`.
  const char* keep = std::getenv("SAMSA_LOG_EXPORT_DIR");
  const fs::path root = keep ? fs::path(keep) : fs::temp_directory_path() / "samsa-log-export-test";
  fs::remove_all(root);
  REQUIRE(samsa::scenarios::save_disk_image(rig.world.disk(rig.n), root.string()).empty());
  std::int64_t next = 0;
  for (const auto& base : {0, 6, 12}) {
    const fs::path seg = root / "data/orders-3" / offset_file_name(base, k_log_suffix);
    REQUIRE(fs::exists(seg));
    const auto scan = scan_batches(read_real(seg), {.strict = true, .expected_offset = next});
    CHECK(scan.stop == ScanStop::clean_end);
    CHECK(scan.batches.size() == 2);
    CHECK(scan.batches.front().header.partition_leader_epoch == 5);
    next = scan.next_offset;
  }
  CHECK(next == 18);
  if (!keep) fs::remove_all(root);
}
