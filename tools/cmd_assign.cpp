// `samsa assign --strategy range|roundrobin --topic T=N... --member NAME=T1,T2...
// [--json]`: the assignment Kafka's RangeAssignor or RoundRobinAssignor
// computes for these members and topics, without a cluster (the same code
// the simulated group leader runs, system/client/group/assignor.h).
// A member may subscribe to a topic without --topic: Kafka skips topics it
// has no metadata for, and so does this. Exit codes: 0 printed, 2 bad
// arguments.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "system/client/group/assignor.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

namespace group = samsa::client::group;

struct AssignOptions {
  std::string strategy;
  std::vector<std::string> topics;   // T=N
  std::vector<std::string> members;  // NAME=T1,T2 (NAME= subscribes to nothing)
  bool json = false;
};

std::optional<std::int32_t> parse_count(std::string_view s) {
  std::int32_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  while (true) {
    const auto at = s.find(sep, start);
    out.emplace_back(s.substr(start, at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Fills `metadata` and `subscriptions`, or says what is wrong.
std::optional<std::string> parse(const AssignOptions& o, group::PartitionCounts& metadata,
                                 group::GroupSubscription& subscriptions) {
  for (const auto& spec : o.topics) {
    const auto eq = spec.find('=');
    const auto count = eq == std::string::npos ? std::nullopt : parse_count(spec.substr(eq + 1));
    if (eq == 0 || !count) return fmt::format("--topic '{}': wants TOPIC=PARTITIONS (PARTITIONS >= 0)", spec);
    if (!metadata.emplace(spec.substr(0, eq), *count).second)
      return fmt::format("--topic '{}': topic given twice", spec);
  }
  for (const auto& spec : o.members) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0)
      return fmt::format("--member '{}': wants NAME=TOPIC1,TOPIC2,... (NAME= for none)", spec);
    group::Subscription s;
    for (auto& topic : split(std::string_view(spec).substr(eq + 1), ',')) {
      if (topic.empty()) return fmt::format("--member '{}': empty topic name", spec);
      s.topics.push_back(std::move(topic));
    }
    if (!subscriptions.emplace(spec.substr(0, eq), std::move(s)).second)
      return fmt::format("--member '{}': member given twice", spec);
  }
  if (subscriptions.empty()) return std::string("at least one --member is needed");
  return std::nullopt;
}

int run_assign(const AssignOptions& o) {
  const auto assignor = group::make_assignor(o.strategy);
  if (!assignor) {
    fmt::print(stderr, "samsa assign: unknown strategy '{}' (range or roundrobin)\n", o.strategy);
    return 2;
  }
  group::PartitionCounts metadata;
  group::GroupSubscription subscriptions;
  if (auto error = parse(o, metadata, subscriptions)) {
    fmt::print(stderr, "samsa assign: {}\n", *error);
    return 2;
  }
  const group::GroupAssignment assignment = assignor->assign(metadata, subscriptions);
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& [member, a] : assignment) {
    std::vector<std::string> names;
    for (const auto& tp : a.partitions) names.push_back(group::to_string(tp));
    if (o.json)
      json[member] = names;
    else
      fmt::print("{}: {}\n", member, fmt::join(names, " "));
  }
  if (o.json) std::cout << json.dump() << "\n";
  return 0;
}

}  // namespace

Command add_assign_command(CLI::App& app) {
  auto o = std::make_shared<AssignOptions>();
  Command c;
  c.app = app.add_subcommand("assign", "the partition assignment Kafka's range or roundrobin assignor computes");
  c.app->add_option("--strategy", o->strategy, "range or roundrobin")->required();
  c.app->add_option("--topic", o->topics, "TOPIC=PARTITIONS (repeat)")->required();
  c.app->add_option("--member", o->members, "MEMBER=TOPIC1,TOPIC2,... (repeat)")->required();
  c.app->add_flag("--json", o->json, "one JSON object: member -> [\"topic-partition\", ...]");
  c.run = [o] { return run_assign(*o); };
  return c;
}

}  // namespace samsa::tools
