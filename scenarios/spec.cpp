// Parsing and checking scenario files (toml++). Mistakes are thrown inside
// this file as Mistake and returned as SpecError values at the boundary.
#include "scenarios/spec.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <set>

#include "invariants/checker.h"
#include "scenarios/nemesis.h"
#include "scenarios/workload.h"

namespace samsa::scenarios {

namespace {

struct Mistake {
  SpecError error;
};

class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  // A node without a source position was put there by --set.
  std::string where(const toml::source_region& r, const std::string& path) const {
    if (r.begin.line == 0) return "--set " + path;
    return fmt::format("{}:{}:{}", origin_, r.begin.line, r.begin.column);
  }
  [[noreturn]] void fail(const toml::source_region& r, const std::string& path,
                         std::string message) const {
    throw Mistake{{where(r, path), std::move(message)}};
  }

  void check_keys(const toml::table& t, const std::string& path,
                  const std::vector<std::string>& allowed) const {
    for (auto&& [key, node] : t) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      fail(key.source(), join(path, std::string(key.str())),
           fmt::format("unknown key '{}'{} (allowed: {})", key.str(),
                       path.empty() ? "" : " in [" + path + "]", fmt::join(allowed, ", ")));
    }
  }

  const toml::table* table(const toml::table& t, const std::string& key,
                           const std::string& path) const {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(n->source(), join(path, key), type_message(key, "a table", *n));
    return n->as_table();
  }

  std::int64_t integer(const toml::table& t, const std::string& key, const std::string& path,
                       std::int64_t fallback, std::int64_t min) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_integer()) fail(n->source(), join(path, key), type_message(key, "an integer", *n));
    const std::int64_t v = n->value<std::int64_t>().value();
    if (v < min)
      fail(n->source(), join(path, key), fmt::format("'{}' must be at least {}, not {}", key, min, v));
    return v;
  }

  double number(const toml::table& t, const std::string& key, const std::string& path,
                double fallback, double min, double max = 1e300) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_number()) fail(n->source(), join(path, key), type_message(key, "a number", *n));
    const double v = n->value<double>().value();
    if (v < min || v > max)
      fail(n->source(), join(path, key),
           max < 1e300 ? fmt::format("'{}' must be in [{}, {}], not {}", key, min, max, v)
                       : fmt::format("'{}' must be at least {}, not {}", key, min, v));
    return v;
  }

  std::string string(const toml::table& t, const std::string& key, const std::string& path,
                     std::string fallback, const std::vector<std::string>& choices = {}) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_string()) fail(n->source(), join(path, key), type_message(key, "a string", *n));
    std::string v = n->value<std::string>().value();
    if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end())
      fail(n->source(), join(path, key),
           fmt::format("'{}' must be one of {}, not '{}'", key, fmt::join(choices, ", "), v));
    return v;
  }

  std::vector<std::string> strings(const toml::table& t, const std::string& key,
                                   const std::string& path, std::vector<std::string> fallback) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    const toml::array* a = n->as_array();
    if (!a) fail(n->source(), join(path, key), type_message(key, "an array of strings", *n));
    std::vector<std::string> out;
    for (const toml::node& e : *a) {
      if (!e.is_string())
        fail(e.source(), join(path, key), type_message(key, "an array of strings", e));
      out.push_back(e.value<std::string>().value());
    }
    return out;
  }

  // A number, or [lo, hi] drawn per seed.
  Range range(const toml::table& t, const std::string& key, const std::string& path,
              Range fallback, double min) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    const std::string want = fallback.integral ? "an integer or [lo, hi] of integers"
                                               : "a number or [lo, hi] of numbers";
    auto scalar = [&](const toml::node& e) {
      if (fallback.integral ? !e.is_integer() : !e.is_number())
        fail(e.source(), join(path, key), type_message(key, want, e));
      const double v = e.value<double>().value();
      if (v < min)
        fail(e.source(), join(path, key), fmt::format("'{}' must be at least {}, not {}", key, min, v));
      return v;
    };
    Range r = fallback;
    if (const toml::array* a = n->as_array()) {
      if (a->size() != 2) fail(n->source(), join(path, key), type_message(key, want, *n));
      r.lo = scalar(*a->get(0));
      r.hi = scalar(*a->get(1));
      if (r.lo > r.hi)
        fail(n->source(), join(path, key),
             fmt::format("'{}' is a range [lo, hi] with lo <= hi, not [{}, {}]", key, r.lo, r.hi));
    } else {
      r.lo = r.hi = scalar(*n);
    }
    return r;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  static std::string_view type_name(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::table: return "a table";
      case toml::node_type::array: return "an array";
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      case toml::node_type::boolean: return "a boolean";
      default: return "a date or time";
    }
  }
  static std::string type_message(const std::string& key, const std::string& want,
                                  const toml::node& got) {
    return fmt::format("'{}' must be {}, not {}", key, want, type_name(got));
  }

  std::string origin_;
};

