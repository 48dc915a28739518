// Kafka message codec, the generic schema engine and the typed messages side
// by side in one run: decode and encode of a Produce v9 request (one 16 KiB
// record batch), a Fetch v12 response (1 MiB of records over 10 partitions)
// and a Metadata v12 response (100 topics x 10 partitions), and JSON printing
// of the latter. Counters: allocs (heap allocations per iteration) and
// alloc_bytes (bytes allocated per iteration), counted by the replaced
// global operator new below; a decode that copied the record bytes would
// show them in alloc_bytes.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "system/protocol/api.h"
#include "system/protocol/record_batch.h"
#include "system/protocol/typed_api.h"

// g++ pairs the replaced operator delete's free() with the operator new it
// inlines at call sites and warns; the pair below is malloc/free, matched.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<std::int64_t> g_allocs{0};
std::atomic<std::int64_t> g_alloc_bytes{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_alloc_bytes.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace p = samsa::protocol;
using samsa::Bytes;
using samsa::ByteView;

namespace {

// Counts allocations over the timed loop and reports them per iteration.
class AllocCounter {
 public:
  explicit AllocCounter(benchmark::State& state)
      : state_(state), allocs_(g_allocs.load()), bytes_(g_alloc_bytes.load()) {}
  ~AllocCounter() {
    const double n = static_cast<double>(state_.iterations());
    state_.counters["allocs"] = static_cast<double>(g_allocs.load() - allocs_) / n;
    state_.counters["alloc_bytes"] = static_cast<double>(g_alloc_bytes.load() - bytes_) / n;
  }

 private:
  benchmark::State& state_;
  std::int64_t allocs_;
  std::int64_t bytes_;
};

p::Value produce_body() {
  const auto& f = p::k_produce_request.fields;
  const auto topic_f = f[p::field_index(f, "TopicData")].fields;
  const auto part_f = topic_f[p::field_index(topic_f, "PartitionData")].fields;
  p::BatchBuilder b(p::BatchOptions{});
  const Bytes value(160, 'x');
  for (int i = 0; i < 100; ++i) b.append(1000 + i, std::nullopt, ByteView(value));
  p::Value part = p::default_struct(part_f, 9);
  p::field(part_f, part, "Records") = p::Value::bytes(b.finish());
  p::Value topic = p::default_struct(topic_f, 9);
  p::field(topic_f, topic, "Name") = p::Value::string("bench-topic");
  p::field(topic_f, topic, "PartitionData") = p::Value::array({part});
  p::Value body = p::default_struct(f, 9);
  p::field(f, body, "TopicData") = p::Value::array({topic});
  return body;
}

p::Value metadata_body() {
  const auto& f = p::k_metadata_response.fields;
  const auto topic_f = f[p::field_index(f, "Topics")].fields;
  const auto part_f = topic_f[p::field_index(topic_f, "Partitions")].fields;
  std::vector<p::Value> topics;
  for (int t = 0; t < 100; ++t) {
    std::vector<p::Value> parts;
    for (int i = 0; i < 10; ++i) {
      p::Value part = p::default_struct(part_f, 12);
      p::field(part_f, part, "PartitionIndex") = p::Value::integer(i);
      p::field(part_f, part, "ReplicaNodes") = p::Value::array({p::Value::integer(1), p::Value::integer(2)});
      parts.push_back(std::move(part));
    }
    p::Value topic = p::default_struct(topic_f, 12);
    p::field(topic_f, topic, "Name") = p::Value::string("topic-" + std::to_string(t));
    p::field(topic_f, topic, "Partitions") = p::Value::array(std::move(parts));
    topics.push_back(std::move(topic));
  }
  p::Value body = p::default_struct(f, 12);
  p::field(f, body, "Topics") = p::Value::array(std::move(topics));
  return body;
}

void BM_decode_produce_v9(benchmark::State& state) {
  const Bytes frame = p::encode_request(p::RequestHeader{p::ApiKey::produce, 9, 1, "bench", {}}, produce_body());
  {
    AllocCounter count(state);
    for (auto _ : state) benchmark::DoNotOptimize(p::decode_request(frame));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_decode_produce_v9);

void BM_encode_produce_v9(benchmark::State& state) {
  const p::Value body = produce_body();
  const p::RequestHeader h{p::ApiKey::produce, 9, 1, "bench", {}};
  std::size_t size = 0;
  for (auto _ : state) {
    Bytes frame = p::encode_request(h, body);
    size = frame.size();
    benchmark::DoNotOptimize(frame);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_encode_produce_v9);

void BM_decode_metadata_v12_1000_partitions(benchmark::State& state) {
  const Bytes frame = p::encode_response(p::ApiKey::metadata, 12, 1, metadata_body());
  {
    AllocCounter count(state);
    for (auto _ : state) benchmark::DoNotOptimize(p::decode_response(frame, p::ApiKey::metadata, 12));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_decode_metadata_v12_1000_partitions);

void BM_encode_metadata_v12_1000_partitions(benchmark::State& state) {
  const p::Value body = metadata_body();
  for (auto _ : state) benchmark::DoNotOptimize(p::encode_response(p::ApiKey::metadata, 12, 1, body));
}
BENCHMARK(BM_encode_metadata_v12_1000_partitions);

void BM_json_metadata_v12_1000_partitions(benchmark::State& state) {
  const p::Value body = metadata_body();
  for (auto _ : state) benchmark::DoNotOptimize(p::message_to_json(p::k_metadata_response, body));
}
BENCHMARK(BM_json_metadata_v12_1000_partitions);

// ---- typed messages (typed_api.h), same frames ----

const p::RequestHeader k_produce_header{p::ApiKey::produce, 9, 1, "bench", {}};

void BM_typed_decode_produce_v9(benchmark::State& state) {
  const auto frame = p::share_frame(p::encode_request(k_produce_header, produce_body()));
  {
    AllocCounter count(state);
    for (auto _ : state) benchmark::DoNotOptimize(p::decode_request_as<p::ProduceRequest>(frame));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame->size()));
}
BENCHMARK(BM_typed_decode_produce_v9);

void BM_typed_encode_produce_v9(benchmark::State& state) {
  const auto frame = p::share_frame(p::encode_request(k_produce_header, produce_body()));
  const auto req = p::decode_request_as<p::ProduceRequest>(frame).value();
  std::size_t size = 0;
  for (auto _ : state) {
    Bytes out = p::encode_request_frame(req.header, req.body);
    size = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_typed_encode_produce_v9);

// A Fetch v12 response: 10 partitions of one topic, each one ~100 KiB batch.
p::FetchResponse fetch_response() {
  p::FetchResponse resp;
  auto& topic = resp.responses.emplace_back();
  topic.topic = "bench-topic";
  const Bytes value(1000, 'y');
  for (int i = 0; i < 10; ++i) {
    p::BatchBuilder b(p::BatchOptions{});
    for (int r = 0; r < 104; ++r) b.append(1000 + r, std::nullopt, ByteView(value));
    auto& part = topic.partitions.emplace_back();
    part.partition_index = p::PartitionId(i);
    part.high_watermark = p::Offset(1000);
    part.records = p::Records(b.finish());
  }
  return resp;
}

Bytes fetch_frame() { return p::encode_response_frame(std::int16_t{12}, 1, fetch_response()); }

void BM_decode_fetch_v12_1mib(benchmark::State& state) {
  const Bytes frame = fetch_frame();
  {
    AllocCounter count(state);
    for (auto _ : state) benchmark::DoNotOptimize(p::decode_response(frame, p::ApiKey::fetch, 12));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_decode_fetch_v12_1mib);

void BM_encode_fetch_v12_1mib(benchmark::State& state) {
  const p::Value body = p::decode_response(fetch_frame(), p::ApiKey::fetch, 12)->body;
  for (auto _ : state) benchmark::DoNotOptimize(p::encode_response(p::ApiKey::fetch, 12, 1, body));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fetch_frame().size()));
}
BENCHMARK(BM_encode_fetch_v12_1mib);

void BM_typed_decode_fetch_v12_1mib(benchmark::State& state) {
  const auto frame = p::share_frame(fetch_frame());
  {
    AllocCounter count(state);
    for (auto _ : state) benchmark::DoNotOptimize(p::decode_response_frame<p::FetchResponse>(frame, 12));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame->size()));
}
BENCHMARK(BM_typed_decode_fetch_v12_1mib);

void BM_typed_encode_fetch_v12_1mib(benchmark::State& state) {
  const p::FetchResponse resp = fetch_response();
  std::size_t size = 0;
  for (auto _ : state) {
    Bytes out = p::encode_response_frame(std::int16_t{12}, 1, resp);
    size = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_typed_encode_fetch_v12_1mib);

void BM_typed_decode_metadata_v12_1000_partitions(benchmark::State& state) {
  const auto frame = p::share_frame(p::encode_response(p::ApiKey::metadata, 12, 1, metadata_body()));
  {
    AllocCounter count(state);
    for (auto _ : state) benchmark::DoNotOptimize(p::decode_response_frame<p::MetadataResponse>(frame, 12));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame->size()));
}
BENCHMARK(BM_typed_decode_metadata_v12_1000_partitions);

void BM_typed_encode_metadata_v12_1000_partitions(benchmark::State& state) {
  const auto frame = p::share_frame(p::encode_response(p::ApiKey::metadata, 12, 1, metadata_body()));
  const p::MetadataResponse resp = p::decode_response_frame<p::MetadataResponse>(frame, 12)->body;
  for (auto _ : state) benchmark::DoNotOptimize(p::encode_response_frame(std::int16_t{12}, 1, resp));
}
BENCHMARK(BM_typed_encode_metadata_v12_1000_partitions);

}  // namespace
