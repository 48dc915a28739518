// Partition log throughput through the runtime disk interface (the
// simulated disk: memory, no latency), so the numbers are the log's own
// costs: batch checks (CRC-32C), offset assignment, index upkeep, copies.
//   bench_log --benchmark_filter=append    MB/s and batches/s of appends
//   bench_log --benchmark_filter=read      sequential fetch-like reads, and
//                                          random-offset lookups (index + scan)
//   bench_log --benchmark_filter=recover   recovery scan (CRC of every batch,
//                                          index rebuild): time per GB scanned
// Note: a simulated fsync copies the whole file image, so the flush.messages=1
// case measures mostly the simulator, not the log.
#include <benchmark/benchmark.h>

#include <functional>

#include "sim/world/world.h"
#include "system/log/log.h"
#include "system/protocol/record_batch.h"

namespace {

using namespace samsa;
using namespace samsa::sim;
using samsa::log::Log;
using samsa::log::LogConfig;

Bytes make_batch(std::size_t batch_bytes) {
  protocol::BatchBuilder b({});
  const Bytes value(100, 'v');
  const std::string key = "key";
  while (b.size_bytes() + 120 <= batch_bytes) b.append(1'700'000'000'000, as_bytes(key), ByteView(value));
  if (b.records_count() == 0) b.append(1'700'000'000'000, as_bytes(key), ByteView(value));
  return b.finish();
}

// Runs `body` in a node fiber of a fresh quiet world.
void in_world(const std::function<void(Runtime&)>& body) {
  WorldConfig c;
  c.seed = 1;
  c.log_level = "off";
  World world(c);
  const NodeId n = world.add_node("bench", [&](Runtime& rt) { body(rt); });
  world.start(n);
  world.run(Duration(std::chrono::hours(1'000'000)));
}

std::unique_ptr<Log> open_log(Runtime& rt, const LogConfig& c) {
  auto log = Log::open(rt, "bench/t-0", c);
  if (!log) std::abort();
  return std::move(*log);
}

// Keeps the in-memory disk bounded while appending.
LogConfig bounded_config() {
  LogConfig c;
  c.segment_bytes = 8 << 20;
  c.retention_bytes = 64 << 20;
  c.max_message_bytes = 4 << 20;
  return c;
}

void report(benchmark::State& state, std::size_t batch_bytes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * batch_bytes));
  state.counters["batches/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_log_append(benchmark::State& state) {
  const Bytes batch = make_batch(static_cast<std::size_t>(state.range(0)));
  LogConfig c = bounded_config();
  if (state.range(1) == 1) {
    c.flush_messages = 1;
    c.segment_bytes = 1 << 20;
    c.retention_bytes = 8 << 20;
  }
  in_world([&](Runtime& rt) {
    auto log = open_log(rt, c);
    std::int64_t n = 0;
    for (auto _ : state) {
      auto r = log->append_as_leader(batch, 0);
      if (!r) state.SkipWithError("append failed");
      if (++n % 256 == 0) (void)log->delete_old_segments(0, log->log_end_offset());
    }
  });
  report(state, batch.size());
}
BENCHMARK(BM_log_append)
    ->ArgNames({"batch_bytes", "flush_each"})
    ->Args({1 << 10, 0})
    ->Args({16 << 10, 0})
    ->Args({256 << 10, 0})
    ->Args({16 << 10, 1});

// Fills a log with `total_bytes` of batches of `batch_bytes`.
std::unique_ptr<Log> filled_log(Runtime& rt, std::size_t batch_bytes, std::size_t total_bytes,
                                bool verify_crc = true) {
  LogConfig c = bounded_config();
  c.retention_bytes = -1;
  c.verify_crc_on_read = verify_crc;
  auto log = open_log(rt, c);
  const Bytes batch = make_batch(batch_bytes);
  for (std::size_t done = 0; done < total_bytes; done += batch.size())
    if (!log->append_as_leader(batch, 0)) std::abort();
  return log;
}

void BM_log_read_sequential(benchmark::State& state) {
  const auto max_bytes = static_cast<std::uint64_t>(state.range(0));
  std::uint64_t bytes = 0;
  in_world([&](Runtime& rt) {
    auto log = filled_log(rt, 16 << 10, 64 << 20, state.range(1) == 1);
    std::int64_t offset = 0;
    for (auto _ : state) {
      auto r = log->read(offset, max_bytes);
      if (!r || r->records.empty()) {
        offset = 0;
        continue;
      }
      bytes += r->records.size();
      protocol::BatchReader reader(r->records, false);
      std::int64_t next = offset;
      while (auto b = reader.next()) next = b->header.next_offset();
      offset = next >= log->log_end_offset() ? 0 : next;
    }
  });
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_log_read_sequential)
    ->ArgNames({"max_bytes", "verify_crc"})
    ->Args({64 << 10, 1})
    ->Args({1 << 20, 1})
    ->Args({1 << 20, 0});

void BM_log_read_random_offset(benchmark::State& state) {
  in_world([&](Runtime& rt) {
    auto log = filled_log(rt, 1 << 10, 64 << 20);
    Random rng(7);
    const auto end = static_cast<std::uint64_t>(log->log_end_offset() - 1);
    for (auto _ : state) {
      auto r = log->read(static_cast<std::int64_t>(rng.uniform(0, end)), 1);
      if (!r || r->records.empty()) state.SkipWithError("read failed");
    }
  });
  state.counters["lookups/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_log_read_random_offset);

// Recovery's scan of one segment: read in 1 MiB chunks, CRC every batch,
// rebuild both indexes. bytes/s here is the inverse of the cost per GB.
void BM_log_recover_segment(benchmark::State& state) {
  const auto batch_bytes = static_cast<std::size_t>(state.range(0));
  std::uint64_t scanned = 0;
  in_world([&](Runtime& rt) {
    LogConfig c = bounded_config();
    c.segment_bytes = 256 << 20;
    c.retention_bytes = -1;
    {
      auto log = open_log(rt, c);
      const Bytes batch = make_batch(batch_bytes);
      for (std::size_t done = 0; done < (128u << 20); done += batch.size())
        if (!log->append_as_leader(batch, 0)) std::abort();
    }
    for (auto _ : state) {
      auto seg = samsa::log::Segment::open(rt.disk(), "bench/t-0", 0, c);
      samsa::log::RecoveryStats stats;
      if (!seg || !(*seg)->recover(stats)) state.SkipWithError("recover failed");
      scanned += stats.bytes_scanned;
    }
  });
  state.SetBytesProcessed(static_cast<std::int64_t>(scanned));
}
BENCHMARK(BM_log_recover_segment)->ArgName("batch_bytes")->Arg(1 << 10)->Arg(16 << 10)->Unit(benchmark::kMillisecond);

}  // namespace
