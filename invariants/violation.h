#pragma once
// A violation found by a checker: a typed value, not a string. The kind says
// whether it breaks safety (something bad happened) or liveness (something
// good did not happen in time); the name is Jepsen's anomaly name where one
// exists (duplicate, lost-write, ...); `ops` are the indexes of the offending
// history operations.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace samsa::invariants {

enum class Kind : std::uint8_t { safety, liveness };
std::string_view to_string(Kind k);

struct Violation {
  Kind kind = Kind::safety;
  std::string name;
  std::vector<std::int64_t> ops;
  std::string explanation;  // one line

  static Violation safety(std::string name, std::string explanation,
                          std::vector<std::int64_t> ops = {}) {
    return {Kind::safety, std::move(name), std::move(ops), std::move(explanation)};
  }
  static Violation liveness(std::string name, std::string explanation,
                            std::vector<std::int64_t> ops = {}) {
    return {Kind::liveness, std::move(name), std::move(ops), std::move(explanation)};
  }
  std::string to_string() const;  // "safety duplicate: explanation (ops 3, 7)"
};

nlohmann::json to_json(const Violation& v);
Violation violation_from_json(const nlohmann::json& j);

}  // namespace samsa::invariants
