// `samsa live workload`: the kafka scenario workload's clients (system/client's
// Producer and Consumer, driven by scenarios/kafka/client_driver.h, the driver
// the simulated kafka workload runs) on the live runtime against a real
// cluster, recording the same history (send / poll / commit / assign) to a
// JSON-lines file that `samsa check` judges. Its first line is the header:
// the scenario, the seed, the --set overrides and the client keys it ran with.
//
// What differs from the simulated workload: the cluster is not ours (its
// broker keys are whatever it was started with: only the scenario's producer
// and consumer keys are used), so there is no final-state snapshot of the
// replicas; without consumers the final read-back of every partition (to its
// high watermark) is the history's consumption, as Jepsen's final reads.
// The run ends after --duration-ms, after `records` per producer, or at
// SIGTERM/SIGINT (a second one stops at once); producers then wait for
// every outcome, consumers go on until they processed every acknowledged
// record (or --drain-ms passed), and the partitions are read back.
#include "tools/live_workload.h"

#include <fmt/format.h>

#include <asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "invariants/history.h"
#include "scenarios/broker/driver.h"
#include "scenarios/kafka/client_driver.h"
#include "scenarios/spec.h"
#include "sim/live/live_world.h"

namespace samsa::tools {

namespace {

using namespace std::chrono_literals;
using invariants::Process;
using nlohmann::json;
using sim::Duration;
using sim::Runtime;

struct WorkloadArgs {
  std::string bootstrap;
  std::string zookeeper;  // HOST:PORT of the coordinator (group_protocol = "zookeeper")
  std::string scenario;
  std::string history;
  std::vector<std::string> sets;
  std::int64_t duration_ms = 0;  // 0: the scenario's fault phase + heal
  std::int64_t drain_ms = 20000;
  std::int64_t read_timeout_ms = 60000;
  std::optional<std::uint64_t> seed;
  std::string log_level = "warn";
};

using Tp = std::pair<std::string, int>;

Result<std::vector<sim::Address>, std::string> parse_bootstrap(const std::string& list) {
  std::vector<sim::Address> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) return Err{"--bootstrap: expected HOST:PORT, got '" + item + "'"};
    int port = 0;
    try {
      port = std::stoi(item.substr(colon + 1));
    } catch (const std::exception&) {
      port = 0;
    }
    if (port <= 0 || port > 65535) return Err{"--bootstrap: bad port in '" + item + "'"};
    out.push_back({item.substr(0, colon), static_cast<std::uint16_t>(port)});
  }
  if (out.empty()) return Err{std::string("--bootstrap: no address")};
  return out;
}

// The kafka workload's clients (scenarios/kafka/client_driver.h) on the
// live world's control runtime: the topics first, then the producers and
// consumers as fibers until the duration ends (or a signal), the drain, and
// the final read-back.
class LiveWorkload {
 public:
  LiveWorkload(sim::LiveWorld& world, invariants::History& history, const scenarios::ScenarioSpec& spec,
               const WorkloadArgs& args, std::vector<sim::Address> bootstrap)
      : world_(world), history_(history), spec_(spec), args_(args), bootstrap_(std::move(bootstrap)) {
    for (const auto& t : spec.topics)
      for (int p = 0; p < t.partitions; ++p) partitions_.push_back({t.name, p});
    duration_ = std::chrono::milliseconds(args.duration_ms > 0 ? args.duration_ms
                                                               : spec.fault_phase_ms + spec.heal_ms);
  }

  // What the scenario's own validation (parse_scenario) does not know: that
  // it runs live. An error names the key or the option.
  std::optional<std::string> validate() {
    if (spec_.workload != "kafka") return "the live workload runs kafka scenarios, not " + spec_.workload;
    auto options = scenarios::kafka::read_client_options(spec_);
    if (!options) return options.error().key + ": " + options.error().message;
    std::vector<sim::Address> zookeeper;
    if (!args_.zookeeper.empty()) {
      auto z = parse_bootstrap(args_.zookeeper);
      if (!z) return "--zookeeper: expected HOST:PORT, got '" + args_.zookeeper + "'";
      zookeeper = std::move(*z);
    }
    if (options->zookeeper && options->consumers > 0 && zookeeper.empty())
      return std::string("group_protocol = \"zookeeper\" needs --zookeeper HOST:PORT (the coordinator)");
    driver_ = std::make_unique<scenarios::kafka::ClientDriver>(std::move(*options), history_, driver_env(zookeeper));
    return std::nullopt;
  }