nlohmann::json to_json(const toml::node& n) {
  if (const auto* t = n.as_table()) {
    nlohmann::json j = nlohmann::json::object();
    for (auto&& [k, v] : *t) j[std::string(k.str())] = to_json(v);
    return j;
  }
  if (const auto* a = n.as_array()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& v : *a) j.push_back(to_json(v));
    return j;
  }
  if (n.is_integer()) return n.value<std::int64_t>().value();
  if (n.is_floating_point()) return n.value<double>().value();
  if (n.is_boolean()) return n.value<bool>().value();
  if (n.is_string()) return n.value<std::string>().value();
  return "(a date or time)";
}

// A value given for an option whose default is `def` must have its type.
void check_like(const Reader& r, const toml::node& n, const std::string& path,
                const std::string& key, const nlohmann::json& def) {
  bool fits = false;
  std::string want;
  if (def.is_boolean()) fits = n.is_boolean(), want = "a boolean";
  else if (def.is_number_integer()) fits = n.is_integer(), want = "an integer";
  else if (def.is_number()) fits = n.is_number(), want = "a number";
  else if (def.is_string()) fits = n.is_string(), want = "a string";
  else if (def.is_array()) fits = n.is_array(), want = "an array";
  else fits = true;
  if (!fits) r.fail(n.source(), path, fmt::format("'{}' must be {}", key, want));
  // An integer as itself: Long.MAX_VALUE (Kafka's "never") is no exact double.
  const bool negative = n.is_integer()    ? n.value<std::int64_t>().value() < 0
                        : n.is_number() ? n.value<double>().value() < 0
                                        : false;
  if (negative && def.is_number() && def.get<double>() >= 0)
    r.fail(n.source(), path, fmt::format("'{}' must not be negative", key));
}

std::vector<std::string> keys_of(const nlohmann::json& j) {
  std::vector<std::string> k;
  for (auto& [key, v] : j.items()) k.push_back(key);
  return k;
}

std::vector<std::string> keys_of_map(const std::map<std::string, std::vector<std::string>>& m) {
  std::vector<std::string> k;
  for (const auto& [key, v] : m) k.push_back(key);
  return k;
}

// Options against allowed keys with defaults: the defaults, overwritten by
// what the table gives.
nlohmann::json read_options(const Reader& r, const toml::table* t, const std::string& path,
                            const nlohmann::json& defaults, std::vector<std::string> also_allowed) {
  nlohmann::json out = defaults;
  if (!t) return out;
  std::vector<std::string> allowed = also_allowed;
  for (const auto& k : keys_of(defaults)) allowed.push_back(k);
  r.check_keys(*t, path, allowed);
  for (auto&& [key, node] : *t) {
    const std::string k(key.str());
    if (!defaults.contains(k)) continue;
    check_like(r, node, Reader::join(path, k), k, defaults[k]);
    out[k] = to_json(node);
  }
  return out;
}

// [config] holds Kafka keys; dotted keys written bare become nested tables
// in TOML, so they are flattened back to "a.b.c".
void flatten(const toml::table& t, const std::string& prefix,
             std::vector<std::pair<std::string, const toml::node*>>& out,
             std::vector<const toml::key*>& keys) {
  for (auto&& [key, node] : t) {
    const std::string k = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      flatten(*sub, k, out, keys);
    } else {
      out.emplace_back(k, &node);
      keys.push_back(&key);
    }
  }
}

