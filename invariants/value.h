#pragma once
// An operation's value in a compact form: one byte string per value (a tag
// byte per JSON node, varint lengths, the usual history keys as one byte),
// read in place through ValueRef, whose reading calls follow nlohmann::json's
// (is_object, contains, operator[], value, get, iteration) so the checkers
// read it as they read JSON, without a tree of allocations per op.
//
// Why: a history holds one value per op (about 230k ops at 1,000 records/s);
// as nlohmann::json trees they were ~150 MiB and every checker walked map
// nodes. The bytes keep the JSON's structure exactly (object keys in the
// order given — nlohmann's sorted order —, integer vs unsigned vs float), so
// dump() writes the same bytes as nlohmann::json::dump() of the value it was
// built from: history.jsonl stays byte-identical.
//
//   Value v = nlohmann::json{{"topic", "t"}, {"offset", 3}};
//   if (v.is_object() && v.contains("offset")) use(v["offset"].get<std::int64_t>());
//   for (ValueRef r : v["records"]) use(r.value("topic", ""));
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

namespace samsa::invariants {

class ValueRef;

namespace value_detail {
enum Tag : std::uint8_t { null_t, false_t, true_t, int_t, uint_t, double_t, string_t, array_t, object_t };
std::uint64_t read_varint(const std::uint8_t*& p);
const std::uint8_t* skip(const std::uint8_t* p);  // past one encoded value
std::string_view read_key(const std::uint8_t*& p);
extern const std::uint8_t k_null;

// The reading calls, shared by Value (owner) and ValueRef (view).
template <class D>
class Api {
 public:
  bool is_null() const { return tag() == null_t; }
  bool is_boolean() const { return tag() == false_t || tag() == true_t; }
  bool is_number_integer() const { return tag() == int_t || tag() == uint_t; }
  bool is_number_unsigned() const { return tag() == uint_t; }
  bool is_number_float() const { return tag() == double_t; }
  bool is_number() const { return is_number_integer() || is_number_float(); }
  bool is_string() const { return tag() == string_t; }
  bool is_array() const { return tag() == array_t; }
  bool is_object() const { return tag() == object_t; }
  bool is_structured() const { return is_array() || is_object(); }

  std::size_t size() const;
  bool empty() const { return size() == 0; }
  bool contains(std::string_view key) const;
  ValueRef operator[](std::string_view key) const;  // null when absent or not an object
  ValueRef operator[](const char* key) const;
  ValueRef operator[](std::size_t i) const;         // null when out of range
  ValueRef operator[](int i) const;
  ValueRef at(std::string_view key) const;          // throws std::out_of_range when absent

  std::string_view str() const;  // a string's bytes ("" for a non-string)
  template <class T>
  T get() const;
  // As nlohmann's value(): the field's value when present (and convertible), else `def`.
  std::string value(std::string_view key, const char* def) const;
  template <class T>
  T value(std::string_view key, T def) const;

  std::string dump() const;  // the same bytes as nlohmann::json::dump()
  void dump_to(std::string& out) const;
  nlohmann::json to_json() const;

 private:
  std::uint8_t tag() const { return *self().data(); }
  const D& self() const { return static_cast<const D&>(*this); }
};
}  // namespace value_detail

// A view of one encoded value; valid while the Value it points into lives.
class ValueRef : public value_detail::Api<ValueRef> {
 public:
  ValueRef() : p_(&value_detail::k_null) {}
  explicit ValueRef(const std::uint8_t* p) : p_(p) {}
  const std::uint8_t* data() const { return p_; }
  ValueRef ref() const { return *this; }

  // Iteration over an array's elements or an object's values (key() names them).
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = ValueRef;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = ValueRef;
    iterator() = default;
    iterator(const std::uint8_t* p, std::size_t left, bool object);
    ValueRef operator*() const { return ValueRef(value_); }
    std::string_view key() const { return key_; }
    ValueRef value() const { return ValueRef(value_); }
    iterator& operator++();
    bool operator==(const iterator& o) const { return left_ == o.left_; }

   private:
    void load();
    const std::uint8_t* p_ = nullptr;  // the next entry
    const std::uint8_t* value_ = nullptr;
    std::string_view key_;
    std::size_t left_ = 0;
    bool object_ = false;
  };
  iterator begin() const;
  iterator end() const { return {}; }

 private:
  const std::uint8_t* p_;
};

namespace value_detail {
// A Value's bytes in 16 bytes (std::string took 32): up to 12 in place, else
// one heap block of exactly their size. The history holds one per op, so
// this was a fifth of a long run's history.
class Packed {
 public:
  Packed() = default;
  explicit Packed(std::string_view bytes);
  Packed(const Packed& o) : Packed(o.view()) {}
  Packed(Packed&& o) noexcept : size_(o.size_) {
    std::memcpy(buf_, o.buf_, sizeof buf_);
    o.size_ = 0;
  }
  Packed& operator=(const Packed& o) { return this == &o ? *this : *this = Packed(o.view()); }
  Packed& operator=(Packed&& o) noexcept {
    if (this == &o) return *this;
    release();
    std::memcpy(buf_, o.buf_, sizeof buf_);
    size_ = o.size_;
    o.size_ = 0;
    return *this;
  }
  ~Packed() { release(); }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  const std::uint8_t* data() const { return size_ <= k_inline ? buf_ : heap(); }
  std::string_view view() const { return {reinterpret_cast<const char*>(data()), size_}; }

 private:
  static constexpr std::size_t k_inline = 12;
  std::uint8_t* heap() const {
    std::uint8_t* p;
    std::memcpy(&p, buf_, sizeof p);
    return p;
  }
  void release() {
    if (size_ > k_inline) delete[] heap();
    size_ = 0;
  }
  alignas(4) std::uint8_t buf_[k_inline] = {};  // the bytes, or the heap block's address
  std::uint32_t size_ = 0;
};
static_assert(sizeof(Packed) == 16);
}  // namespace value_detail

