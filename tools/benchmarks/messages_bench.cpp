// Kafka message codec (system/protocol schema engine): decode and encode of
// a Produce v9 request (one 16 KiB record batch) and of a Metadata v12
// response with 100 topics x 10 partitions, and JSON printing of the latter.
#include <benchmark/benchmark.h>

#include "system/protocol/api.h"
#include "system/protocol/record_batch.h"

namespace p = samsa::protocol;
using samsa::Bytes;
using samsa::ByteView;

namespace {

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
  for (auto _ : state) benchmark::DoNotOptimize(p::decode_request(frame));
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
  for (auto _ : state) benchmark::DoNotOptimize(p::decode_response(frame, p::ApiKey::metadata, 12));
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

}  // namespace
