// Record batch v2 hot paths: CRC-32C, iterating and building a batch.
// Goals (issue 5): CRC-32C several GB/s with the hardware instruction,
// iteration >= 20 M records/s for 1,000 x 100-byte records.
#include <benchmark/benchmark.h>

#include "system/protocol/crc32c.h"
#include "system/protocol/record_batch.h"

namespace {

using namespace samsa::protocol;
using samsa::Bytes;
using samsa::ByteView;

constexpr int k_records = 1000;
constexpr std::size_t k_value_bytes = 100;

Bytes payload(std::size_t n) {
  Bytes b(n);
  std::uint32_t x = 12345;
  for (auto& byte : b) {  // fixed pseudo-random bytes with some repetition
    x = x * 1103515245u + 12345u;
    byte = static_cast<std::uint8_t>("abcdefgh"[(x >> 16) & 7]);
  }
  return b;
}

Bytes build_batch(Compression c) {
  const Bytes value = payload(k_value_bytes);
  BatchOptions o;
  o.compression = c;
  BatchBuilder b(o);
  for (int i = 0; i < k_records; ++i) {
    const std::string key = "key-" + std::to_string(i);
    b.append(1700000000000 + i, samsa::as_bytes(key), ByteView(value));
  }
  return b.finish();
}

void BM_Crc32c(benchmark::State& state) {
  const Bytes data = payload(1 << 20);
  for (auto _ : state) benchmark::DoNotOptimize(crc32c(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * data.size());
  state.SetLabel(crc32c_uses_hardware() ? "sse4.2" : "table");
}
BENCHMARK(BM_Crc32c);

void BM_Crc32cTable(benchmark::State& state) {
  const Bytes data = payload(1 << 20);
  for (auto _ : state) benchmark::DoNotOptimize(crc32c_portable(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * data.size());
}
BENCHMARK(BM_Crc32cTable);

// Opens the batch and walks every record, touching key and value sizes.
void BM_IterateBatch(benchmark::State& state) {
  const auto c = static_cast<Compression>(state.range(0));
  const Bytes batch = build_batch(c);
  for (auto _ : state) {
    auto it = RecordIterator::open(batch);
    std::size_t bytes = 0;
    for (;;) {
      auto r = it->next();
      if (!r.ok() || !*r) break;
      bytes += (*r)->key->size() + (*r)->value->size();
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * k_records);
  state.SetLabel(std::string(to_string(c)) + ", " + std::to_string(batch.size()) + " bytes");
}
BENCHMARK(BM_IterateBatch)->DenseRange(0, 4);

// BatchReader over the batch with its CRC check, then iteration: what a
// consumer of a Fetch response does per batch.
void BM_ReadCheckIterate(benchmark::State& state) {
  const Bytes batch = build_batch(Compression::none);
  for (auto _ : state) {
    BatchReader reader(batch);
    std::int64_t n = 0;
    while (auto view = reader.next()) {
      auto it = RecordIterator::open(view->bytes);
      while (true) {
        auto r = it->next();
        if (!r.ok() || !*r) break;
        ++n;
      }
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * k_records);
}
BENCHMARK(BM_ReadCheckIterate);

void BM_BuildBatch(benchmark::State& state) {
  const auto c = static_cast<Compression>(state.range(0));
  const Bytes value = payload(k_value_bytes);
  std::vector<std::string> keys;
  for (int i = 0; i < k_records; ++i) keys.push_back("key-" + std::to_string(i));
  for (auto _ : state) {
    BatchOptions o;
    o.compression = c;
    BatchBuilder b(o);
    for (int i = 0; i < k_records; ++i)
      b.append(1700000000000 + i, samsa::as_bytes(keys[i]), ByteView(value));
    benchmark::DoNotOptimize(b.finish());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * k_records);
  state.SetLabel(std::string(to_string(c)));
}
BENCHMARK(BM_BuildBatch)->DenseRange(0, 4);

}  // namespace
