#include "system/protocol/schema.h"

#include <algorithm>

namespace samsa::protocol {

std::string_view to_string(FieldType t) {
  switch (t) {
    case FieldType::int8: return "int8";
    case FieldType::int16: return "int16";
    case FieldType::int32: return "int32";
    case FieldType::int64: return "int64";
    case FieldType::uint16: return "uint16";
    case FieldType::uint32: return "uint32";
    case FieldType::float64: return "float64";
    case FieldType::boolean: return "bool";
    case FieldType::string: return "string";
    case FieldType::bytes: return "bytes";
    case FieldType::records: return "records";
    case FieldType::uuid: return "uuid";
    case FieldType::strukt: return "struct";
    case FieldType::array: return "array";
  }
  return "?";
}

std::size_t field_index(std::span<const FieldSpec> fields, std::string_view name) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return i;
  }
  SAMSA_ASSERT(false, "no such field in the schema");
  return 0;
}

const Value& StructView::operator[](std::string_view name) const {
  return v_->items_.at(field_index(fields_, name));
}
std::int64_t StructView::int_or(std::string_view name, std::int64_t fallback) const {
  const Value& x = (*this)[name];
  return (x.kind == Value::Kind::integer || x.kind == Value::Kind::boolean) ? x.int_ : fallback;
}
std::string StructView::str_or(std::string_view name, std::string fallback) const {
  const Value& x = (*this)[name];
  return x.kind == Value::Kind::string ? x.str_ : fallback;
}
StructView StructView::at(std::string_view name, std::size_t i) const {
  const std::size_t idx = field_index(fields_, name);
  return StructView(fields_[idx].fields, v_->items_.at(idx).items_.at(i));
}
std::size_t StructView::size(std::string_view name) const { return (*this)[name].items_.size(); }

Value& field(std::span<const FieldSpec> fields, Value& s, std::string_view name) {
  return s.items_.at(field_index(fields, name));
}

