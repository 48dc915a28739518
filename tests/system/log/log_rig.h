#pragma once
// Helpers for log tests: record batches built with the protocol's builder,
// and a one-node simulated world whose main runs a test body.
#include <functional>
#include <optional>
#include <string>

#include "sim/world/world.h"
#include "system/log/log.h"
#include "system/protocol/record_batch.h"
#include "tests/sim/world_helpers.h"

namespace samsa::testing {

// A batch of `records` records with values of `value_bytes` bytes, all
// stamped `timestamp_ms`; offsets are assigned by the log.
inline Bytes make_batch(int records, std::int64_t timestamp_ms, std::size_t value_bytes = 16,
                        std::uint8_t fill = 'v') {
  protocol::BatchBuilder b({});
  const Bytes value(value_bytes, fill);
  const std::string key = "k" + std::to_string(timestamp_ms);
  for (int i = 0; i < records; ++i) b.append(timestamp_ms, as_bytes(key), ByteView(value));
  return b.finish();
}

// Runs `body` on node "n" as one incarnation: after it returns the node
// sleeps, and 1h later it crashes with `mode`. run() again restarts the node
// on what its disk kept.
struct LogRig {
  explicit LogRig(std::uint64_t seed, DiskConfig disk = {}) : world(config(seed, disk)) {}
  static WorldConfig config(std::uint64_t seed, DiskConfig disk) {
    WorldConfig c = quiet_config(seed);
    c.disk = disk;
    return c;
  }
  World world;
  NodeId n = -1;
  std::function<void(Runtime&)> body;

  void run(std::function<void(Runtime&)> b, CrashMode mode = CrashMode::keep_all) {
    body = std::move(b);
    if (n < 0) {
      n = world.add_node("n", [this](Runtime& rt) {
        body(rt);
        rt.sleep(24h);
      });
    }
    world.start(n);
    world.spawn("crash", [this, mode] {
      world.control().sleep(1h);
      world.crash(n, mode);
    });
    const auto r = world.run(world.now() + 2h);
    if (r.reason == StopReason::internal_error) FAIL(r.report);
  }
};

inline std::unique_ptr<log::Log> open_log(Runtime& rt, log::LogConfig config,
                                          std::string dir = "data/t-0") {
  auto log = log::Log::open(rt, std::move(dir), config);
  REQUIRE(log.ok());
  return std::move(*log);
}

}  // namespace samsa::testing
