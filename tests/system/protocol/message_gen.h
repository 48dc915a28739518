#pragma once
// RapidCheck generators for Kafka messages, driven by the schemas themselves
// (shared by messages_test.cpp and typed_messages_test.cpp).
#include <rapidcheck.h>

#include "system/protocol/api.h"

namespace samsa::protocol::test_gen {

struct Gen {
  std::int16_t version;
  bool flexible;
};

inline Value gen_struct(std::span<const FieldSpec> fields, Gen g);

inline std::string gen_text() {
  return *rc::gen::resize(12, rc::gen::arbitrary<std::string>());
}

inline Value gen_int(FieldType t) {
  switch (t) {
    case FieldType::int8: return Value::integer(*rc::gen::arbitrary<std::int8_t>());
    case FieldType::int16: return Value::integer(*rc::gen::arbitrary<std::int16_t>());
    case FieldType::int32: return Value::integer(*rc::gen::arbitrary<std::int32_t>());
    case FieldType::uint16: return Value::integer(*rc::gen::arbitrary<std::uint16_t>());
    case FieldType::uint32: return Value::integer(*rc::gen::arbitrary<std::uint32_t>());
    default: return Value::integer(*rc::gen::arbitrary<std::int64_t>());
  }
}

inline Value gen_one(const FieldSpec& f, FieldType t, Gen g, bool nullable) {
  if (nullable && *rc::gen::inRange(0, 5) == 0) return Value::null();
  switch (t) {
    case FieldType::boolean: return Value::boolean(*rc::gen::arbitrary<bool>());
    case FieldType::float64: return Value::float64(*rc::gen::inRange(-1000, 1000) / 8.0);
    case FieldType::string: return Value::string(gen_text());
    case FieldType::bytes:
    case FieldType::records: return Value::bytes(*rc::gen::resize(20, rc::gen::arbitrary<Bytes>()));
    case FieldType::uuid: return Value::uuid(*rc::gen::arbitrary<Uuid>());
    case FieldType::strukt: return gen_struct(f.fields, g);
    case FieldType::array: {
      const int n = *rc::gen::inRange(0, 3);
      std::vector<Value> items;
      for (int i = 0; i < n; ++i) items.push_back(gen_one(f, f.element, g, false));
      return Value::array(std::move(items));
    }
    default: return gen_int(t);
  }
}

inline Value gen_struct(std::span<const FieldSpec> fields, Gen g) {
  Value s = Value::strukt(std::vector<Value>(fields.size()));
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& f = fields[i];
    if (!f.versions.contains(g.version)) continue;
    if (f.tagged.contains(g.version) && *rc::gen::arbitrary<bool>()) continue;  // tagged, not sent
    s.items_[i] = gen_one(f, f.type, g, f.nullable.contains(g.version));
  }
  if (g.flexible && *rc::gen::inRange(0, 8) == 0) {
    // A tag this build does not know must survive a round trip.
    s.unknown_tags_.push_back(UnknownTag{1000, *rc::gen::resize(5, rc::gen::arbitrary<Bytes>())});
  }
  return s;
}

inline Value gen_body(const MessageSpec& spec, std::int16_t version) {
  return gen_struct(spec.fields, Gen{version, spec.flexible.contains(version)});
}

inline RequestHeader gen_header(const ApiSpec& api, std::int16_t version) {
  RequestHeader h;
  h.api_key = api.key;
  h.api_version = version;
  h.correlation_id = *rc::gen::arbitrary<std::int32_t>();
  if (request_header_version(api.key, version) >= 1 && *rc::gen::inRange(0, 4) != 0) h.client_id = gen_text();
  return h;
}

// Every (api, version) the table supports.
inline std::vector<std::pair<const ApiSpec*, std::int16_t>> all_versions() {
  std::vector<std::pair<const ApiSpec*, std::int16_t>> out;
  for (const ApiSpec& api : supported_apis()) {
    for (std::int16_t v = api.min_version; v <= api.max_version; ++v) out.emplace_back(&api, v);
  }
  return out;
}

// RC_ASSERT with the (api, version) in the failure message.
inline void require(bool ok, const ApiSpec& api, std::int16_t v, const char* what) {
  if (!ok) RC_FAIL(std::string(api.name) + " v" + std::to_string(v) + ": " + what);
}

inline Bytes with_size_prefix(ByteView payload) {
  Bytes out;
  Writer w(out);
  w.int32(static_cast<std::int32_t>(payload.size()));
  w.raw(payload);
  return out;
}


}  // namespace samsa::protocol::test_gen