// An encoded value that owns its bytes (null when empty).
class Value : public value_detail::Api<Value> {
 public:
  Value() = default;
  Value(std::nullptr_t) {}
  Value(const nlohmann::json& j);  // NOLINT: implicit, as the json it replaces
  Value& operator=(const nlohmann::json& j) { return *this = Value(j); }
  // Takes bytes as ValueWriter wrote them (one encoded value).
  static Value from_bytes(std::string_view bytes) {
    Value v;
    v.bytes_ = value_detail::Packed(bytes);
    return v;
  }

  const std::uint8_t* data() const {
    return bytes_.empty() ? &value_detail::k_null : bytes_.data();
  }
  ValueRef ref() const { return ValueRef(data()); }
  operator ValueRef() const { return ref(); }  // NOLINT
  ValueRef::iterator begin() const { return ref().begin(); }
  ValueRef::iterator end() const { return {}; }
  std::size_t encoded_size() const { return bytes_.size(); }

 private:
  value_detail::Packed bytes_;
};

// Writes a Value's bytes directly: the bytes Value(json) encodes for the
// json these calls would build, without building it (no tree of map nodes
// and strings per op: most of recording's cost at 1,000 records/s). As in
// nlohmann's objects, keys must come in sorted order, each once; a C++
// type chooses the JSON type as nlohmann's does (signed: integer, unsigned:
// unsigned, bool, double, string).
//   ValueWriter w;
//   w.object().key("offset").value(std::int64_t{3}).key("topic").value("t").end();
//   Value v = w.take();  // == Value(json{{"offset", 3}, {"topic", "t"}})
class ValueWriter {
 public:
  ValueWriter();
  ~ValueWriter();
  ValueWriter(const ValueWriter&) = delete;
  ValueWriter& operator=(const ValueWriter&) = delete;

  ValueWriter& object() { return open(value_detail::object_t); }
  ValueWriter& array() { return open(value_detail::array_t); }
  ValueWriter& end();  // closes the innermost object or array
  ValueWriter& key(std::string_view k);
  ValueWriter& null() { return tag(value_detail::null_t); }
  ValueWriter& value(std::string_view s);
  ValueWriter& value(const char* s) { return value(std::string_view(s)); }
  ValueWriter& value(const std::string& s) { return value(std::string_view(s)); }
  ValueWriter& value(bool b) { return tag(b ? value_detail::true_t : value_detail::false_t); }
  ValueWriter& value(double d);
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  ValueWriter& value(T v) {
    if constexpr (std::is_signed_v<T>) return signed_int(static_cast<std::int64_t>(v));
    else return unsigned_int(static_cast<std::uint64_t>(v));
  }
  // The value written (every container closed); the writer is empty after.
  Value take();

 private:
  ValueWriter& open(value_detail::Tag t);
  ValueWriter& tag(value_detail::Tag t);
  ValueWriter& signed_int(std::int64_t v);
  ValueWriter& unsigned_int(std::uint64_t v);
  void counted();  // one more value in the innermost container
  struct Open {
    std::uint32_t at;     // where its count goes
    std::uint32_t count;  // values so far
  };
  std::string* out_;    // the thread's scratch, or own_ while another writer holds it
  std::string own_;
  bool scratch_ = false;
  Open stack_[8];
  int depth_ = 0;
};

// Equal as JSON values (nlohmann's ==: 1 == 1u == 1.0).
bool operator==(ValueRef a, ValueRef b);
inline bool operator==(const Value& a, const Value& b) { return a.ref() == b.ref(); }
inline bool operator==(ValueRef a, std::string_view s) { return a.is_string() && a.str() == s; }
inline bool operator==(const Value& a, std::string_view s) { return a.ref() == s; }
inline bool operator==(ValueRef a, const char* s) { return a == std::string_view(s); }
inline bool operator==(const Value& a, const char* s) { return a.ref() == std::string_view(s); }

// A string as nlohmann::json::dump() writes it (quoted, escaped; ensure_ascii off).
void dump_json_string(std::string& out, std::string_view s);

// --- template definitions ------------------------------------------------------------
namespace value_detail {

template <class T>
T number_as(const std::uint8_t* p) {
  const std::uint8_t t = *p++;
  if (t == int_t) {
    const std::uint64_t z = read_varint(p);
    return static_cast<T>(static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1)));
  }
  if (t == uint_t) return static_cast<T>(read_varint(p));
  if (t == double_t) {
    double d;
    std::memcpy(&d, p, sizeof d);
    return static_cast<T>(d);
  }
  if (t == true_t) return static_cast<T>(1);
  return static_cast<T>(0);
}

template <class D>
template <class T>
T Api<D>::get() const {
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(str());
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    return str();
  } else if constexpr (std::is_same_v<T, bool>) {
    return tag() == true_t;
  } else if constexpr (std::is_same_v<T, nlohmann::json>) {
    return to_json();
  } else {
    static_assert(std::is_arithmetic_v<T>, "get<T>: a string, bool, number or nlohmann::json");
    return number_as<T>(self().data());
  }
}

template <class D>
template <class T>
T Api<D>::value(std::string_view key, T def) const {
  const ValueRef v = (*this)[key];
  if (v.is_null() && !contains(key)) return def;
  if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string() ? std::string(v.str()) : def;
  } else if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean() ? v.template get<bool>() : def;
  } else {
    static_assert(std::is_arithmetic_v<T>, "value(key, def): a string, bool or number default");
    return v.is_number() ? v.template get<T>() : def;
  }
}

}  // namespace value_detail
}  // namespace samsa::invariants