nlohmann::json read_config(const Reader& r, const toml::table* t, const WorkloadType& w) {
  nlohmann::json out = w.config;
  if (!t) return out;
  std::vector<std::pair<std::string, const toml::node*>> values;
  std::vector<const toml::key*> keys;
  flatten(*t, "", values, keys);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto& [k, node] = values[i];
    const auto& at = node->source().begin.line ? node->source() : keys[i]->source();
    std::string plain = k;  // the key whose default gives the type
    if (!w.config.contains(k)) {
      const auto prefixed = component_key(w, k);
      const auto dot = k.find('.');
      const auto component = dot == std::string::npos ? w.components.end() : w.components.find(k.substr(0, dot));
      if (!prefixed && component != w.components.end())
        r.fail(at, k, fmt::format("unknown {} config key '{}' for workload {}: its {}s read {}", component->first,
                                  k, w.name, component->first, fmt::join(component->second, ", ")));
      if (!prefixed)
        r.fail(at, k,
               fmt::format("unknown config key '{}' for workload {} (known: {}{})", k, w.name,
                           w.config.empty() ? std::string("none") : fmt::format("{}", fmt::join(keys_of(w.config), ", ")),
                           w.components.empty() ? "" : "; or one of them with its component's prefix: " +
                                                            fmt::format("{}.", fmt::join(keys_of_map(w.components), "., "))));
      plain = prefixed->second;
    }
    check_like(r, *node, k, k, w.config[plain]);
    out[k] = to_json(*node);
  }
  return out;
}

// Where a workload's ConfigMistake points: the [workload] option or [config]
// key as the file (or a --set) wrote it; the table, or the file, when the
// bad value is a default nobody wrote.
void fail_at(const Reader& r, const toml::table& root, const ConfigMistake& m) {
  const std::string message =
      m.message.find(m.key) != std::string::npos ? m.message : fmt::format("'{}': {}", m.key, m.message);
  if (m.key.starts_with("workload.")) {
    const toml::table* w = root.get_as<toml::table>("workload");
    const std::string option = m.key.substr(std::string_view("workload.").size());
    if (w && w->get(option)) r.fail(w->get(option)->source(), m.key, message);
    r.fail(w ? w->source() : root.source(), m.key, message);
  }
  if (const toml::table* c = root.get_as<toml::table>("config")) {
    std::vector<std::pair<std::string, const toml::node*>> values;
    std::vector<const toml::key*> keys;
    flatten(*c, "", values, keys);
    // The last one written wins, as in read_config; a --set value has no
    // source position (its key may keep the file's). The refusing
    // component's prefixed key wins over the plain one (properties()).
    std::vector<std::string> names = {m.key};
    if (!m.component.empty()) names.insert(names.begin(), m.component + "." + m.key);
    for (const auto& name : names)
      for (std::size_t i = values.size(); i-- > 0;)
        if (values[i].first == name)
          r.fail(values[i].second->source(), name, name == m.key ? message : fmt::format("'{}': {}", name, message));
  }
  r.fail(root.source(), m.key, message + " (the workload's default)");
}

std::vector<TopicSpec> read_topics(const Reader& r, const toml::table& root, std::int64_t brokers) {
  std::vector<TopicSpec> out;
  const toml::node* n = root.get("topics");
  if (!n) return out;
  const toml::array* a = n->as_array();
  if (!a || !a->is_array_of_tables()) r.fail(n->source(), "topics", "'topics' must be [[topics]] tables");
  std::size_t i = 0;
  for (const toml::node& e : *a) {
    const toml::table& t = *e.as_table();
    const std::string path = fmt::format("topics[{}]", i++);
    r.check_keys(t, path, {"name", "partitions", "replication_factor"});
    TopicSpec topic;
    topic.name = r.string(t, "name", path, "");
    if (topic.name.empty()) r.fail(t.source(), path, "a topic needs a 'name'");
    topic.partitions = r.integer(t, "partitions", path, 1, 1);
    topic.replication_factor = r.integer(t, "replication_factor", path, 1, 1);
    if (topic.replication_factor > brokers) {
      const toml::node* rf = t.get("replication_factor");
      r.fail(rf->source(), path + ".replication_factor",
             fmt::format("replication_factor {} of topic {} is above the cluster's {} brokers",
                         topic.replication_factor, topic.name, brokers));
    }
    out.push_back(topic);
  }
  return out;
}

