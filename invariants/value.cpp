#include "invariants/value.h"

#include <array>
#include <bit>
#include <stdexcept>

#include "sim/runtime/assert.h"

namespace samsa::invariants {

namespace value_detail {

const std::uint8_t k_null = null_t;

namespace {

// Keys the history's values use, one byte each (index into this table); any
// other key is 0xFF, a varint length and its bytes. Append only: the table
// is part of no file format (only of bytes in memory), but order is shared
// by encoder and decoder.
constexpr std::array<std::string_view, 40> k_keys = {
    "topic",     "partition", "offset",   "key",       "value",        "producer",         "seq",
    "error",     "records",   "group",    "generation", "partitions",  "offsets",          "reset",
    "polls",     "sends",     "skipped",  "node",      "nodes",        "peer",             "from",
    "to",        "broker",    "epoch",    "leader_epoch", "controller_epoch", "duration_ms", "members",
    "n",         "id",        "disk",     "targets",   "peers",        "reason",           "count",
    "transactional_id", "input", "output", "mode", "at"};
constexpr std::uint8_t k_other_key = 0xFF;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(v) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// The table's entries by first byte (bit i: k_keys[i]), so a key is compared
// with the few entries it could be, not all 40 (recording writes ~1M keys at
// 1,000 records/s).
constexpr std::array<std::uint64_t, 256> k_keys_by_first = [] {
  std::array<std::uint64_t, 256> m{};
  for (std::size_t i = 0; i < k_keys.size(); ++i) m[static_cast<unsigned char>(k_keys[i][0])] |= std::uint64_t{1} << i;
  return m;
}();

void put_key(std::string& out, std::string_view k) {
  std::uint64_t candidates = k.empty() ? 0 : k_keys_by_first[static_cast<unsigned char>(k[0])];
  for (; candidates != 0; candidates &= candidates - 1)
    if (const auto i = static_cast<std::size_t>(std::countr_zero(candidates)); k_keys[i] == k) {
      out.push_back(static_cast<char>(i));
      return;
    }
  out.push_back(static_cast<char>(k_other_key));
  put_varint(out, k.size());
  out.append(k);
}

std::uint32_t read_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A container: tag, count (varint), payload size (4 bytes), payload.
void encode(std::string& out, const nlohmann::json& j);

template <class F>
void container(std::string& out, Tag tag, std::size_t count, F&& body) {
  out.push_back(static_cast<char>(tag));
  put_varint(out, count);
  const std::size_t at = out.size();
  out.append(4, '\0');
  const std::size_t start = out.size();
  body();
  const auto n = static_cast<std::uint32_t>(out.size() - start);
  std::memcpy(out.data() + at, &n, sizeof n);
}

void encode(std::string& out, const nlohmann::json& j) {
  using T = nlohmann::json::value_t;
  switch (j.type()) {
    case T::null:
    case T::discarded: out.push_back(static_cast<char>(null_t)); return;
    case T::boolean: out.push_back(static_cast<char>(j.get<bool>() ? true_t : false_t)); return;
    case T::number_integer: {
      const auto v = j.get<std::int64_t>();
      out.push_back(static_cast<char>(int_t));
      put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
      return;
    }
    case T::number_unsigned:
      out.push_back(static_cast<char>(uint_t));
      put_varint(out, j.get<std::uint64_t>());
      return;
    case T::number_float: {
      const double d = j.get<double>();
      out.push_back(static_cast<char>(double_t));
      out.append(reinterpret_cast<const char*>(&d), sizeof d);
      return;
    }
    case T::string: {
      const auto& s = j.get_ref<const std::string&>();
      out.push_back(static_cast<char>(string_t));
      put_varint(out, s.size());
      out.append(s);
      return;
    }
    case T::array:
      container(out, array_t, j.size(), [&] {
        for (const auto& e : j) encode(out, e);
      });
      return;
    case T::object:
      container(out, object_t, j.size(), [&] {
        for (const auto& [k, v] : j.items()) {
          put_key(out, k);
          encode(out, v);
        }
      });
      return;
    case T::binary: encode(out, nlohmann::json(j.dump())); return;  // never in a history
  }
}

}  // namespace
}  // namespace value_detail

// Plain printable ASCII directly, anything else (escapes, UTF-8 checks) by nlohmann.
void dump_json_string(std::string& out, std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
      out += nlohmann::json(std::string(s)).dump();
      return;
    }
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

namespace value_detail {
namespace {

const std::uint8_t* dump(std::string& out, const std::uint8_t* p) {
  const std::uint8_t t = *p;
  switch (t) {
    case null_t: out += "null"; return p + 1;
    case false_t: out += "false"; return p + 1;
    case true_t: out += "true"; return p + 1;
    case int_t: out += std::to_string(number_as<std::int64_t>(p)); return skip(p);
    case uint_t: out += std::to_string(number_as<std::uint64_t>(p)); return skip(p);
    case double_t: out += nlohmann::json(number_as<double>(p)).dump(); return p + 1 + sizeof(double);
    case string_t: {
      ++p;
      const std::size_t n = read_varint(p);
      dump_json_string(out, {reinterpret_cast<const char*>(p), n});
      return p + n;
    }
    default: break;
  }
  const bool object = t == object_t;
  ++p;
  std::size_t n = read_varint(p);
  p += 4;
  out.push_back(object ? '{' : '[');
  for (bool first = true; n > 0; --n, first = false) {
    if (!first) out.push_back(',');
    if (object) {
      dump_json_string(out, read_key(p));
      out.push_back(':');
    }
    p = dump(out, p);
  }
  out.push_back(object ? '}' : ']');
  return p;
}

nlohmann::json to_json(const std::uint8_t* p) {
  switch (*p) {
    case null_t: return nullptr;
    case false_t: return false;
    case true_t: return true;
    case int_t: return number_as<std::int64_t>(p);
    case uint_t: return number_as<std::uint64_t>(p);
    case double_t: return number_as<double>(p);
    case string_t: return std::string(ValueRef(p).str());
    default: break;
  }
  const bool object = *p == object_t;
  nlohmann::json j = object ? nlohmann::json::object() : nlohmann::json::array();
  for (auto it = ValueRef(p).begin(); it != ValueRef::iterator(); ++it)
    if (object)
      j[std::string(it.key())] = to_json((*it).data());
    else
      j.push_back(to_json((*it).data()));
  return j;
}

}  // namespace

std::uint64_t read_varint(const std::uint8_t*& p) {
  std::uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const std::uint8_t b = *p++;
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if (b < 0x80) return v;
  }
}

std::string_view read_key(const std::uint8_t*& p) {
  const std::uint8_t b = *p++;
  if (b != k_other_key) return k_keys[b];
  const std::size_t n = read_varint(p);
  const std::string_view k(reinterpret_cast<const char*>(p), n);
  p += n;
  return k;
}

const std::uint8_t* skip(const std::uint8_t* p) {
  switch (*p++) {
    case null_t:
    case false_t:
    case true_t: return p;
    case int_t:
    case uint_t: read_varint(p); return p;
    case double_t: return p + sizeof(double);
    case string_t: {
      const std::size_t n = read_varint(p);
      return p + n;
    }
    default: {  // array, object
      read_varint(p);
      const std::uint32_t n = read_u32(p);
      return p + 4 + n;
    }
  }
}

template <class D>
std::size_t Api<D>::size() const {
  const std::uint8_t* p = self().data();
  switch (*p) {
    case null_t: return 0;
    case array_t:
    case object_t: ++p; return read_varint(p);
    default: return 1;  // as nlohmann: a scalar has size 1
  }
}

template <class D>
ValueRef Api<D>::operator[](std::string_view key) const {
  if (!is_object()) return {};
  for (auto it = ValueRef(self().data()).begin(); it != ValueRef::iterator(); ++it)
    if (it.key() == key) return *it;
  return {};
}

template <class D>
ValueRef Api<D>::operator[](const char* key) const {
  return (*this)[std::string_view(key)];
}

template <class D>
ValueRef Api<D>::operator[](std::size_t i) const {
  if (!is_array()) return {};
  for (auto it = ValueRef(self().data()).begin(); it != ValueRef::iterator(); ++it, --i)
    if (i == 0) return *it;
  return {};
}

template <class D>
ValueRef Api<D>::operator[](int i) const {
  return i < 0 ? ValueRef() : (*this)[static_cast<std::size_t>(i)];
}

template <class D>
bool Api<D>::contains(std::string_view key) const {
  if (!is_object()) return false;
  for (auto it = ValueRef(self().data()).begin(); it != ValueRef::iterator(); ++it)
    if (it.key() == key) return true;
  return false;
}

template <class D>
ValueRef Api<D>::at(std::string_view key) const {
  if (!contains(key)) throw std::out_of_range("key '" + std::string(key) + "' not found");
  return (*this)[key];
}

template <class D>
std::string_view Api<D>::str() const {
  const std::uint8_t* p = self().data();
  if (*p++ != string_t) return {};
  const std::size_t n = read_varint(p);
  return {reinterpret_cast<const char*>(p), n};
}

template <class D>
std::string Api<D>::value(std::string_view key, const char* def) const {
  return value<std::string>(key, std::string(def));
}

template <class D>
std::string Api<D>::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

template <class D>
void Api<D>::dump_to(std::string& out) const {
  value_detail::dump(out, self().data());
}

template <class D>
nlohmann::json Api<D>::to_json() const {
  return value_detail::to_json(self().data());
}

template class Api<ValueRef>;
template class Api<Value>;

}  // namespace value_detail

