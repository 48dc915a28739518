#include "scenarios/broker/driver.h"

#include "system/protocol/record_batch.h"

namespace samsa::scenarios::broker {

using namespace protocol;

sim::Connection* RawClient::connection(const sim::Address& to, sim::Duration timeout) {
  auto it = conns_.find(key(to));
  if (it != conns_.end()) return it->second.get();
  auto c = rt_.net().connect(to, rt_.deadline_after(timeout));
  if (!c) return nullptr;
  return conns_.emplace(key(to), std::move(*c)).first->second.get();
}

Bytes make_batch(const std::vector<std::string>& values, std::int64_t timestamp_ms, std::int64_t producer_id,
                 std::int16_t producer_epoch, std::int32_t base_sequence) {
  BatchOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = producer_epoch;
  o.base_sequence = base_sequence;
  BatchBuilder b(o);
  for (const auto& v : values) b.append(timestamp_ms, std::nullopt, as_bytes(v));
  return b.finish();
}

void for_each_record(ByteView records, const RecordFn& fn) {
  BatchReader reader(records);
  while (auto b = reader.next()) {
    auto it = RecordIterator::open(b->bytes);
    if (!it) continue;
    for (;;) {
      auto r = it->next();
      if (!r || *r == nullptr) break;
      const auto& v = (*r)->value;
      fn((*r)->offset, b->header.partition_leader_epoch, v ? as_chars(*v) : std::string_view{});
    }
  }
}

std::map<std::int64_t, std::string> record_values(ByteView records) {
  std::map<std::int64_t, std::string> out;
  for_each_record(records, [&](std::int64_t offset, std::int32_t, std::string_view v) { out[offset] = v; });
  return out;
}

ProduceResult produce(RawClient& c, const sim::Address& leader, const std::string& topic,
                      std::int32_t partition, Bytes batch, std::int16_t acks, std::int32_t timeout_ms) {
  ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = timeout_ms;
  auto& t = req.topic_data.emplace_back();
  t.name = topic;
  auto& p = t.partition_data.emplace_back();
  p.index = PartitionId(partition);
  p.records = Records(std::move(batch));
  ProduceResult out;
  if (acks == 0) {
    // No answer comes: whether it was written is unknown.
    (void)c.call<ProduceResponse>(leader, req, 7, std::chrono::milliseconds(1));
    return out;
  }
  auto resp = c.call<ProduceResponse>(leader, req, 7, std::chrono::milliseconds(timeout_ms + 5000));
  if (!resp || resp->responses.empty() || resp->responses[0].partition_responses.empty()) return out;
  const auto& pr = resp->responses[0].partition_responses[0];
  out.error = pr.error_code;
  out.base_offset = pr.base_offset;
  if (pr.error_code == ErrorCode::none) {
    out.kind = ProduceResult::Kind::ok;
  } else if (pr.error_code == ErrorCode::request_timed_out ||
             pr.error_code == ErrorCode::not_enough_replicas_after_append ||
             (pr.error_code == ErrorCode::not_leader_or_follower && acks == -1)) {
    // Appended, maybe replicated: the outcome is unknown (Jepsen's info).
    out.kind = ProduceResult::Kind::unknown;
  } else {
    out.kind = ProduceResult::Kind::failed;
  }
  return out;
}

std::optional<BrokerId> find_leader(RawClient& c, const sim::Address& broker, const std::string& topic,
                                    std::int32_t partition, std::map<BrokerId, sim::Address>* brokers) {
  MetadataRequest req;
  req.topics.emplace();
  req.topics->emplace_back().name = topic;
  req.allow_auto_topic_creation = false;
  auto resp = c.call<MetadataResponse>(broker, req, 9, std::chrono::seconds(5));
  if (!resp) return std::nullopt;
  if (brokers) {
    for (const auto& b : resp->brokers)
      (*brokers)[b.node_id] = sim::Address{b.host, static_cast<std::uint16_t>(b.port)};
  }
  for (const auto& t : resp->topics) {
    if (t.name != topic || t.error_code != ErrorCode::none) continue;
    for (const auto& p : t.partitions)
      if (p.partition_index == PartitionId(partition) && p.error_code == ErrorCode::none) return p.leader_id;
  }
  return std::nullopt;
}

std::optional<FetchResult> fetch(RawClient& c, const sim::Address& leader, const std::string& topic,
                                 std::int32_t partition, Offset offset, std::int32_t max_wait_ms) {
  FetchRequest req;
  req.replica_id = BrokerId(-1);
  req.max_wait_ms = max_wait_ms;
  req.min_bytes = 1;
  req.max_bytes = 1 << 20;
  auto& t = req.topics.emplace_back();
  t.topic = topic;
  auto& p = t.partitions.emplace_back();
  p.partition = PartitionId(partition);
  p.fetch_offset = offset;
  p.partition_max_bytes = 1 << 20;
  auto resp = c.call<FetchResponse>(leader, req, 11, std::chrono::milliseconds(max_wait_ms + 5000));
  if (!resp || resp->responses.empty() || resp->responses[0].partitions.empty()) return std::nullopt;
  const auto& pd = resp->responses[0].partitions[0];
  FetchResult out;
  out.error = pd.error_code;
  out.high_watermark = pd.high_watermark;
  out.next_offset = offset;
  if (pd.records) {
    out.values = record_values(pd.records->view());
    if (!out.values.empty()) out.next_offset = Offset(out.values.rbegin()->first + 1);
  }
  return out;
}

}  // namespace samsa::scenarios::broker
