#include "system/coord/wire.h"

namespace samsa::coord {

namespace {

constexpr std::int32_t k_max_items = 1 << 20;

void put_strings(JuteWriter& w, const std::vector<std::string>& v) {
  w.int32(static_cast<std::int32_t>(v.size()));
  for (const auto& s : v) w.string(s);
}

Result<std::vector<std::string>, ParseError> get_strings(JuteReader& r) {
  const std::size_t at = r.offset();
  SAMSA_COORD_TRY(n, r.int32());
  if (n < -1 || n > k_max_items) return Err{ParseError{at, "bad vector length"}};
  std::vector<std::string> out;
  for (std::int32_t i = 0; i < n; ++i) {
    SAMSA_COORD_TRY(s, r.string());
    out.push_back(std::move(s));
  }
  return out;
}

// Every node is world-readable and writable (OPEN_ACL_UNSAFE): ACLs are
// carried on the wire but not enforced.
void put_open_acl(JuteWriter& w) {
  w.int32(1);
  w.int32(31);  // Perms.ALL
  w.string("world");
  w.string("anyone");
}

Result<void, ParseError> skip_acl(JuteReader& r) {
  const std::size_t at = r.offset();
  SAMSA_COORD_TRY(n, r.int32());
  if (n < -1 || n > k_max_items) return Err{ParseError{at, "bad ACL count"}};
  for (std::int32_t i = 0; i < n; ++i) {
    SAMSA_COORD_TRY(perms, r.int32());
    SAMSA_COORD_TRY(scheme, r.string());
    SAMSA_COORD_TRY(id, r.string());
    (void)perms;
  }
  return {};
}

void put_sub_op(JuteWriter& w, const SubOp& op) {
  if (auto* c = std::get_if<CreateOp>(&op)) {
    w.string(c->path);
    w.buffer(c->data);
    put_open_acl(w);
    w.int32(static_cast<std::int32_t>(c->mode));
  } else if (auto* d = std::get_if<DeleteOp>(&op)) {
    w.string(d->path);
    w.int32(d->version);
  } else if (auto* s = std::get_if<SetDataOp>(&op)) {
    w.string(s->path);
    w.buffer(s->data);
    w.int32(s->version);
  } else {
    const auto& k = std::get<CheckOp>(op);
    w.string(k.path);
    w.int32(k.version);
  }
}

OpCode sub_op_type(const SubOp& op) {
  if (auto* c = std::get_if<CreateOp>(&op)) return c->with_stat ? OpCode::create2 : OpCode::create;
  if (std::holds_alternative<DeleteOp>(op)) return OpCode::remove;
  if (std::holds_alternative<SetDataOp>(op)) return OpCode::set_data;
  return OpCode::check;
}

Result<SubOp, ParseError> get_sub_op(JuteReader& r, OpCode type) {
  const std::size_t at = r.offset();
  SAMSA_COORD_TRY(path, r.string());
  switch (type) {
    case OpCode::create:
    case OpCode::create2: {
      SAMSA_COORD_TRY(data, r.buffer());
      if (auto acl = skip_acl(r); !acl) return Err{acl.error()};
      SAMSA_COORD_TRY(flags, r.int32());
      if (flags < 0 || flags > 3) return Err{ParseError{at, "unsupported create flags"}};
      return SubOp{CreateOp{path, std::move(data), static_cast<CreateMode>(flags),
                            type == OpCode::create2}};
    }
    case OpCode::remove: {
      SAMSA_COORD_TRY(version, r.int32());
      return SubOp{DeleteOp{path, version}};
    }
    case OpCode::set_data: {
      SAMSA_COORD_TRY(data, r.buffer());
      SAMSA_COORD_TRY(version, r.int32());
      return SubOp{SetDataOp{path, std::move(data), version}};
    }
    case OpCode::check: {
      SAMSA_COORD_TRY(version, r.int32());
      return SubOp{CheckOp{path, version}};
    }
    default: return Err{ParseError{at, "unsupported operation in request"}};
  }
}

void put_multi(JuteWriter& w, const MultiOp& m) {
  for (const auto& op : m.ops) {
    w.int32(static_cast<std::int32_t>(sub_op_type(op)));
    w.boolean(false);
    w.int32(-1);
    put_sub_op(w, op);
  }
  w.int32(-1);
  w.boolean(true);
  w.int32(-1);
}

Result<MultiOp, ParseError> get_multi(JuteReader& r) {
  MultiOp m;
  for (int i = 0;; ++i) {
    if (i > 10'000) return Err{r.error("multi too long")};
    SAMSA_COORD_TRY(type, r.int32());
    SAMSA_COORD_TRY(done, r.boolean());
    SAMSA_COORD_TRY(err, r.int32());
    (void)err;
    if (done) return m;
    SAMSA_COORD_TRY(op, get_sub_op(r, static_cast<OpCode>(type)));
    m.ops.push_back(std::move(op));
  }
}

bool is_read(OpCode t) {
  return t == OpCode::exists || t == OpCode::get_data || t == OpCode::get_children ||
         t == OpCode::get_children2;
}

}  // namespace

// --- handshake ---------------------------------------------------------------

Bytes encode(const ConnectRequest& m) {
  JuteWriter w;
  w.int32(m.protocol_version);
  w.int64(m.last_zxid_seen);
  w.int32(m.timeout_ms);
  w.int64(m.session_id);
  w.buffer(m.password);
  w.boolean(m.read_only);
  return w.finish();
}

Result<ConnectRequest, ParseError> decode_connect_request(ByteView frame) {
  JuteReader r(frame);
  ConnectRequest m;
  SAMSA_COORD_TRY(version, r.int32());
  SAMSA_COORD_TRY(zxid, r.int64());
  SAMSA_COORD_TRY(timeout, r.int32());
  SAMSA_COORD_TRY(session, r.int64());
  SAMSA_COORD_TRY(password, r.buffer());
  m = {version, zxid, timeout, session, std::move(password), false};
  if (!r.at_end()) {  // readOnly is optional (older clients omit it)
    SAMSA_COORD_TRY(ro, r.boolean());
    m.read_only = ro;
  }
  return m;
}

Bytes encode(const ConnectResponse& m) {
  JuteWriter w;
  w.int32(m.protocol_version);
  w.int32(m.timeout_ms);
  w.int64(m.session_id);
  w.buffer(m.password);
  w.boolean(m.read_only);
  return w.finish();
}

Result<ConnectResponse, ParseError> decode_connect_response(ByteView frame) {
  JuteReader r(frame);
  SAMSA_COORD_TRY(version, r.int32());
  SAMSA_COORD_TRY(timeout, r.int32());
  SAMSA_COORD_TRY(session, r.int64());
  SAMSA_COORD_TRY(password, r.buffer());
  ConnectResponse m{version, timeout, session, std::move(password), false};
  if (!r.at_end()) {
    SAMSA_COORD_TRY(ro, r.boolean());
    m.read_only = ro;
  }
  return m;
}

// --- requests ------------------------------------------------------------------

Bytes encode(const Request& m) {
  JuteWriter w;
  w.int32(m.xid);
  w.int32(static_cast<std::int32_t>(m.type));
  if (is_read(m.type)) {
    w.string(m.path);
    w.boolean(m.watch);
  } else if (m.type == OpCode::multi) {
    put_multi(w, std::get<MultiOp>(m.write));
  } else if (m.type == OpCode::set_watches) {
    w.int64(m.set_watches.relative_zxid);
    put_strings(w, m.set_watches.data);
    put_strings(w, m.set_watches.exist);
    put_strings(w, m.set_watches.child);
  } else if (m.type != OpCode::ping && m.type != OpCode::close_session) {
    std::visit(
        [&w](const auto& op) {
          using T = std::decay_t<decltype(op)>;
          if constexpr (std::is_constructible_v<SubOp, T>) put_sub_op(w, SubOp{op});
        },
        m.write);
  }
  return w.finish();
}

Result<Request, ParseError> decode_request(ByteView frame) {
  JuteReader r(frame);
  Request m;
  SAMSA_COORD_TRY(xid, r.int32());
  const std::size_t type_at = r.offset();
  SAMSA_COORD_TRY(type, r.int32());
  m.xid = xid;
  m.type = static_cast<OpCode>(type);
  if (is_read(m.type)) {
    SAMSA_COORD_TRY(path, r.string());
    SAMSA_COORD_TRY(watch, r.boolean());
    m.path = std::move(path);
    m.watch = watch;
    return m;
  }
  switch (m.type) {
    case OpCode::ping:
    case OpCode::close_session: return m;
    case OpCode::multi: {
      SAMSA_COORD_TRY(multi, get_multi(r));
      m.write = std::move(multi);
      return m;
    }
    case OpCode::set_watches: {
      SAMSA_COORD_TRY(zxid, r.int64());
      SAMSA_COORD_TRY(data, get_strings(r));
      SAMSA_COORD_TRY(exist, get_strings(r));
      SAMSA_COORD_TRY(child, get_strings(r));
      m.set_watches = {zxid, std::move(data), std::move(exist), std::move(child)};
      return m;
    }
    case OpCode::create:
    case OpCode::create2:
    case OpCode::remove:
    case OpCode::set_data:
    case OpCode::check: {
      SAMSA_COORD_TRY(op, get_sub_op(r, m.type));
      m.write = std::visit([](auto&& o) { return WriteOp{std::move(o)}; }, std::move(op));
      return m;
    }
    default: return Err{ParseError{type_at, "unsupported op code " + std::to_string(type)}};
  }
}

// --- replies -------------------------------------------------------------------

namespace {

void put_result_body(JuteWriter& w, const OpResult& r) {
  switch (r.type) {
    case OpCode::create: w.string(r.path); break;
    case OpCode::create2:
      w.string(r.path);
      w.stat(r.stat);
      break;
    case OpCode::set_data: w.stat(r.stat); break;
    case OpCode::error: w.int32(static_cast<std::int32_t>(r.err)); break;
    default: break;  // delete, check: no body
  }
}

Result<OpResult, ParseError> get_result_body(JuteReader& r, OpCode type) {
  OpResult out;
  out.type = type;
  switch (type) {
    case OpCode::create:
    case OpCode::create2: {
      SAMSA_COORD_TRY(path, r.string());
      out.path = std::move(path);
      if (type == OpCode::create2) {
        SAMSA_COORD_TRY(stat, r.stat());
        out.stat = stat;
      }
      return out;
    }
    case OpCode::set_data: {
      SAMSA_COORD_TRY(stat, r.stat());
      out.stat = stat;
      return out;
    }
    case OpCode::error: {
      SAMSA_COORD_TRY(err, r.int32());
      out.err = static_cast<Code>(err);
      return out;
    }
    case OpCode::remove:
    case OpCode::check: return out;
    default: return Err{r.error("unknown multi result type")};
  }
}

}  // namespace

Bytes encode(const Response& m, OpCode type) {
  JuteWriter w;
  w.int32(m.header.xid);
  w.int64(m.header.zxid);
  w.int32(static_cast<std::int32_t>(m.header.err));
  if (m.header.xid == k_watch_xid) {
    w.int32(static_cast<std::int32_t>(m.event.type));
    w.int32(static_cast<std::int32_t>(m.event.state));
    w.string(m.event.path);
    return w.finish();
  }
  if (m.header.err != Code::ok || m.header.xid == k_ping_xid) return w.finish();
  switch (type) {
    case OpCode::exists:
    case OpCode::set_data: w.stat(m.stat); break;
    case OpCode::get_data:
      w.buffer(m.data);
      w.stat(m.stat);
      break;
    case OpCode::get_children: put_strings(w, m.children); break;
    case OpCode::get_children2:
      put_strings(w, m.children);
      w.stat(m.stat);
      break;
    case OpCode::create: w.string(m.path); break;
    case OpCode::create2:
      w.string(m.path);
      w.stat(m.stat);
      break;
    case OpCode::multi:
      for (const OpResult& r : m.multi) {
        w.int32(static_cast<std::int32_t>(r.type));
        w.boolean(false);
        w.int32(r.type == OpCode::error ? static_cast<std::int32_t>(r.err) : 0);
        put_result_body(w, r);
      }
      w.int32(-1);
      w.boolean(true);
      w.int32(-1);
      break;
    default: break;  // delete, check, close, set_watches: header only
  }
  return w.finish();
}

Result<ReplyHeader, ParseError> decode_reply_header(ByteView frame) {
  JuteReader r(frame);
  SAMSA_COORD_TRY(xid, r.int32());
  SAMSA_COORD_TRY(zxid, r.int64());
  SAMSA_COORD_TRY(err, r.int32());
  return ReplyHeader{xid, zxid, static_cast<Code>(err)};
}

Result<Response, ParseError> decode_response(ByteView frame, OpCode type) {
  JuteReader r(frame);
  Response m;
  SAMSA_COORD_TRY(xid, r.int32());
  SAMSA_COORD_TRY(zxid, r.int64());
  SAMSA_COORD_TRY(err, r.int32());
  m.header = {xid, zxid, static_cast<Code>(err)};
  if (xid == k_watch_xid) {
    SAMSA_COORD_TRY(etype, r.int32());
    SAMSA_COORD_TRY(state, r.int32());
    SAMSA_COORD_TRY(path, r.string());
    m.event = {static_cast<EventType>(etype), static_cast<KeeperState>(state), std::move(path)};
    return m;
  }
  if (m.header.err != Code::ok || xid == k_ping_xid) return m;
  switch (type) {
    case OpCode::exists:
    case OpCode::set_data: {
      SAMSA_COORD_TRY(stat, r.stat());
      m.stat = stat;
      return m;
    }
    case OpCode::get_data: {
      SAMSA_COORD_TRY(data, r.buffer());
      SAMSA_COORD_TRY(stat, r.stat());
      m.data = std::move(data);
      m.stat = stat;
      return m;
    }
    case OpCode::get_children:
    case OpCode::get_children2: {
      SAMSA_COORD_TRY(kids, get_strings(r));
      m.children = std::move(kids);
      if (type == OpCode::get_children2) {
        SAMSA_COORD_TRY(stat, r.stat());
        m.stat = stat;
      }
      return m;
    }
    case OpCode::create:
    case OpCode::create2: {
      SAMSA_COORD_TRY(res, get_result_body(r, type));
      m.path = std::move(res.path);
      m.stat = res.stat;
      return m;
    }
    case OpCode::multi:
      for (int i = 0;; ++i) {
        if (i > 10'000) return Err{r.error("multi reply too long")};
        SAMSA_COORD_TRY(rtype, r.int32());
        SAMSA_COORD_TRY(done, r.boolean());
        SAMSA_COORD_TRY(rerr, r.int32());
        (void)rerr;
        if (done) return m;
        SAMSA_COORD_TRY(res, get_result_body(r, static_cast<OpCode>(rtype)));
        m.multi.push_back(std::move(res));
      }
    default: return m;
  }
}

}  // namespace samsa::coord