ValueRef::iterator::iterator(const std::uint8_t* p, std::size_t left, bool object)
    : p_(p), left_(left), object_(object) {
  if (left_ > 0) load();
}

void ValueRef::iterator::load() {
  const std::uint8_t* p = p_;
  if (object_) key_ = value_detail::read_key(p);
  value_ = p;
}

ValueRef::iterator& ValueRef::iterator::operator++() {
  p_ = value_detail::skip(value_);
  if (--left_ > 0) load();
  return *this;
}

ValueRef::iterator ValueRef::begin() const {
  const std::uint8_t* p = p_;
  const std::uint8_t t = *p++;
  if (t != value_detail::array_t && t != value_detail::object_t) return {};
  const std::size_t n = value_detail::read_varint(p);
  return iterator(p + 4, n, t == value_detail::object_t);
}

Value::Value(const nlohmann::json& j) {
  if (j.is_null()) return;
  thread_local std::string scratch;  // one allocation of the exact size per value
  scratch.clear();
  value_detail::encode(scratch, j);
  bytes_ = value_detail::Packed(scratch);
}

namespace value_detail {
Packed::Packed(std::string_view bytes) : size_(static_cast<std::uint32_t>(bytes.size())) {
  SAMSA_ASSERT(bytes.size() == size_, "a value of 4 GiB or more");
  if (size_ == 0) return;
  if (size_ <= k_inline) {
    std::memcpy(buf_, bytes.data(), size_);
    return;
  }
  auto* p = new std::uint8_t[size_];
  std::memcpy(p, bytes.data(), size_);
  std::memcpy(buf_, &p, sizeof p);
}
}  // namespace value_detail

