// The generic JSON printer for decoded messages.
#include <charconv>

#include "system/protocol/schema.h"

namespace samsa::protocol {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<std::uint8_t>(s[i]);
  std::size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xe ? 3 : (b0 >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<std::uint8_t>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

void escape_byte(std::string& out, std::uint8_t c) {
  static constexpr char k_digits[] = "0123456789abcdef";
  out += "\\u00";
  out += k_digits[c >> 4];
  out += k_digits[c & 0xf];
}

std::string number(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, res.ptr);
  // JSON has no inf/nan: quote them.
  if (s.find_first_of("in") != std::string::npos) return "\"" + s + "\"";
  return s;
}

std::string pad(int indent) { return std::string(static_cast<std::size_t>(indent), ' '); }

std::string value_json(const FieldSpec& f, FieldType t, const Value& v, const RecordsPrinter& records,
                       int indent);

std::string struct_json(std::span<const FieldSpec> fields, const Value& v, const RecordsPrinter& records,
                        int indent) {
  std::string out = "{";
  bool first = true;
  for (std::size_t i = 0; i < fields.size() && i < v.items_.size(); ++i) {
    if (v.items_[i].is_absent()) continue;
    out += first ? "\n" : ",\n";
    first = false;
    out += pad(indent + 2) + json_string(fields[i].name) + ": " +
           value_json(fields[i], fields[i].type, v.items_[i], records, indent + 2);
  }
  if (!v.unknown_tags_.empty()) {
    out += first ? "\n" : ",\n";
    first = false;
    out += pad(indent + 2) + "\"_unknown_tags\": [";
    for (std::size_t i = 0; i < v.unknown_tags_.size(); ++i) {
      const UnknownTag& t = v.unknown_tags_[i];
      out += (i ? ", " : "") + std::string("{\"tag\": ") + std::to_string(t.tag) +
             ", \"hex\": \"" + hex(t.data) + "\"}";
    }
    out += "]";
  }
  return out + (first ? "}" : "\n" + pad(indent) + "}");
}

std::string default_records(ByteView b, int) {
  return "{\"size_bytes\": " + std::to_string(b.size()) + ", \"hex\": \"" + hex(b) + "\"}";
}

std::string value_json(const FieldSpec& f, FieldType t, const Value& v, const RecordsPrinter& records,
                       int indent) {
  switch (v.kind) {
    case Value::Kind::absent:
    case Value::Kind::null: return "null";
    case Value::Kind::integer: return std::to_string(v.int_);
    case Value::Kind::boolean: return v.int_ ? "true" : "false";
    case Value::Kind::float64: return number(v.float_);
    case Value::Kind::string: return json_string(v.str_);
    case Value::Kind::uuid: return json_string(uuid_to_string(v.uuid_));
    case Value::Kind::bytes:
      if (t == FieldType::records) return records ? records(v.bytes_, indent) : default_records(v.bytes_, indent);
      return json_string(hex(v.bytes_));
    case Value::Kind::strukt: return struct_json(f.fields, v, records, indent);
    case Value::Kind::array: {
      if (v.items_.empty()) return "[]";
      std::string out = "[";
      if (f.element != FieldType::strukt) {  // short scalars: one line
        for (std::size_t i = 0; i < v.items_.size(); ++i) {
          out += (i ? ", " : "") + value_json(f, f.element, v.items_[i], records, indent + 2);
        }
        return out + "]";
      }
      for (std::size_t i = 0; i < v.items_.size(); ++i) {
        out += (i ? ",\n" : "\n") + pad(indent + 2) + value_json(f, f.element, v.items_[i], records, indent + 2);
      }
      return out + "\n" + pad(indent) + "]";
    }
  }
  return "null";
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      escape_byte(out, c);
      ++i;
    } else if (std::size_t n = utf8_length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      escape_byte(out, c);  // not UTF-8: show the byte as a Latin-1 code point
      ++i;
    }
  }
  return out + "\"";
}

std::string hex(ByteView b) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (std::uint8_t c : b) {
    out += k_digits[c >> 4];
    out += k_digits[c & 0xf];
  }
  return out;
}

std::string uuid_to_string(const Uuid& u) {
  // Kafka's Uuid.toString(): URL-safe base64 without padding (22 chars).
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t c : u) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += k_alphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += k_alphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

std::string message_to_json(const MessageSpec& spec, const Value& v, const RecordsPrinter& records,
                            int indent) {
  return struct_json(spec.fields, v, records, indent);
}

}  // namespace samsa::protocol
