#include "system/coord/txn_log.h"

#include <array>

#include "system/coord/wire.h"

namespace samsa::coord {

namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto k_crc_table = make_crc_table();

std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void put_u32(Bytes& b, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::string disk_error(std::string_view what, sim::DiskErrc e) {
  return std::string(what) + ": " + std::string(sim::to_string(e));
}

}  // namespace

std::uint32_t crc32(ByteView data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::uint8_t b : data) c = k_crc_table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// A transaction: zxid, time, session, then the operation. Client writes are
// stored as their wire request (xid 0); the session operations have bodies
// of their own.
Bytes encode_txn(const Txn& t) {
  JuteWriter w;
  w.int64(t.zxid);
  w.int64(t.time_ms);
  w.int64(t.session);
  if (auto* c = std::get_if<CreateSessionOp>(&t.op)) {
    w.int32(static_cast<std::int32_t>(OpCode::create_session));
    w.int32(c->timeout_ms);
    w.buffer(c->password);
  } else if (std::holds_alternative<CloseSessionOp>(t.op)) {
    w.int32(static_cast<std::int32_t>(OpCode::close_session));
  } else {
    Request r;
    r.type = std::visit(
        [](const auto& op) {
          using T = std::decay_t<decltype(op)>;
          if constexpr (std::is_same_v<T, CreateOp>) return op.with_stat ? OpCode::create2 : OpCode::create;
          else if constexpr (std::is_same_v<T, DeleteOp>) return OpCode::remove;
          else if constexpr (std::is_same_v<T, SetDataOp>) return OpCode::set_data;
          else if constexpr (std::is_same_v<T, CheckOp>) return OpCode::check;
          else return OpCode::multi;
        },
        t.op);
    r.write = t.op;
    w.int32(0);
    w.buffer(encode(r));
  }
  Bytes out = w.finish();
  out.erase(out.begin(), out.begin() + 4);  // the log frames records itself
  return out;
}

Result<Txn, ParseError> decode_txn(ByteView payload) {
  Bytes framed(4, 0);
  framed.insert(framed.end(), payload.begin(), payload.end());
  JuteReader r(framed);
  Txn t;
  SAMSA_COORD_TRY(zxid, r.int64());
  SAMSA_COORD_TRY(time, r.int64());
  SAMSA_COORD_TRY(session, r.int64());
  SAMSA_COORD_TRY(kind, r.int32());
  t.zxid = zxid;
  t.time_ms = time;
  t.session = session;
  if (kind == static_cast<std::int32_t>(OpCode::create_session)) {
    SAMSA_COORD_TRY(timeout, r.int32());
    SAMSA_COORD_TRY(password, r.buffer());
    t.op = CreateSessionOp{timeout, std::move(password)};
  } else if (kind == static_cast<std::int32_t>(OpCode::close_session)) {
    t.op = CloseSessionOp{};
  } else {
    SAMSA_COORD_TRY(frame, r.buffer());
    SAMSA_COORD_TRY(req, decode_request(frame));
    t.op = std::move(req.write);
  }
  return t;
}

Result<StateMachine, std::string> TxnLog::recover(RecoveryInfo* info) {
  RecoveryInfo local;
  if (!info) info = &local;
  if (auto d = disk_.mkdirs(dir_); !d) return Err{disk_error("mkdirs", d.error())};
  StateMachine sm;
  if (disk_.exists(path("snapshot"))) {
    auto bytes = sim::read_all(disk_, path("snapshot"));
    if (!bytes) return Err{disk_error("read snapshot", bytes.error())};
    if (bytes->size() < 8 || crc32(ByteView(*bytes).subspan(8)) != get_u32(bytes->data() + 4))
      return Err{std::string("snapshot checksum mismatch")};
    // The reader skips its first 4 bytes as a frame prefix: here, the crc.
    JuteReader r(ByteView(*bytes).subspan(4));
    auto decoded = StateMachine::decode(r);
    if (!decoded) return Err{"snapshot at byte " + std::to_string(decoded.error().offset) + ": " +
                             decoded.error().what};
    sm = std::move(*decoded);
    info->snapshot_nodes = sm.nodes().size();
  }
  auto file = disk_.open(path("log"), {.create = true});
  if (!file) return Err{disk_error("open log", file.error())};
  log_ = std::move(*file);
  Bytes all(log_->size());
  auto n = log_->read(0, all);
  if (!n) return Err{disk_error("read log", n.error())};
  std::size_t at = 0;
  while (all.size() - at >= 8) {
    const std::uint32_t len = get_u32(all.data() + at);
    if (len > all.size() - at - 8) break;
    const ByteView payload(all.data() + at + 8, len);
    if (crc32(payload) != get_u32(all.data() + at + 4)) break;
    auto txn = decode_txn(payload);
    if (!txn) break;
    if (txn->zxid > sm.last_zxid()) {
      (void)sm.apply(*txn);
      ++info->txns_replayed;
    }
    at += 8 + len;
  }
  info->torn_bytes = all.size() - at;
  if (info->torn_bytes > 0) {
    if (auto t = log_->truncate(at); !t) return Err{disk_error("truncate log", t.error())};
    if (auto f = log_->fsync(); !f) return Err{disk_error("fsync log", f.error())};
  }
  return sm;
}

Result<void, sim::DiskErrc> TxnLog::append(const Txn& t) {
  SAMSA_ASSERT(log_ != nullptr, "append before recover");
  const Bytes payload = encode_txn(t);
  Bytes record;
  put_u32(record, static_cast<std::uint32_t>(payload.size()));
  put_u32(record, crc32(payload));
  record.insert(record.end(), payload.begin(), payload.end());
  if (auto a = log_->append(record); !a) return a;
  return log_->fsync();
}

Result<void, sim::DiskErrc> TxnLog::snapshot(const StateMachine& sm) {
  JuteWriter w;
  sm.encode(w);
  Bytes body = w.finish();
  Bytes out = {'Z', 'K', 'S', 'N'};
  put_u32(out, crc32(ByteView(body).subspan(4)));
  out.insert(out.end(), body.begin() + 4, body.end());
  if (auto r = sim::write_atomic(disk_, path("snapshot"), out); !r) return r;
  if (auto t = log_->truncate(0); !t) return t;
  return log_->fsync();
}

}  // namespace samsa::coord
