#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cstring>
#include <string>

#include "invariants/value.h"

using namespace samsa::invariants;
using json = nlohmann::json;

namespace {

// A JSON value of every kind nlohmann keeps apart (signed, unsigned, float;
// strings with escapes and UTF-8; the history's keys and others), `depth`
// levels of arrays and objects at most.
rc::Gen<json> gen_json(int depth) {
  const auto text = rc::gen::oneOf(
      rc::gen::elementOf(std::vector<std::string>{"topic", "partition", "offset", "value", "key", "records", "x",
                                                  "", "a\"b", "tab\there", "caf\xc3\xa9", "\x01", "\x7f", "\\"}),
      rc::gen::map(rc::gen::arbitrary<std::string>(), [](std::string s) {
        for (char& c : s) c = static_cast<char>(0x20 + static_cast<unsigned char>(c) % 0x5f);
        return s;
      }));
  auto scalar = rc::gen::oneOf(rc::gen::just(json(nullptr)), rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json(b); }),
                               rc::gen::map(rc::gen::arbitrary<std::int64_t>(), [](std::int64_t v) { return json(v); }),
                               rc::gen::map(rc::gen::arbitrary<std::uint64_t>(), [](std::uint64_t v) { return json(v); }),
                               rc::gen::map(rc::gen::arbitrary<std::int32_t>(), [](std::int32_t v) { return json(v / 8.0); }),
                               rc::gen::map(text, [](std::string s) { return json(s); }));
  if (depth == 0) return scalar;
  auto child = rc::gen::lazy([depth] { return gen_json(depth - 1); });
  return rc::gen::oneOf(
      scalar,
      rc::gen::map(rc::gen::container<std::vector<json>>(rc::gen::resize(4, child)),
                   [](std::vector<json> v) { return json(v); }),
      rc::gen::map(rc::gen::container<std::vector<std::pair<std::string, json>>>(
                       rc::gen::pair(text, rc::gen::resize(4, child))),
                   [](std::vector<std::pair<std::string, json>> kv) {
                     json o = json::object();
                     for (auto& [k, v] : kv) o[k] = v;
                     return o;
                   }));
}

}  // namespace

TEST_CASE("value: dumps the bytes nlohmann dumps and reads back the same JSON", "[invariants][history]") {
  rc::prop("Value(j).dump() == j.dump() and to_json() == j", [] {
    const json j = *gen_json(3);
    const Value v(j);
    RC_ASSERT(v.dump() == j.dump());
    RC_ASSERT(v.to_json() == j);
    RC_ASSERT(v.is_object() == j.is_object());
    RC_ASSERT(v.is_array() == j.is_array());
    RC_ASSERT(v.is_string() == j.is_string());
    RC_ASSERT(v.is_number_integer() == j.is_number_integer());
    RC_ASSERT(v.is_number_unsigned() == j.is_number_unsigned());
    RC_ASSERT(v.size() == j.size());
    if (j.is_object())
      for (const auto& [k, e] : j.items()) {
        RC_ASSERT(v.contains(k));
        RC_ASSERT(v[k].dump() == e.dump());
      }
    if (j.is_array())
      for (std::size_t i = 0; i < j.size(); ++i) RC_ASSERT(v[i].dump() == j[i].dump());
    RC_ASSERT(Value(v.to_json()) == v);
  });
}

TEST_CASE("value: reads as nlohmann::json does", "[invariants][history]") {
  const Value v = json{{"topic", "t"}, {"partition", 2}, {"offset", std::uint64_t{7}}, {"other key", -3},
                       {"records", json::array({json{{"value", "a"}}, json{{"value", "b"}}})}};
  CHECK(v.value("topic", "") == "t");
  CHECK(v.value("missing", "dflt") == "dflt");
  CHECK(v.value("partition", -1) == 2);
  CHECK(v.value("other key", std::int64_t{0}) == -3);
  CHECK(v["offset"].get<std::int64_t>() == 7);
  CHECK(v.value("topic", 5) == 5);  // present but not a number: the default
  CHECK(v["missing"].is_null());
  CHECK_FALSE(v.contains("missing"));
  CHECK(v["topic"] == "t");
  CHECK_THROWS_AS(v.at("missing"), std::out_of_range);
  std::string values;
  for (const ValueRef r : v["records"]) values += r.value("value", "?");
  CHECK(values == "ab");
  std::string keys;
  for (auto it = v.ref().begin(); it != v.end(); ++it) keys += std::string(it.key()) + ",";
  CHECK(keys == "offset,other key,partition,records,topic,");
  CHECK(Value().is_null());
  CHECK(Value().dump() == "null");
  CHECK(Value(json(1)) == Value(json(1.0)));  // equal as JSON, as nlohmann compares
  CHECK_FALSE(Value(json(1)) == Value(json("1")));
}