namespace {
thread_local std::string writer_scratch;  // one writer's at a time (recording does not nest them)
thread_local bool writer_scratch_taken = false;
}  // namespace

ValueWriter::ValueWriter() : out_(&own_) {
  if (!writer_scratch_taken) {
    writer_scratch_taken = scratch_ = true;
    out_ = &writer_scratch;
    out_->clear();
  }
}

ValueWriter::~ValueWriter() {
  if (scratch_) writer_scratch_taken = false;
}

void ValueWriter::counted() {
  if (depth_ > 0) ++stack_[depth_ - 1].count;
}

ValueWriter& ValueWriter::open(value_detail::Tag t) {
  SAMSA_ASSERT(depth_ < 8, "ValueWriter nests at most 8 containers");
  counted();
  out_->push_back(static_cast<char>(t));
  stack_[depth_++] = {static_cast<std::uint32_t>(out_->size()), 0};
  out_->append(5, '\0');  // a one-byte count and the payload size; a longer count moves the payload
  return *this;
}

// As container() in encode: tag, count (varint), payload size (4 bytes), payload.
ValueWriter& ValueWriter::end() {
  SAMSA_ASSERT(depth_ > 0, "ValueWriter::end without an open object or array");
  const Open o = stack_[--depth_];
  std::string count;
  value_detail::put_varint(count, o.count);
  if (count.size() > 1) out_->insert(o.at + 1, count.size() - 1, '\0');
  const std::size_t start = o.at + count.size() + 4;
  const auto n = static_cast<std::uint32_t>(out_->size() - start);
  std::memcpy(out_->data() + o.at, count.data(), count.size());
  std::memcpy(out_->data() + o.at + count.size(), &n, sizeof n);
  return *this;
}

ValueWriter& ValueWriter::key(std::string_view k) {
  value_detail::put_key(*out_, k);
  return *this;
}

ValueWriter& ValueWriter::tag(value_detail::Tag t) {
  counted();
  out_->push_back(static_cast<char>(t));
  return *this;
}

ValueWriter& ValueWriter::value(std::string_view s) {
  tag(value_detail::string_t);
  value_detail::put_varint(*out_, s.size());
  out_->append(s);
  return *this;
}

ValueWriter& ValueWriter::value(double d) {
  tag(value_detail::double_t);
  out_->append(reinterpret_cast<const char*>(&d), sizeof d);
  return *this;
}

ValueWriter& ValueWriter::signed_int(std::int64_t v) {
  tag(value_detail::int_t);
  value_detail::put_varint(*out_, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  return *this;
}

ValueWriter& ValueWriter::unsigned_int(std::uint64_t v) {
  tag(value_detail::uint_t);
  value_detail::put_varint(*out_, v);
  return *this;
}

Value ValueWriter::take() {
  SAMSA_ASSERT(depth_ == 0, "ValueWriter::take with an object or array still open");
  Value v = out_->empty() || (*out_)[0] == static_cast<char>(value_detail::null_t) ? Value() : Value::from_bytes(*out_);
  out_->clear();
  return v;
}

bool operator==(ValueRef a, ValueRef b) {
  const std::uint8_t* pa = a.data();
  const std::uint8_t* pb = b.data();
  const std::size_t na = static_cast<std::size_t>(value_detail::skip(pa) - pa);
  const std::size_t nb = static_cast<std::size_t>(value_detail::skip(pb) - pb);
  if (na == nb && std::memcmp(pa, pb, na) == 0) return true;
  return a.to_json() == b.to_json();
}

}  // namespace samsa::invariants
