// The jute messages: what is encoded decodes to the same message, and no
// byte string (truncated, corrupted or random) crashes a decoder: it yields
// a ParseError with an offset inside the frame.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/coord/txn_log.h"
#include "system/coord/wire.h"

using namespace samsa;
using namespace samsa::coord;

namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

Request sample_multi() {
  Request r;
  r.xid = 42;
  r.type = OpCode::multi;
  r.write = MultiOp{{CreateOp{"/a", bytes_of("x"), CreateMode::ephemeral_sequential, false},
                     DeleteOp{"/b", 3}, SetDataOp{"/c", bytes_of("yz"), -1}, CheckOp{"/d", 7}}};
  return r;
}

}  // namespace

TEST_CASE("a connect request has ZooKeeper's layout, byte for byte", "[coord][wire]") {
  ConnectRequest c;
  c.last_zxid_seen = 0x0102030405060708;
  c.timeout_ms = 30000;
  c.session_id = 0x1122334455667788;
  const Bytes b = encode(c);
  // size, protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (len 16), readOnly
  REQUIRE(b.size() == 4 + 4 + 8 + 4 + 8 + 4 + 16 + 1);
  REQUIRE(b[3] == b.size() - 4);
  REQUIRE(b[8] == 0x01);
  REQUIRE(b[15] == 0x08);
  REQUIRE(b[18] == 0x75);  // 30000 = 0x7530
  REQUIRE(b[19] == 0x30);
  REQUIRE(b[31] == 16);
  auto back = decode_connect_request(b);
  REQUIRE(back.ok());
  REQUIRE(*back == c);
}

TEST_CASE("requests and replies survive encode then decode", "[coord][wire]") {
  const Request m = sample_multi();
  auto back = decode_request(encode(m));
  REQUIRE(back.ok());
  REQUIRE(back->xid == 42);
  const auto& ops = std::get<MultiOp>(back->write).ops;
  REQUIRE(ops.size() == 4);
  REQUIRE(std::get<CreateOp>(ops[0]).mode == CreateMode::ephemeral_sequential);
  REQUIRE(std::get<DeleteOp>(ops[1]).version == 3);
  REQUIRE(std::get<SetDataOp>(ops[2]).data == bytes_of("yz"));
  REQUIRE(std::get<CheckOp>(ops[3]).path == "/d");

  rc::prop("a get_children2 reply decodes to what was encoded",
           [](std::vector<std::string> kids, std::int32_t version, std::int64_t zxid) {
             Response r;
             r.header = {7, zxid, Code::ok};
             r.children = kids;
             r.stat.version = version;
             r.stat.pzxid = zxid;
             auto back = decode_response(encode(r, OpCode::get_children2), OpCode::get_children2);
             RC_ASSERT(back.ok());
             RC_ASSERT(back->children == kids);
             RC_ASSERT(back->stat == r.stat);
             RC_ASSERT(back->header.zxid == zxid);
           });
}

TEST_CASE("decoders never crash on damaged frames", "[coord][wire]") {
  const Bytes good = encode(sample_multi());
  rc::prop("every truncation of a request is a parse error inside the frame",
           [&good](std::uint16_t cut) {
             const std::size_t n = 4 + cut % (good.size() - 4);
             Bytes b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
             auto r = decode_request(b);
             RC_ASSERT(!r.ok());
             RC_ASSERT(r.error().offset <= b.size());
           });
  rc::prop("random bytes give a message or a parse error, never a crash",
           [](std::vector<std::uint8_t> body, std::int16_t type) {
             Bytes b(4, 0);
             b.insert(b.end(), body.begin(), body.end());
             (void)decode_request(b);
             (void)decode_connect_request(b);
             (void)decode_connect_response(b);
             (void)decode_response(b, static_cast<OpCode>(type % 20));
             (void)decode_txn(body);
           });
}

TEST_CASE("log transactions survive encode then decode", "[coord][wire]") {
  const Txn t{9, 1234, 77, std::get<MultiOp>(sample_multi().write)};
  auto back = decode_txn(encode_txn(t));
  REQUIRE(back.ok());
  REQUIRE(back->zxid == 9);
  REQUIRE(back->time_ms == 1234);
  REQUIRE(back->session == 77);
  REQUIRE(std::get<MultiOp>(back->op).ops.size() == 4);
  auto s = decode_txn(encode_txn(Txn{10, 0, 5, CreateSessionOp{4000, Bytes(16, 3)}}));
  REQUIRE(std::get<CreateSessionOp>(s->op).timeout_ms == 4000);
  REQUIRE(crc32(bytes_of("123456789")) == 0xCBF43926u);  // the standard check value
}