namespace {

bool is_int(FieldType t) {
  return t == FieldType::int8 || t == FieldType::int16 || t == FieldType::int32 ||
         t == FieldType::int64 || t == FieldType::uint16 || t == FieldType::uint32;
}

Value default_of(const FieldSpec& f, FieldType t, std::int16_t version) {
  const bool null_ok = f.default_null && f.nullable.contains(version);
  switch (t) {
    case FieldType::boolean: return Value::boolean(f.default_int != 0);
    case FieldType::float64: return Value::float64(0);
    case FieldType::string: return null_ok ? Value::null() : Value::string("");
    case FieldType::bytes:
    case FieldType::records: return null_ok ? Value::null() : Value::bytes({});
    case FieldType::uuid: return Value::uuid(Uuid{});
    case FieldType::array: return null_ok ? Value::null() : Value::array({});
    case FieldType::strukt: return default_struct(f.fields, version);
    default: return Value::integer(f.default_int);
  }
}

// ---- decoding ----
// Values are decoded in place (into the slot of their parent struct or
// array): a Value is large, and moving it through Results per field cost
// more than the decoding itself.

struct Ctx {
  std::int16_t version;
  bool flexible;
};

using Status = Result<void, DecodeError>;

#define SAMSA_CHECK(expr)                       \
  do {                                          \
    if (auto st_ = (expr); !st_) return st_;    \
  } while (0)

Status decode_struct(std::span<const FieldSpec> fields, Ctx c, Reader& r, Value& out);

template <class T>
Status set_int(Result<T, DecodeError> v, Value& out) {
  if (!v) return Err{v.error()};
  out.kind = Value::Kind::integer;
  out.int_ = *v;
  return {};
}

Status decode_int(FieldType t, Reader& r, Value& out) {
  switch (t) {
    case FieldType::int8: return set_int(r.int8(), out);
    case FieldType::int16: return set_int(r.int16(), out);
    case FieldType::int32: return set_int(r.int32(), out);
    case FieldType::uint16: return set_int(r.uint16(), out);
    case FieldType::uint32: return set_int(r.uint32(), out);
    default: return set_int(r.int64(), out);
  }
}

Status decode_one(const FieldSpec& f, FieldType t, Ctx c, Reader& r, Value& out);

Status decode_array(const FieldSpec& f, Ctx c, Reader& r, Value& out) {
  const std::size_t start = r.offset();
  SAMSA_TRY(n, r.array_length(c.flexible));
  if (!n) {
    if (!f.nullable.contains(c.version)) return Err{DecodeError{start, "null array where not nullable"}};
    out.kind = Value::Kind::null;
    return {};
  }
  out.kind = Value::Kind::array;
  // n <= bytes left (Reader checks), yet reserve little: elements may be
  // much larger in memory than on the wire.
  out.items_.reserve(std::min<std::size_t>(*n, 1024));
  for (std::size_t i = 0; i < *n; ++i) {
    auto st = decode_one(f, f.element, c, r, out.items_.emplace_back());
    if (!st) return Err{prefixed(st.error(), "[" + std::to_string(i) + "]")};
  }
  return {};
}

// Strings, bytes and records: a length (null allowed where nullable), then
// the payload.
Status decode_blob(const FieldSpec& f, FieldType t, Ctx c, Reader& r, Value& out) {
  const std::size_t start = r.offset();
  const bool is_string = t == FieldType::string;
  SAMSA_TRY(n, is_string ? r.string_length(c.flexible) : r.bytes_length(c.flexible));
  if (!n) {
    if (!f.nullable.contains(c.version)) {
      return Err{DecodeError{start, is_string ? "null string where not nullable" : "null bytes where not nullable"}};
    }
    out.kind = Value::Kind::null;
    return {};
  }
  SAMSA_TRY(b, r.raw(*n));
  out.kind = is_string ? Value::Kind::string : Value::Kind::bytes;
  if (is_string) {
    out.str_.assign(as_chars(b));
  } else {
    out.bytes_.assign(b.begin(), b.end());
  }
  return {};
}

Status decode_one(const FieldSpec& f, FieldType t, Ctx c, Reader& r, Value& out) {
  switch (t) {
    case FieldType::boolean: {
      SAMSA_TRY(v, r.int8());
      out.kind = Value::Kind::boolean;
      out.int_ = v != 0;
      return {};
    }
    case FieldType::float64: {
      SAMSA_TRY(v, r.float64());
      out.kind = Value::Kind::float64;
      out.float_ = v;
      return {};
    }
    case FieldType::uuid: {
      SAMSA_TRY(v, r.uuid());
      out.kind = Value::Kind::uuid;
      out.uuid_ = v;
      return {};
    }
    case FieldType::string:
    case FieldType::bytes:
    case FieldType::records: return decode_blob(f, t, c, r, out);
    case FieldType::array:
      // Arrays of arrays do not occur in Kafka's schemas.
      SAMSA_ASSERT(f.element != FieldType::array, "array of arrays in a schema");
      return decode_array(f, c, r, out);
    case FieldType::strukt: {
      // A struct is nullable only as a field of its own, never as an element.
      if (f.type == FieldType::strukt && f.nullable.contains(c.version)) {
        SAMSA_TRY(marker, r.int8());
        if (marker < 0) {
          out.kind = Value::Kind::null;
          return {};
        }
      }
      return decode_struct(f.fields, c, r, out);
    }
    default: return decode_int(t, r, out);
  }
}

Status decode_field(const FieldSpec& f, Ctx c, Reader& r, Value& out) {
  auto st = decode_one(f, f.type, c, r, out);
  if (!st) return Err{prefixed(st.error(), f.name)};
  return st;
}

// Index of the field tagged `tag` in this version, or fields.size().
std::size_t tagged_field(std::span<const FieldSpec> fields, std::uint32_t tag, std::int16_t version) {
  std::size_t k = 0;
  while (k < fields.size() &&
         !(fields[k].tag == static_cast<std::int64_t>(tag) && fields[k].tagged.contains(version))) {
    ++k;
  }
  return k;
}

// Reads the tagged-field section of a struct into `out` (known tags) and its
// unknown_tags_.
Status decode_tags(std::span<const FieldSpec> fields, Ctx c, Reader& r, Value& out) {
  SAMSA_TRY(count, r.unsigned_varint());
  std::int64_t last_tag = -1;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t start = r.offset();
    SAMSA_TRY(tag, r.unsigned_varint());
    if (static_cast<std::int64_t>(tag) <= last_tag) {
      return Err{DecodeError{start, "tagged fields out of order: tag " + std::to_string(tag) +
                                        " after " + std::to_string(last_tag)}};
    }
    last_tag = tag;
    SAMSA_TRY(size, r.unsigned_varint());
    const std::size_t data_start = r.offset();
    SAMSA_TRY(data, r.raw(size));
    const std::size_t k = tagged_field(fields, tag, c.version);
    if (k == fields.size()) {
      out.unknown_tags_.push_back(UnknownTag{tag, Bytes(data.begin(), data.end())});
      continue;
    }
    Reader sub(data, data_start);
    SAMSA_CHECK(decode_field(fields[k], c, sub, out.items_[k]));
    if (!sub.at_end()) {
      return Err{sub.error_here(std::string(fields[k].name) + ": tagged field has " +
                                std::to_string(sub.remaining()) + " bytes left over")};
    }
  }
  return {};
}

Status decode_struct(std::span<const FieldSpec> fields, Ctx c, Reader& r, Value& out) {
  out.kind = Value::Kind::strukt;
  out.items_.resize(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& f = fields[i];
    if (!f.versions.contains(c.version) || f.tagged.contains(c.version)) continue;
    SAMSA_CHECK(decode_field(f, c, r, out.items_[i]));
  }
  if (c.flexible) SAMSA_CHECK(decode_tags(fields, c, r, out));
  return {};
}

#undef SAMSA_CHECK

// ---- encoding ----

void encode_struct(std::span<const FieldSpec> fields, Ctx c, const Value& v, Writer& w);