  // The history's header: what ran, so the file says how to judge it.
  nlohmann::json header(std::uint64_t seed) const {
    const auto& o = driver_->options();
    json config = json::object();
    for (const auto& [k, v] : o.producer_props) config[k] = v;
    for (const auto& [k, v] : o.consumer_props) config[k] = v;
    config.erase("bootstrap.servers");
    return {{"run", "samsa live workload"}, {"scenario", spec_.name}, {"file", args_.scenario},
            {"seed", seed}, {"sets", args_.sets}, {"bootstrap", args_.bootstrap},
            {"zookeeper", args_.zookeeper}, {"duration_ms", duration_ / 1ms},
            {"workload", spec_.workload_options}, {"config", config}};
  }

  void start() {
    world_.spawn("driver", [this] { drive(); });
  }

  void stop_soon() {
    if (!stopping_) std::cout << "workload: stopping (signal)" << std::endl;
    stopping_ = true;
  }
  int exit_code() const { return exit_code_; }

 private:
  Runtime& rt() { return world_.control(); }
  sim::MonoTime now() { return rt().now(); }
  bool producing() { return !stopping_ && now() < end_; }

  // Producers write until the duration ends or a signal; consumers go on
  // after them until every acknowledged record was processed, or --drain-ms.
  scenarios::kafka::DriverEnv driver_env(std::vector<sim::Address> zookeeper) {
    scenarios::kafka::DriverEnv env;
    env.bootstrap_servers = args_.bootstrap;
    env.brokers = bootstrap_;
    env.zookeeper = std::move(zookeeper);
    env.producing = [this](Runtime&) { return producing(); };
    env.consuming = [this](Runtime&) { return consuming(); };
    env.shared_runtime = true;
    env.deadline_pacing = true;  // real sleeps overshoot (scenarios/kafka/pacing.h)
    env.track_acked = true;
    return env;
  }

  bool consuming() {
    if (producing() || driver_->stats().producers_done < driver_->options().producers) return true;
    if (!drain_end_) drain_end_ = now() + std::chrono::milliseconds(args_.drain_ms);
    if (now() >= *drain_end_) return false;
    return !driver_->all_acked_processed();
  }

  void drive() {
    if (!create_topics()) {
      std::cerr << "samsa live workload: the topics could not be created\n";
      exit_code_ = 1;
      world_.request_stop();
      return;
    }
    const auto& o = driver_->options();
    end_ = now() + duration_;
    std::cout << fmt::format("workload: started ({} producers, {} consumers, {} partitions, {} ms)", o.producers,
                             o.consumers, partitions_.size(), duration_ / 1ms)
              << std::endl;
    auto scope = rt().make_scope("clients");
    for (int i = 1; i <= o.producers; ++i) {
      ++running_;
      scope->spawn(fmt::format("p{}", i), [this, i] {
        driver_->run_producer(rt(), i);
        --running_;
      });
    }
    for (int i = 1; i <= o.consumers; ++i) {
      ++running_;
      scope->spawn(fmt::format("c{}", i), [this, i] {
        driver_->run_consumer(rt(), fmt::format("c{}", i));
        --running_;
      });
    }
    while (running_ > 0) rt().sleep(50ms);
    scope->stop();
    bool read = true;
    if (o.consumers == 0) read = read_back();
    print_summary(read);
    exit_code_ = read ? 0 : 1;
    world_.request_stop();
  }

