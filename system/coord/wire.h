#pragma once
// ZooKeeper's client protocol messages in jute (zookeeper.jute): the
// connect handshake (no header), requests with RequestHeader{xid, type},
// replies with ReplyHeader{xid, zxid, err}, watch events (xid -1) and pings
// (xid -2). Each message encodes to a whole frame (size prefix included) and
// decodes from one; decoding yields a ParseError on bad input, never a crash.
#include <optional>
#include <string>
#include <vector>

#include "system/coord/jute.h"
#include "system/coord/types.h"

namespace samsa::coord {

inline constexpr std::int32_t k_watch_xid = -1;
inline constexpr std::int32_t k_ping_xid = -2;
inline constexpr std::int32_t k_set_watches_xid = -8;
inline constexpr std::size_t k_password_bytes = 16;

struct ConnectRequest {
  std::int32_t protocol_version = 0;
  Zxid last_zxid_seen = 0;
  std::int32_t timeout_ms = 0;
  SessionId session_id = 0;
  Bytes password = Bytes(k_password_bytes, 0);
  bool read_only = false;
  friend bool operator==(const ConnectRequest&, const ConnectRequest&) = default;
};

struct ConnectResponse {
  std::int32_t protocol_version = 0;
  std::int32_t timeout_ms = 0;  // 0: the session is expired (or unknown)
  SessionId session_id = 0;
  Bytes password = Bytes(k_password_bytes, 0);
  bool read_only = false;
  friend bool operator==(const ConnectResponse&, const ConnectResponse&) = default;
};

Bytes encode(const ConnectRequest& m);
Result<ConnectRequest, ParseError> decode_connect_request(ByteView frame);
Bytes encode(const ConnectResponse& m);
Result<ConnectResponse, ParseError> decode_connect_response(ByteView frame);

struct SetWatches {
  Zxid relative_zxid = 0;
  std::vector<std::string> data;
  std::vector<std::string> exist;
  std::vector<std::string> child;
};

// A request after the handshake. Which fields mean something depends on type:
// reads use path/watch, writes use write, set_watches uses set_watches.
struct Request {
  std::int32_t xid = 0;
  OpCode type = OpCode::ping;
  std::string path;
  bool watch = false;
  WriteOp write = CloseSessionOp{};
  SetWatches set_watches;
};

Bytes encode(const Request& m);
Result<Request, ParseError> decode_request(ByteView frame);

struct ReplyHeader {
  std::int32_t xid = 0;
  Zxid zxid = 0;
  Code err = Code::ok;
};

struct WatcherEvent {
  EventType type = EventType::none;
  KeeperState state = KeeperState::sync_connected;
  std::string path;
};

// A reply. The body is present only when err is ok; which fields it uses
// depends on the request's type (the client remembers it by xid).
struct Response {
  ReplyHeader header;
  std::string path;                   // create, create2
  Bytes data;                         // get_data
  Stat stat;                          // exists, get_data, set_data, create2, get_children2
  std::vector<std::string> children;  // get_children, get_children2
  std::vector<OpResult> multi;        // multi
  WatcherEvent event;                 // xid -1
};

// `type` is the request's op code (ignored for watch events and pings).
Bytes encode(const Response& m, OpCode type);
Result<ReplyHeader, ParseError> decode_reply_header(ByteView frame);
Result<Response, ParseError> decode_response(ByteView frame, OpCode type);

}  // namespace samsa::coord
