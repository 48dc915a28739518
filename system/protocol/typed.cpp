#include "system/protocol/typed.h"

namespace samsa::protocol {

Records::Records(Bytes bytes) : owner_(std::make_shared<const Bytes>(std::move(bytes))), view_(*owner_) {}

Records::Records(std::shared_ptr<const Bytes> owner, ByteView view) : owner_(std::move(owner)), view_(view) {
  SAMSA_ASSERT(view.empty() || (owner_ != nullptr &&
                                !std::less<const std::uint8_t*>{}(view.data(), owner_->data()) &&
                                !std::less<const std::uint8_t*>{}(owner_->data() + owner_->size(),
                                                                   view.data() + view.size())),
               "Records view outside its owner's buffer");
}

namespace {
bool inside(ByteView outer, ByteView view) {
  return view.empty() || (!std::less<const std::uint8_t*>{}(view.data(), outer.data()) &&
                          !std::less<const std::uint8_t*>{}(outer.data() + outer.size(),
                                                             view.data() + view.size()));
}
}  // namespace

Records Records::of_mapping(std::shared_ptr<const sim::Mapping> mapping, ByteView view) {
  SAMSA_ASSERT(mapping != nullptr && inside(mapping->bytes(), view), "Records view outside its mapping");
  Records r;
  r.mapping_ = std::move(mapping);
  r.view_ = view;
  return r;
}

Records Records::prefix(std::size_t n) const {
  SAMSA_ASSERT(n <= view_.size(), "Records prefix longer than the records");
  Records r = *this;
  r.view_ = view_.first(n);
  return r;
}

namespace typed {

namespace {

// A string / bytes length; null is an error unless `nullable`.
Result<std::optional<std::size_t>, DecodeError> blob_length(Reader& r, const Ctx& c, bool nullable,
                                                            bool is_string) {
  std::size_t fast = 0;
  if (r.try_length(c.flexible, !is_string, fast)) return std::optional<std::size_t>(fast);
  const std::size_t start = r.offset();
  SAMSA_TRY(n, is_string ? r.string_length(c.flexible) : r.bytes_length(c.flexible));
  if (!n && !nullable) {
    return Err{DecodeError{start, is_string ? "null string where not nullable" : "null bytes where not nullable"}};
  }
  return n;
}

Status read_string_body(Reader& r, std::size_t n, std::string& out) {
  ByteView b;
  if (!r.try_raw(n, b)) {
    SAMSA_TRY(slow, r.raw(n));
    b = slow;
  }
  out.assign(as_chars(b));
  return {};
}

Status read_bytes_body(Reader& r, std::size_t n, Bytes& out) {
  SAMSA_TRY(b, r.raw(n));
  out.assign(b.begin(), b.end());
  return {};
}

// Shares the reader's frame when it has one; copies otherwise.
Status read_records_body(Reader& r, std::size_t n, Records& out) {
  SAMSA_TRY(b, r.raw(n));
  out = r.owner() ? Records(r.owner(), b) : Records::copy_of(b);
  return {};
}

}  // namespace

Status read(Reader& r, const Ctx& c, bool, std::string& out) {
  SAMSA_TRY(n, blob_length(r, c, false, true));
  return read_string_body(r, *n, out);
}
Status read(Reader& r, const Ctx& c, bool nullable, std::optional<std::string>& out) {
  SAMSA_TRY(n, blob_length(r, c, nullable, true));
  if (!n) {
    out.reset();
    return {};
  }
  return read_string_body(r, *n, out.emplace());
}
Status read(Reader& r, const Ctx& c, bool, Bytes& out) {
  SAMSA_TRY(n, blob_length(r, c, false, false));
  return read_bytes_body(r, *n, out);
}
Status read(Reader& r, const Ctx& c, bool nullable, std::optional<Bytes>& out) {
  SAMSA_TRY(n, blob_length(r, c, nullable, false));
  if (!n) {
    out.reset();
    return {};
  }
  return read_bytes_body(r, *n, out.emplace());
}
Status read(Reader& r, const Ctx& c, bool, Records& out) {
  SAMSA_TRY(n, blob_length(r, c, false, false));
  return read_records_body(r, *n, out);
}
Status read(Reader& r, const Ctx& c, bool nullable, std::optional<Records>& out) {
  SAMSA_TRY(n, blob_length(r, c, nullable, false));
  if (!n) {
    out.reset();
    return {};
  }
  return read_records_body(r, *n, out.emplace());
}

Result<std::optional<std::size_t>, DecodeError> read_array_length_slow(Reader& r, const Ctx& c, bool nullable) {
  const std::size_t start = r.offset();
  SAMSA_TRY(n, r.array_length(c.flexible));
  if (!n && !nullable) return Err{DecodeError{start, "null array where not nullable"}};
  return n;
}

Result<std::uint32_t, DecodeError> read_tag_count(Reader& r) { return r.unsigned_varint(); }

Result<TagEntry, DecodeError> read_tag_entry(Reader& r, std::int64_t& last_tag) {
  const std::size_t start = r.offset();
  SAMSA_TRY(tag, r.unsigned_varint());
  if (static_cast<std::int64_t>(tag) <= last_tag) {
    return Err{DecodeError{start, "tagged fields out of order: tag " + std::to_string(tag) + " after " +
                                      std::to_string(last_tag)}};
  }
  last_tag = tag;
  SAMSA_TRY(size, r.unsigned_varint());
  const std::size_t data_start = r.offset();
  SAMSA_TRY(data, r.raw(size));
  return TagEntry{tag, data_start, data};
}

DecodeError tag_left_over(const Reader& sub, const char* name) {
  return sub.error_here(std::string(name) + ": tagged field has " + std::to_string(sub.remaining()) +
                        " bytes left over");
}

void assert_nullable(bool nullable) { SAMSA_ASSERT(nullable, "null value for a non-nullable field"); }

void write(Writer& w, const Ctx& c, bool, const std::string& v) {
  w.string_length(v.size(), c.flexible);
  w.raw(as_bytes(v));
}
void write(Writer& w, const Ctx& c, bool nullable, const std::optional<std::string>& v) {
  if (!v) {
    assert_nullable(nullable);
    return w.string_length(std::nullopt, c.flexible);
  }
  write(w, c, nullable, *v);
}
void write(Writer& w, const Ctx& c, bool, const Bytes& v) {
  w.bytes_length(v.size(), c.flexible);
  w.raw(v);
}
void write(Writer& w, const Ctx& c, bool nullable, const std::optional<Bytes>& v) {
  if (!v) {
    assert_nullable(nullable);
    return w.bytes_length(std::nullopt, c.flexible);
  }
  write(w, c, nullable, *v);
}
void write(Writer& w, const Ctx& c, bool, const Records& v) {
  w.bytes_length(v.size(), c.flexible);
  if (v.mapping() && w.splicing())
    w.splice(v.mapping(), v.view());
  else
    w.raw(v.view());
}
void write(Writer& w, const Ctx& c, bool nullable, const std::optional<Records>& v) {
  if (!v) {
    assert_nullable(nullable);
    return w.bytes_length(std::nullopt, c.flexible);
  }
  write(w, c, nullable, *v);
}

void TagWriter::finish(Writer& w) {
  if (known_.empty()) return write_tags(w, unknown_);
  std::vector<UnknownTag> tags = unknown_;
  for (UnknownTag& t : known_) tags.push_back(std::move(t));
  std::stable_sort(tags.begin(), tags.end(), [](const UnknownTag& a, const UnknownTag& b) { return a.tag < b.tag; });
  write_unknown_tags(tags, w);
}

void write_tags(Writer& w, const std::vector<UnknownTag>& unknown) {
  const auto by_tag = [](const UnknownTag& a, const UnknownTag& b) { return a.tag < b.tag; };
  if (std::is_sorted(unknown.begin(), unknown.end(), by_tag)) return write_unknown_tags(unknown, w);
  std::vector<UnknownTag> tags = unknown;
  std::stable_sort(tags.begin(), tags.end(), by_tag);
  write_unknown_tags(tags, w);
}

}  // namespace typed
}  // namespace samsa::protocol
