#pragma once
// History checkers, registered by name. A checker reads a History (and its
// options, a JSON object) and returns the violations it found. Checkers ignore
// operations they do not understand, so every checker can run over any
// history (`samsa check` runs them all); a scenario names the ones it needs.
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "invariants/history.h"
#include "invariants/violation.h"

namespace samsa::invariants {

struct Checker {
  std::string name;
  std::string description;
  std::function<std::vector<Violation>(const History&, const nlohmann::json& options)> check;
};

// A topic partition as the Kafka checkers key their per-partition state
// (kafka_checkers.cpp, txn_checkers.cpp).
struct Tp {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const Tp&) const = default;
};

// Every registered checker, sorted by name (the built-in ones first register
// themselves in checkers.cpp; tests may add more).
std::vector<Checker> checkers();
const Checker* find_checker(std::string_view name);  // stable pointer
void register_checker(Checker c);

// Runs the named checkers (all when `names` is empty).
std::vector<Violation> run_checkers(const History& h, const std::vector<std::string>& names = {},
                                    const nlohmann::json& options = nlohmann::json::object());

// The built-in checkers (checkers.cpp).
std::vector<Violation> check_well_formed(const History& h, const nlohmann::json& options);
std::vector<Violation> check_echo(const History& h, const nlohmann::json& options);
std::vector<Violation> check_echo_liveness(const History& h, const nlohmann::json& options);
std::vector<Violation> check_election_safety(const History& h, const nlohmann::json& options);
std::vector<Violation> check_election_liveness(const History& h, const nlohmann::json& options);

}  // namespace samsa::invariants
