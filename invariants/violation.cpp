#include "invariants/violation.h"

#include <fmt/format.h>

namespace samsa::invariants {

std::string_view to_string(Kind k) { return k == Kind::safety ? "safety" : "liveness"; }

std::string Violation::to_string() const {
  std::string s = fmt::format("{} {}: {}", invariants::to_string(kind), name, explanation);
  if (!ops.empty()) s += fmt::format(" (ops {})", fmt::join(ops, ", "));
  return s;
}

nlohmann::json to_json(const Violation& v) {
  return {{"kind", std::string(to_string(v.kind))},
          {"name", v.name},
          {"ops", v.ops},
          {"explanation", v.explanation}};
}

Violation violation_from_json(const nlohmann::json& j) {
  Violation v;
  v.kind = j.value("kind", "safety") == "liveness" ? Kind::liveness : Kind::safety;
  v.name = j.value("name", "");
  v.explanation = j.value("explanation", "");
  if (j.contains("ops") && j["ops"].is_array())
    for (const auto& o : j["ops"])
      if (o.is_number_integer()) v.ops.push_back(o.get<std::int64_t>());
  return v;
}

}  // namespace samsa::invariants