NemesisSpec read_nemesis(const Reader& r, const toml::table& t, const std::string& path,
                         const WorkloadType& w) {
  NemesisSpec n;
  const toml::node* name = t.get("name");
  if (!name) r.fail(t.source(), path, fmt::format("a nemesis needs a 'name' (one of {})",
                                                  fmt::join(nemesis_names(), ", ")));
  n.name = r.string(t, "name", path, "", nemesis_names());
  const Nemesis* type = find_nemesis(n.name);
  std::vector<std::string> allowed = {"name", "weight", "targets", "duration_ms"};
  if (type->link || type->all_peers) allowed.push_back("peers");
  for (const auto& k : keys_of(type->params)) allowed.push_back(k);
  r.check_keys(t, path, allowed);
  n.weight = r.number(t, "weight", path, 1, 0);
  std::vector<std::string> groups = {"all"};
  for (const auto& g : w.groups) groups.push_back(g);
  auto check_groups = [&](const char* key, const std::vector<std::string>& names) {
    for (const auto& g : names)
      if (std::find(groups.begin(), groups.end(), g) == groups.end())
        r.fail(t.get(key)->source(), Reader::join(path, key),
               fmt::format("'{}' names '{}', which is not a node group of workload {} (groups: {})",
                           key, g, w.name, fmt::join(groups, ", ")));
  };
  n.targets = r.strings(t, "targets", path, {"all"});
  check_groups("targets", n.targets);
  n.peers = r.strings(t, "peers", path, {"all"});
  if (type->link || type->all_peers) check_groups("peers", n.peers);
  n.duration_ms = r.range(t, "duration_ms", path, Range{100, 2000, true}, 0);
  n.params = type->params;
  for (auto& [k, def] : type->params.items()) {
    if (!t.get(k)) continue;
    if (def.is_string()) {
      // `disk` (crash, restart, the power losses) names a crash mode.
      const std::vector<std::string> allowed =
          k == "disk" ? std::vector<std::string>{"random", "keep_none", "keep_all", "torn"}
                      : std::vector<std::string>{};
      n.params[k] = r.string(t, k, path, def.get<std::string>(), allowed);
    } else {
      // Numbers may be ranges; signed (a clock jump goes either way).
      const Range rg = r.range(t, k, path, Range{0, 0, def.is_number_integer()}, -1e18);
      n.params[k] = nlohmann::json::array({rg.lo, rg.hi});
    }
  }
  return n;
}

// A scalar as TOML text, for an override's value.
std::string toml_text(const toml::node& n) {
  if (auto v = n.value_exact<std::string>()) {
    std::string out = "\"";
    for (char c : *v) out += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    return out + "\"";
  }
  if (auto v = n.value_exact<bool>()) return *v ? "true" : "false";
  if (auto v = n.value_exact<std::int64_t>()) return std::to_string(*v);
  return fmt::format("{}", n.value<double>().value());
}

bool scalar(const toml::node& e) {
  return e.is_string() || e.is_integer() || e.is_floating_point() || e.is_boolean();
}

// [swarm]: every key an array of choices, each a scalar or an inline table of
// scalars (checked against the rest of the file in parse_scenario).
std::map<std::string, std::vector<std::vector<Override>>> read_swarm(const Reader& r, const toml::table& root) {
  std::map<std::string, std::vector<std::vector<Override>>> out;
  const toml::table* t = r.table(root, "swarm", "");
  if (!t) return out;
  for (auto&& [k, node] : *t) {
    const std::string key(k.str()), path = Reader::join("swarm", key);
    const toml::array* a = node.as_array();
    if (!a || a->empty()) r.fail(node.source(), path, fmt::format("'{}' must be a non-empty array of choices", key));
    for (const toml::node& e : *a) {
      std::vector<Override> choice;
      if (scalar(e)) choice.push_back({key, toml_text(e)});
      else if (const toml::table* group = e.as_table())
        for (auto&& [gk, gv] : *group) {
          if (!scalar(gv)) r.fail(gv.source(), path, fmt::format("a value in a choice of '{}' must be a scalar", key));
          choice.push_back({std::string(gk.str()), toml_text(gv)});
        }
      else
        r.fail(e.source(), path, fmt::format("a choice of '{}' must be a string, number, boolean or table", key));
      out[key].push_back(std::move(choice));
    }
  }
  return out;
}

// `demonstrates`: anomaly names as the checkers report them.
std::vector<std::string> read_demonstrates(const Reader& r, const toml::table& root) {
  auto names = r.strings(root, "demonstrates", "", {});
  std::vector<std::string> known = {"liveness"};
  for (const auto& c : invariants::checkers())
    if (c.name != "kafka-liveness") known.push_back(c.name);
  for (const auto& n : names)
    if (std::find(known.begin(), known.end(), n) == known.end())
      r.fail(root.get("demonstrates")->source(), "demonstrates",
             fmt::format("'demonstrates' names '{}', which no checker reports (known: {})", n,
                         fmt::join(known, ", ")));
  return names;
}