  // CreateTopics (v4) to whichever broker is the controller; an existing
  // topic is fine (a second run against the same cluster).
  bool create_topics() {
    scenarios::broker::RawClient c(rt(), "samsa-live-workload");
    const auto deadline = now() + std::chrono::milliseconds(args_.read_timeout_ms);
    std::set<std::string> done;
    while (now() < deadline && !stopping_) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      for (const auto& b : bootstrap_) {
        (void)scenarios::broker::find_leader(c, b, spec_.topics.front().name, 0, &brokers);
        if (!brokers.empty()) break;
      }
      std::vector<sim::Address> targets = bootstrap_;
      for (const auto& [id, a] : brokers) targets.push_back(a);
      for (const auto& to : targets) {
        protocol::CreateTopicsRequest req;
        for (const auto& t : spec_.topics) {
          if (done.count(t.name)) continue;
          protocol::CreateTopicsRequest::CreatableTopic ct;
          ct.name = t.name;
          ct.num_partitions = static_cast<std::int32_t>(t.partitions);
          ct.replication_factor = static_cast<std::int16_t>(t.replication_factor);
          req.topics.push_back(std::move(ct));
        }
        if (req.topics.empty()) break;
        req.timeout_ms = 10000;
        auto resp = c.call<protocol::CreateTopicsResponse>(to, req, 4, 15s);
        if (!resp) continue;
        for (const auto& r : resp->topics)
          if (r.error_code == protocol::ErrorCode::none || r.error_code == protocol::ErrorCode::topic_already_exists)
            done.insert(r.name);
      }
      if (done.size() == spec_.topics.size() && leaders_known(c)) return true;
      rt().sleep(300ms);
    }
    return false;
  }

  bool leaders_known(scenarios::broker::RawClient& c) {
    for (const auto& tp : partitions_)
      if (!leader_address(c, tp)) return false;
    return true;
  }

  std::optional<sim::Address> leader_address(scenarios::broker::RawClient& c, const Tp& tp) {
    for (const auto& b : bootstrap_) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      auto leader = scenarios::broker::find_leader(c, b, tp.first, tp.second, &brokers);
      if (leader && brokers.count(*leader)) return brokers.at(*leader);
    }
    return std::nullopt;
  }

  // --- the final read-back: every partition from 0 to its leader's high watermark ---------
  bool read_back() {
    scenarios::broker::RawClient c(rt(), "samsa-live-reader");
    Process reader(history_);
    bool all = true;
    const auto deadline = now() + std::chrono::milliseconds(args_.read_timeout_ms);
    for (const auto& tp : partitions_) {
      reader.invoke("poll", json::object());
      std::map<std::int64_t, std::string> log;
      const bool ok = read_partition(c, tp, log, deadline);
      all = ok && all;
      records_read_ += log.size();
      scenarios::kafka::record_read_back(reader, tp.first, tp.second, ok ? &log : nullptr);
      if (!ok) std::cerr << fmt::format("samsa live workload: {}-{} could not be read back\n", tp.first, tp.second);
    }
    return all;
  }

  bool read_partition(scenarios::broker::RawClient& c, const Tp& tp, std::map<std::int64_t, std::string>& out,
                      sim::MonoTime deadline) {
    while (now() < deadline) {
      auto leader = leader_address(c, tp);
      if (!leader) {
        rt().sleep(300ms);
        continue;
      }
      if (auto got = scenarios::kafka::read_to_high_watermark(c, *leader, tp.first, tp.second,
                                                              [&] { return now() < deadline; })) {
        out = std::move(*got);
        return true;
      }
      c.drop(*leader);
      rt().sleep(300ms);
    }
    return false;
  }

  void print_summary(bool read) {
    const auto& st = driver_->stats();
    std::cout << fmt::format("workload: {} sends: {} ok, {} failed, {} unknown; {} records read back{}", st.sends,
                             st.ok, st.fail, st.info, records_read_, read ? "" : " (incomplete)");
    if (driver_->options().consumers > 0)
      std::cout << fmt::format("; {} of {} acked processed", driver_->acked_processed(), driver_->acked());
    std::cout << std::endl;
    // The counters the simulated run reports in its details.
    std::cout << "workload: details " << driver_->details().dump() << std::endl;
  }

  sim::LiveWorld& world_;
  invariants::History& history_;
  const scenarios::ScenarioSpec& spec_;
  const WorkloadArgs& args_;
  std::vector<sim::Address> bootstrap_;
  std::unique_ptr<scenarios::kafka::ClientDriver> driver_;
  std::vector<Tp> partitions_;
  Duration duration_{0};
  sim::MonoTime end_{};
  std::optional<sim::MonoTime> drain_end_;
  bool stopping_ = false;
  int running_ = 0;
  std::uint64_t records_read_ = 0;
  int exit_code_ = 0;
};