namespace {

// Writes `j` through a ValueWriter, in nlohmann's (sorted) key order.
void write(ValueWriter& w, const json& j) {
  switch (j.type()) {
    case json::value_t::null: w.null(); return;
    case json::value_t::boolean: w.value(j.get<bool>()); return;
    case json::value_t::number_integer: w.value(j.get<std::int64_t>()); return;
    case json::value_t::number_unsigned: w.value(j.get<std::uint64_t>()); return;
    case json::value_t::number_float: w.value(j.get<double>()); return;
    case json::value_t::string: w.value(j.get_ref<const std::string&>()); return;
    case json::value_t::array:
      w.array();
      for (const auto& e : j) write(w, e);
      w.end();
      return;
    case json::value_t::object:
      w.object();
      for (const auto& [k, e] : j.items()) write(w.key(k), e);
      w.end();
      return;
    default: FAIL("no such value in a history");
  }
}

bool same_bytes(const Value& a, const Value& b) {
  return a.encoded_size() == b.encoded_size() && std::memcmp(a.data(), b.data(), a.encoded_size()) == 0;
}

Value written(const json& j) {
  ValueWriter w;
  write(w, j);
  return w.take();
}

}  // namespace

TEST_CASE("value: a ValueWriter writes the bytes Value(json) encodes", "[invariants][history]") {
  rc::prop("written(j) has Value(j)'s bytes", [] {
    const json j = *gen_json(3);
    const Value v = written(j);
    RC_ASSERT(same_bytes(v, Value(j)));
    RC_ASSERT(v.dump() == j.dump());
  });
  // Counts of 128 and more take a longer varint: the payload moves after it.
  json big = json::array();
  for (int i = 0; i < 300; ++i) big.push_back({{"offset", i}, {"records", json::array({i, std::to_string(i)})}});
  const json outer = {{"a", big}, {"b", json::array()}, {"records", {{"n", 1}}}};
  CHECK(same_bytes(written(outer), Value(outer)));
  CHECK(written(outer).dump() == outer.dump());
  // A writer while another is open (the thread's scratch is taken) writes its own.
  ValueWriter first;
  first.object().key("x");
  CHECK(same_bytes(written(outer), Value(outer)));
  first.value(1).end();
  CHECK(first.take().dump() == R"({"x":1})");
  ValueWriter nothing;
  CHECK(nothing.null().take().is_null());
}

TEST_CASE("value: Packed holds any bytes, in place up to 12 and on the heap beyond, through copies and moves",
          "[invariants][history]") {
  using samsa::invariants::value_detail::Packed;
  STATIC_REQUIRE(sizeof(Packed) == 16);
  rc::prop("a copy, a move and assignments keep the bytes; a moved-from Packed is empty", [](std::string bytes) {
    const Packed p(bytes);
    RC_ASSERT(p.view() == bytes);
    RC_ASSERT(p.size() == bytes.size());
    RC_ASSERT(p.empty() == bytes.empty());
    Packed copy(p);
    RC_ASSERT(copy.view() == bytes);
    RC_ASSERT(bytes.size() <= 12 || copy.data() != p.data());  // its own block, not a shared one
    Packed moved(std::move(copy));
    RC_ASSERT(moved.view() == bytes);
    RC_ASSERT(copy.empty());  // NOLINT(bugprone-use-after-move): what a move leaves is the point
    Packed other(*rc::gen::arbitrary<std::string>());
    other = p;
    RC_ASSERT(other.view() == bytes);
    other = other;  // NOLINT: self-assignment keeps the bytes
    RC_ASSERT(other.view() == bytes);
    Packed target(std::string(40, 'x'));
    target = std::move(moved);
    RC_ASSERT(target.view() == bytes);
    RC_ASSERT(moved.empty());  // NOLINT(bugprone-use-after-move)
  });
  for (std::size_t n : {0u, 1u, 11u, 12u, 13u, 300u}) {
    const std::string bytes(n, 'v');
    CHECK(Packed(bytes).view() == bytes);
  }
}