ScenarioSpec read_spec(const Reader& r, const toml::table& root, const std::string& default_name,
                       SpecUse use) {
  r.check_keys(root, "", {"name", "description", "cluster", "topics", "workload", "config",
                          "faults", "nemesis", "world", "checkers", "expect", "demonstrates", "zoo", "swarm"});
  ScenarioSpec s;
  s.name = r.string(root, "name", "", default_name);
  s.description = r.string(root, "description", "", "");

  const toml::table* cluster = r.table(root, "cluster", "");
  if (cluster) {
    r.check_keys(*cluster, "cluster", {"nodes", "brokers"});
    s.nodes = r.range(*cluster, "nodes", "cluster", Range{0, 0, true}, 1);
    s.brokers = r.integer(*cluster, "brokers", "cluster", 0, 1);
  }
  s.topics = read_topics(r, root, s.brokers);

  const toml::table* workload = r.table(root, "workload", "");
  if (!workload || !workload->get("name"))
    r.fail(workload ? workload->source() : root.source(), "workload",
           fmt::format("a scenario needs [workload] with a 'name' (one of {})",
                       fmt::join(workload_names(), ", ")));
  s.workload = r.string(*workload, "name", "workload", "", workload_names());
  const WorkloadType& w = *find_workload(s.workload);
  s.workload_options = read_options(r, workload, "workload", w.options, {"name"});
  s.config = read_config(r, r.table(root, "config", ""), w);

  if (const toml::table* f = r.table(root, "faults", "")) {
    r.check_keys(*f, "faults", {"phase_ms", "heal_ms", "rate_per_s", "max_faulted_nodes"});
    s.fault_phase_ms = r.integer(*f, "phase_ms", "faults", s.fault_phase_ms, 0);
    s.heal_ms = r.integer(*f, "heal_ms", "faults", s.heal_ms, 0);
    s.rate_per_s = r.range(*f, "rate_per_s", "faults", s.rate_per_s, 0);
    s.max_faulted_nodes = r.integer(*f, "max_faulted_nodes", "faults", -1, 0);
  }
  if (const toml::node* n = root.get("nemesis")) {
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables())
      r.fail(n->source(), "nemesis", "'nemesis' must be [[nemesis]] tables");
    std::size_t i = 0;
    for (const toml::node& e : *a)
      s.nemeses.push_back(read_nemesis(r, *e.as_table(), fmt::format("nemesis[{}]", i++), w));
  }
  if (const toml::table* world = r.table(root, "world", "")) {
    r.check_keys(*world, "world", {"buggify_chance", "slow_fsync_chance", "fsync_latency_us"});
    s.buggify_chance = r.number(*world, "buggify_chance", "world", 0, 0, 1);
    s.slow_fsync_chance = r.number(*world, "slow_fsync_chance", "world", 0, 0, 1);
    s.fsync_latency_us = r.range(*world, "fsync_latency_us", "world", s.fsync_latency_us, 0);
  }
  if (const toml::table* c = r.table(root, "checkers", "")) {
    std::vector<std::string> names;
    for (const auto& k : invariants::checkers()) names.push_back(k.name);
    r.check_keys(*c, "checkers", names);
    for (auto&& [key, node] : *c) {
      if (!node.is_table())
        r.fail(node.source(), "checkers." + std::string(key.str()),
               fmt::format("checker '{}' takes a table of options ({{}} for none)", key.str()));
      s.checkers[std::string(key.str())] = to_json(node);
    }
  }
  s.expect = r.string(root, "expect", "", "ok", {"ok", "safety", "liveness"});
  s.demonstrates = read_demonstrates(r, root);
  s.swarm = read_swarm(r, root);
  if (const toml::table* z = r.table(root, "zoo", "")) {
    r.check_keys(*z, "zoo", {"switch", "issue", "max_seeds"});
    s.zoo_switch = r.string(*z, "switch", "zoo", "");
    if (!s.zoo_switch.starts_with("samsa.legacy."))
      r.fail(z->source(), "zoo.switch", "[zoo] needs 'switch', a samsa.legacy.* key");
    s.zoo_issue = r.string(*z, "issue", "zoo", "");
    s.zoo_max_seeds = r.integer(*z, "max_seeds", "zoo", 0, 0);
    if (s.demonstrates.empty())
      r.fail(z->source(), "zoo", "a [zoo] scenario names the anomalies its bug shows in 'demonstrates'");
  }
  if (w.validate && use == SpecUse::run)
    if (auto checked = w.validate(s); !checked) fail_at(r, root, checked.error());
  return s;
}

