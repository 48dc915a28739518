#pragma once
// A small client that speaks raw Kafka requests (typed messages over the
// runtime's connections): enough to drive brokers in tests and scenarios
// before the real producer and consumer exist. One connection per broker,
// one request in flight per connection; a broken connection is dropped and
// the call reports that the outcome is unknown.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sim/runtime/runtime.h"
#include "system/protocol/typed_api.h"

namespace samsa::scenarios::broker {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;

class RawClient {
 public:
  RawClient(sim::Runtime& rt, std::string client_id) : rt_(rt), client_id_(std::move(client_id)) {}

  // Sends `req` to `to` and waits for the answer; nullopt when the
  // connection broke or the deadline passed (the outcome is unknown).
  template <class Resp, class Req>
  std::optional<Resp> call(const sim::Address& to, const Req& req, std::int16_t version,
                           sim::Duration timeout);
  void drop(const sim::Address& to) { conns_.erase(key(to)); }

 private:
  static std::string key(const sim::Address& a) { return a.host + ":" + std::to_string(a.port); }
  sim::Connection* connection(const sim::Address& to, sim::Duration timeout);

  sim::Runtime& rt_;
  std::string client_id_;
  std::map<std::string, std::unique_ptr<sim::Connection>> conns_;
  std::int32_t correlation_ = 0;
};

// One record batch of `values` (one record each), as a client builds it;
// idempotent when producer_id is set.
Bytes make_batch(const std::vector<std::string>& values, std::int64_t timestamp_ms,
                 std::int64_t producer_id = -1, std::int16_t producer_epoch = -1,
                 std::int32_t base_sequence = -1);

// Each record of a record set in order: its offset, its batch's partition
// leader epoch and its value (a null value is empty).
using RecordFn = std::function<void(std::int64_t offset, std::int32_t leader_epoch, std::string_view value)>;
void for_each_record(ByteView records, const RecordFn& fn);
// The values of the records in a record set, by offset.
std::map<std::int64_t, std::string> record_values(ByteView records);

struct ProduceResult {
  enum class Kind : std::uint8_t { ok, failed, unknown } kind = Kind::unknown;
  ErrorCode error = ErrorCode::none;
  Offset base_offset = Offset::none();
};
ProduceResult produce(RawClient& c, const sim::Address& leader, const std::string& topic,
                      std::int32_t partition, Bytes batch, std::int16_t acks, std::int32_t timeout_ms);

// The leader of a partition per `broker`'s metadata, if it names one.
std::optional<BrokerId> find_leader(RawClient& c, const sim::Address& broker, const std::string& topic,
                                    std::int32_t partition, std::map<BrokerId, sim::Address>* brokers = nullptr);

// Fetch as a consumer (up to the high watermark) from `offset`.
struct FetchResult {
  ErrorCode error = ErrorCode::none;
  Offset high_watermark = Offset::none();
  std::map<std::int64_t, std::string> values;
  Offset next_offset = Offset::none();
};
std::optional<FetchResult> fetch(RawClient& c, const sim::Address& leader, const std::string& topic,
                                 std::int32_t partition, Offset offset, std::int32_t max_wait_ms);

// --- template -------------------------------------------------------------------------------------

template <class Resp, class Req>
std::optional<Resp> RawClient::call(const sim::Address& to, const Req& req, std::int16_t version,
                                    sim::Duration timeout) {
  sim::Connection* c = connection(to, timeout);
  if (c == nullptr) return std::nullopt;
  protocol::RequestHeader h;
  h.api_key = Req::k_api_key;
  h.api_version = version;
  h.correlation_id = ++correlation_;
  h.client_id = client_id_;
  if (!c->send(protocol::encode_request_frame(h, req))) {
    drop(to);
    return std::nullopt;
  }
  auto frame = c->recv(rt_.deadline_after(timeout));
  if (!frame) {
    drop(to);
    return std::nullopt;
  }
  auto resp = protocol::decode_response_frame<Resp>(protocol::share_frame(std::move(*frame)), version);
  if (!resp || resp->correlation_id != h.correlation_id) {
    drop(to);
    return std::nullopt;
  }
  return std::move(resp->body);
}

}  // namespace samsa::scenarios::broker
