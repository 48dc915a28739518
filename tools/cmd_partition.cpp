// `samsa partition --partitions N KEY... [--json]`: the partition Kafka's
// default partitioner picks for each key, (murmur2(key) & 0x7fffffff) % N
// (system/client/partitioner.h, the code the simulated producer runs). A key
// is the bytes of the argument as given. Exit codes: 0 printed, 2 bad
// arguments.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "sim/runtime/random.h"
#include "system/client/partitioner.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

struct PartitionOptions {
  std::int64_t partitions = 0;
  std::vector<std::string> keys;
  bool json = false;
};

int run_partition(const PartitionOptions& o) {
  if (o.partitions <= 0 || o.partitions > std::numeric_limits<std::int32_t>::max()) {
    fmt::print(stderr, "samsa partition: --partitions must be between 1 and {}, not {}\n",
               std::numeric_limits<std::int32_t>::max(), o.partitions);
    return 2;
  }
  client::TopicLayout layout;
  layout.partitions = static_cast<std::int32_t>(o.partitions);
  sim::Random unused(0);  // keyed records never draw
  client::DefaultPartitioner partitioner(unused);
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& key : o.keys) {
    const std::int32_t p = partitioner.partition("", as_bytes(key), layout).value();
    if (o.json)
      json[key] = p;
    else
      fmt::print("{} {}\n", key, p);
  }
  if (o.json) std::cout << json.dump() << "\n";
  return 0;
}

}  // namespace

Command add_partition_command(CLI::App& app) {
  auto o = std::make_shared<PartitionOptions>();
  Command c;
  c.app = app.add_subcommand("partition", "the partition Kafka's default partitioner picks for each key");
  c.app->add_option("--partitions", o->partitions, "the topic's number of partitions")->required();
  c.app->add_option("keys", o->keys, "record keys (their bytes as given)")->required();
  c.app->add_flag("--json", o->json, "one JSON object: key -> partition");
  c.run = [o] { return run_partition(*o); };
  return c;
}

}  // namespace samsa::tools