// Puts one --set into the document; errors name the override.
void apply_override(toml::table& root, const Override& o) {
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + o.value);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"v", o.value}};  // a bare word: a string
  }
  const toml::node& value = *parsed.get("v");
  std::vector<std::string> parts;
  for (std::size_t at = 0;;) {
    const auto dot = o.key.find('.', at);
    parts.push_back(o.key.substr(at, dot == std::string::npos ? dot : dot - at));
    if (dot == std::string::npos) break;
    at = dot + 1;
  }
  static const std::set<std::string> scenario_tables = {"cluster", "workload", "faults",
                                                        "world", "checkers", "zoo"};
  static const std::set<std::string> scenario_keys = {"name", "description", "expect", "demonstrates"};
  auto set_in = [&value](toml::table& t, const std::string& key) {
    t.insert_or_assign(key, value);
  };
  if (parts.size() == 1 && scenario_keys.count(parts[0])) return set_in(root, parts[0]);
  // nemesis.NAME.KEY and topics.NAME.KEY: every [[nemesis]] / [[topics]] table of that name.
  if ((parts[0] == "nemesis" || parts[0] == "topics") && parts.size() == 3) {
    toml::array* a = root[parts[0]].as_array();
    bool found = false;
    if (a)
      for (toml::node& e : *a)
        if (auto* t = e.as_table(); t && (*t)["name"].value<std::string>() == parts[1]) {
          set_in(*t, parts[2]);
          found = true;
        }
    if (!found)
      throw Mistake{{"--set " + o.text(), fmt::format("the scenario has no {} '{}'",
                                                      parts[0] == "nemesis" ? "nemesis" : "topic", parts[1])}};
    return;
  }
  if (scenario_tables.count(parts[0]) && parts.size() >= 2) {
    toml::table* t = &root;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      if (!t->get(parts[i])) t->insert(parts[i], toml::table{});
      t = (*t)[parts[i]].as_table();
      if (!t) throw Mistake{{"--set " + o.text(), fmt::format("'{}' is not a table", parts[i])}};
    }
    return set_in(*t, parts.back());
  }
  // Anything else is a Kafka config key.
  if (!root.get("config")) root.insert("config", toml::table{});
  toml::table* config = root["config"].as_table();
  if (!config) throw Mistake{{"--set " + o.text(), "'config' is not a table"}};
  config->insert_or_assign(o.key, value);
}

// Every [swarm] choice must make a good scenario: each one is tried on the
// file as overrides (the draw itself happens per seed, in the runner).
void check_swarm(const toml::table& root, const ScenarioSpec& spec, const std::string& origin,
                 const std::string& default_name) {
  for (const auto& [key, choices] : spec.swarm)
    for (const auto& choice : choices) {
      toml::table copy = root;
      copy.erase("swarm");
      try {
        for (const auto& o : choice) apply_override(copy, o);
        (void)read_spec(Reader(origin), copy, default_name, SpecUse::run);
      } catch (const Mistake& m) {
        const auto& b = root.get_as<toml::table>("swarm")->get(key)->source().begin;
        std::string text;
        for (const auto& o : choice) text += (text.empty() ? "" : ", ") + o.text();
        throw Mistake{{fmt::format("{}:{}:{}", origin, b.line, b.column),
                       fmt::format("[swarm] choice {}: {}", text, m.error.to_string())}};
      }
    }
}

}  // namespace

Result<Override, std::string> parse_override(const std::string& s) {
  const auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0)
    return Err(fmt::format("--set wants KEY=VALUE, not '{}'", s));
  return Override{s.substr(0, eq), s.substr(eq + 1)};
}

Result<ScenarioSpec, SpecError> parse_scenario(const std::string& text, const std::string& origin,
                                               const std::string& default_name,
                                               const std::vector<Override>& overrides, SpecUse use) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return Err(SpecError{fmt::format("{}:{}:{}", origin, b.line, b.column),
                         std::string(e.description())});
  }
  try {
    for (const Override& o : overrides) apply_override(root, o);
    ScenarioSpec spec = read_spec(Reader(origin), root, default_name, use);
    check_swarm(root, spec, origin, default_name);
    return spec;
  } catch (const Mistake& m) {
    return Err(m.error);
  }
}

}  // namespace samsa::scenarios
