#pragma once
// The schema engine: every Kafka API message is data (a tree of FieldSpec),
// and one generic decoder, encoder and JSON printer work for all of them.
//
// A FieldSpec says in which versions a field exists, in which it may be null,
// and in which it is a tagged field (flexible versions, KIP-482). A decoded
// message is a Value: a struct whose items follow the spec's fields by
// position (absent where the field does not exist in that version, or where a
// tagged field was not sent).
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "system/protocol/wire.h"

namespace samsa::protocol {

enum class FieldType : std::uint8_t {
  int8, int16, int32, int64, uint16, uint32, float64, boolean,
  string, bytes, records, uuid, strukt, array,
};
std::string_view to_string(FieldType t);

struct VersionRange {
  std::int16_t lo = 1;  // empty by default (lo > hi)
  std::int16_t hi = 0;
  constexpr bool contains(std::int16_t v) const { return lo <= v && v <= hi; }
};
inline constexpr std::int16_t k_version_max = std::numeric_limits<std::int16_t>::max();
inline constexpr VersionRange k_no_versions{1, 0};

struct FieldSpec {
  std::string_view name;             // Kafka's JSON field name
  FieldType type;
  FieldType element;                 // element type when type == array
  VersionRange versions;             // where the field exists
  VersionRange nullable = k_no_versions;
  std::int32_t tag = -1;             // tag id when tagged in some versions
  VersionRange tagged = k_no_versions;
  std::span<const FieldSpec> fields = {};  // struct, or array of struct
  std::int64_t default_int = 0;      // for ints and bools when absent
  bool default_null = false;         // nullable strings/bytes/arrays
};

struct MessageSpec {
  std::string_view name;  // e.g. "MetadataRequest"
  VersionRange flexible;  // versions using compact forms and tagged fields
  std::span<const FieldSpec> fields;
};

// A tagged field whose tag this build does not know; kept so re-encoding
// loses nothing.
struct UnknownTag {
  std::uint32_t tag = 0;
  Bytes data;
  bool operator==(const UnknownTag&) const = default;
};

// A generic message value. Ints of every width live in `int_`, strings in
// `str_`, bytes and record sets in `bytes_`; arrays and structs in `items_`.
struct Value {
  enum class Kind : std::uint8_t { absent, null, integer, float64, boolean, string, bytes, uuid, array, strukt };
  Kind kind = Kind::absent;
  std::int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  Bytes bytes_;
  Uuid uuid_{};
  std::vector<Value> items_;
  std::vector<UnknownTag> unknown_tags_;  // structs only

  static Value null() { return with(Kind::null); }
  static Value integer(std::int64_t v) { Value x = with(Kind::integer); x.int_ = v; return x; }
  static Value boolean(bool v) { Value x = with(Kind::boolean); x.int_ = v; return x; }
  static Value float64(double v) { Value x = with(Kind::float64); x.float_ = v; return x; }
  static Value string(std::string v) { Value x = with(Kind::string); x.str_ = std::move(v); return x; }
  static Value bytes(Bytes v) { Value x = with(Kind::bytes); x.bytes_ = std::move(v); return x; }
  static Value uuid(const Uuid& v) { Value x = with(Kind::uuid); x.uuid_ = v; return x; }
  static Value array(std::vector<Value> v) { Value x = with(Kind::array); x.items_ = std::move(v); return x; }
  static Value strukt(std::vector<Value> v) { Value x = with(Kind::strukt); x.items_ = std::move(v); return x; }

  bool is_absent() const { return kind == Kind::absent; }
  bool is_null() const { return kind == Kind::null; }
  bool operator==(const Value&) const = default;

 private:
  static Value with(Kind k) { Value x; x.kind = k; return x; }
};

// Index of field `name` in `fields`; SAMSA_ASSERTs that it exists (names
// come from our own code, not from the wire).
std::size_t field_index(std::span<const FieldSpec> fields, std::string_view name);

// A struct value seen through its spec, for access by Kafka field name.
class StructView {
 public:
  StructView(std::span<const FieldSpec> fields, const Value& v) : fields_(fields), v_(&v) {}
  const Value& operator[](std::string_view name) const;
  std::int64_t int_or(std::string_view name, std::int64_t fallback) const;
  std::string str_or(std::string_view name, std::string fallback = "") const;
  // Element i of array-of-struct field `name`.
  StructView at(std::string_view name, std::size_t i) const;
  std::size_t size(std::string_view name) const;  // elements of an array field

 private:
  std::span<const FieldSpec> fields_;
  const Value* v_;
};

// A struct value with every field of `version` set to its default, ready to
// fill in by name.
Value default_struct(std::span<const FieldSpec> fields, std::int16_t version);
Value& field(std::span<const FieldSpec> fields, Value& s, std::string_view name);

// Decodes one message body. Offsets in errors are absolute (reader's base).
Result<Value, DecodeError> decode_message(const MessageSpec& spec, std::int16_t version, Reader& r);
// Encodes a message body. Absent fields are written with their defaults; a
// value of the wrong kind for its field is a bug in the caller (asserts).
void encode_message(const MessageSpec& spec, std::int16_t version, const Value& v, Writer& w);
// Prints a record set as a JSON value; `indent` is the current depth in
// spaces. The default shows size and hex.
using RecordsPrinter = std::function<std::string(ByteView records, int indent)>;
// Kafka field names as JSON keys, in schema order; fields absent in this
// version and tagged fields not sent are left out. UUIDs print as Kafka does
// (URL-safe base64), bytes as hex.
std::string message_to_json(const MessageSpec& spec, const Value& v,
                            const RecordsPrinter& records = {}, int indent = 0);
// JSON helpers shared with the header printers and `samsa decode`.
std::string json_string(std::string_view s);
std::string hex(ByteView b);
std::string uuid_to_string(const Uuid& u);

// `e` with `segment` (a field name or "[i]") put in front of its path; shared
// with the typed messages so both engines name the same path.
DecodeError prefixed(DecodeError e, std::string_view segment);

// Tagged-field section helpers, shared with the request/response headers.
Result<std::vector<UnknownTag>, DecodeError> read_unknown_tags(Reader& r);
void write_unknown_tags(const std::vector<UnknownTag>& tags, Writer& w);

}  // namespace samsa::protocol