void encode_int(FieldType t, std::int64_t v, Writer& w) {
  switch (t) {
    case FieldType::int8: return w.int8(static_cast<std::int8_t>(v));
    case FieldType::int16: return w.int16(static_cast<std::int16_t>(v));
    case FieldType::int32: return w.int32(static_cast<std::int32_t>(v));
    case FieldType::uint16: return w.uint16(static_cast<std::uint16_t>(v));
    case FieldType::uint32: return w.uint32(static_cast<std::uint32_t>(v));
    default: return w.int64(v);
  }
}

void encode_one(const FieldSpec& f, FieldType t, Ctx c, const Value& v, Writer& w) {
  if (v.is_absent()) return encode_one(f, t, c, default_of(f, t, c.version), w);
  const bool null = v.is_null();
  SAMSA_ASSERT(!null || f.nullable.contains(c.version), "null value for a non-nullable field");
  switch (t) {
    case FieldType::boolean: return w.int8(v.int_ != 0 ? 1 : 0);
    case FieldType::float64: return w.float64(v.float_);
    case FieldType::uuid: return w.uuid(v.uuid_);
    case FieldType::string:
      if (null) return w.string_length(std::nullopt, c.flexible);
      w.string_length(v.str_.size(), c.flexible);
      return w.raw(as_bytes(v.str_));
    case FieldType::bytes:
    case FieldType::records:
      if (null) return w.bytes_length(std::nullopt, c.flexible);
      w.bytes_length(v.bytes_.size(), c.flexible);
      return w.raw(v.bytes_);
    case FieldType::array:
      if (null) return w.array_length(std::nullopt, c.flexible);
      w.array_length(v.items_.size(), c.flexible);
      for (const Value& item : v.items_) encode_one(f, f.element, c, item, w);
      return;
    case FieldType::strukt:
      if (f.type == FieldType::strukt && f.nullable.contains(c.version)) {
        w.int8(null ? -1 : 1);
        if (null) return;
      }
      return encode_struct(f.fields, c, v, w);
    default:
      SAMSA_ASSERT(is_int(t) && v.kind == Value::Kind::integer, "value kind does not match field type");
      return encode_int(t, v.int_, w);
  }
}

void encode_tags(std::span<const FieldSpec> fields, Ctx c, const Value& v, Writer& w) {
  std::vector<UnknownTag> tags = v.unknown_tags_;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& f = fields[i];
    if (!f.versions.contains(c.version) || !f.tagged.contains(c.version)) continue;
    if (i >= v.items_.size() || v.items_[i].is_absent()) continue;
    UnknownTag t{static_cast<std::uint32_t>(f.tag), {}};
    Writer tw(t.data);
    encode_one(f, f.type, c, v.items_[i], tw);
    tags.push_back(std::move(t));
  }
  std::stable_sort(tags.begin(), tags.end(), [](const UnknownTag& a, const UnknownTag& b) { return a.tag < b.tag; });
  write_unknown_tags(tags, w);
}

void encode_struct(std::span<const FieldSpec> fields, Ctx c, const Value& v, Writer& w) {
  SAMSA_ASSERT(v.kind == Value::Kind::strukt, "struct field holds a non-struct value");
  static const Value absent;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& f = fields[i];
    if (!f.versions.contains(c.version) || f.tagged.contains(c.version)) continue;
    encode_one(f, f.type, c, i < v.items_.size() ? v.items_[i] : absent, w);
  }
  if (c.flexible) encode_tags(fields, c, v, w);
}

}  // namespace

DecodeError prefixed(DecodeError e, std::string_view segment) {
  const bool join = !e.path.empty() && e.path[0] != '[';
  e.path = std::string(segment) + (join ? "." : "") + e.path;
  return e;
}

Value default_struct(std::span<const FieldSpec> fields, std::int16_t version) {
  Value out = Value::strukt(std::vector<Value>(fields.size()));
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& f = fields[i];
    if (!f.versions.contains(version) || f.tagged.contains(version)) continue;
    out.items_[i] = default_of(f, f.type, version);
  }
  return out;
}

Result<Value, DecodeError> decode_message(const MessageSpec& spec, std::int16_t version, Reader& r) {
  Value out;
  auto st = decode_struct(spec.fields, Ctx{version, spec.flexible.contains(version)}, r, out);
  if (!st) return Err{st.error()};
  return out;
}

void encode_message(const MessageSpec& spec, std::int16_t version, const Value& v, Writer& w) {
  encode_struct(spec.fields, Ctx{version, spec.flexible.contains(version)}, v, w);
}

Result<std::vector<UnknownTag>, DecodeError> read_unknown_tags(Reader& r) {
  Value holder = Value::strukt({});
  auto ok = decode_tags({}, Ctx{0, true}, r, holder);
  if (!ok) return Err{ok.error()};
  return std::move(holder.unknown_tags_);
}

void write_unknown_tags(const std::vector<UnknownTag>& tags, Writer& w) {
  w.unsigned_varint(static_cast<std::uint32_t>(tags.size()));
  for (const UnknownTag& t : tags) {
    w.unsigned_varint(t.tag);
    w.unsigned_varint(static_cast<std::uint32_t>(t.data.size()));
    w.raw(t.data);
  }
}

}  // namespace samsa::protocol