int run_workload(const WorkloadArgs& a) {
  std::ifstream in(a.scenario);
  if (!in) {
    std::cerr << "samsa live workload: " << a.scenario << ": cannot read\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<scenarios::Override> overrides;
  for (const auto& s : a.sets) {
    auto o = scenarios::parse_override(s);
    if (!o) {
      std::cerr << "samsa live workload: --set " << s << ": " << o.error() << "\n";
      return 2;
    }
    overrides.push_back(std::move(*o));
  }
  auto spec = scenarios::parse_scenario(text.str(), a.scenario, "live", overrides);
  if (!spec) {
    std::cerr << spec.error().to_string() << "\n";
    return 2;
  }
  auto bootstrap = parse_bootstrap(a.bootstrap);
  if (!bootstrap) {
    std::cerr << "samsa live workload: " << bootstrap.error() << "\n";
    return 2;
  }
  auto out = std::make_shared<std::ofstream>(a.history);
  if (!*out) {
    std::cerr << "samsa live workload: cannot write " << a.history << "\n";
    return 2;
  }
  sim::LiveConfig wc;
  wc.seed = a.seed;
  wc.log_level = a.log_level;
  sim::LiveWorld world(wc);
  const auto t0 = sim::LiveWorld::mono_now();
  invariants::History history([t0] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(sim::LiveWorld::mono_now() - t0).count();
  });
  history.stream_to(out);
  LiveWorkload workload(world, history, *spec, a, std::move(*bootstrap));
  if (auto bad = workload.validate()) {
    std::cerr << "samsa live workload: " << a.scenario << ": " << *bad << "\n";
    return 2;
  }
  std::cout << "seed " << world.seed() << std::endl;
  history.set_header(workload.header(world.seed()));
  // The first signal ends the run in order (outcomes, drain, read-back); a
  // second stops at once.
  asio::signal_set signals(world.io(), SIGINT, SIGTERM);
  int seen = 0;
  std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& ec, int) {
    if (ec) return;
    if (++seen == 1) {
      workload.stop_soon();
      signals.async_wait(on_signal);
    } else {
      world.request_stop();
    }
  };
  signals.async_wait(on_signal);
  workload.start();
  const auto r = world.run();
  signals.cancel();
  out->flush();
  if (r.reason == sim::LiveStop::internal_error) {
    std::cerr << "samsa live workload: internal error: " << r.message << "\n";
    return 4;
  }
  if (seen > 1) return 130;
  return workload.exit_code();
}

}  // namespace

Command add_live_workload_command(CLI::App& live) {
  auto a = std::make_shared<WorkloadArgs>();
  Command c;
  c.app = live.add_subcommand("workload",
                              "a kafka scenario's producers and consumer group against a running cluster, "
                              "recording the history `samsa check` judges");
  c.app->add_option("--bootstrap", a->bootstrap, "HOST:PORT[,HOST:PORT...] of the cluster")->required();
  c.app->add_option("--scenario", a->scenario, "a scenario file (TOML) whose workload is kafka")->required();
  c.app->add_option("--history", a->history, "where the history goes (JSON lines)")->required();
  c.app->add_option("--zookeeper", a->zookeeper,
                    "HOST:PORT of the coordinator, for a scenario whose group_protocol is zookeeper");
  c.app->add_option("--set", a->sets, "KEY=VALUE override of the scenario (as `samsa run --set`)");
  c.app->add_option("--duration-ms", a->duration_ms,
                    "how long the producers write (default: the scenario's faults phase_ms + heal_ms)");
  c.app->add_option("--drain-ms", a->drain_ms,
                    "how long consumers may go on after the producers to process every acked record (default 20000)");
  c.app->add_option("--read-timeout-ms", a->read_timeout_ms,
                    "how long topic creation and the final read-back may take (default 60000)");
  c.app->add_option("--seed", a->seed, "the seed of the clients' random streams (default: from the OS, printed)");
  c.app->add_option("--log-level", a->log_level, "the clients' log level (default warn)")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  c.run = [a] { return run_workload(*a); };
  return c;
}

}  // namespace samsa::tools
