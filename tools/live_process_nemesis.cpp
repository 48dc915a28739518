// `samsa live nemesis`: faults at the level of processes. It starts one
// `samsa live broker --config FILE` child per --broker-config (this same
// binary), waits until each printed its ready line, prints the cluster's
// `ready bootstrap=...`, then for --rounds rounds picks a broker and an
// action from the seed's stream:
//   kill   kill -9, wait --down-ms, start it again on its log dir (a new
//          process on the files the OS kept), wait for its ready line;
//   pause  SIGSTOP, wait --down-ms, SIGCONT (what its peers see of a long
//          GC pause or a stalled VM);
// then waits --interval-ms. Each fault is printed as it happens:
//   nemesis N kill -9 broker-1 (pid P)
// After the rounds it prints `nemesis done` and keeps the brokers running
// until SIGTERM/SIGINT, which it passes on (controlled shutdowns) before it
// exits 0. A broker's stdout and stderr go to FILE.log next to its config.
//
// The schedule is the seed's: the same --seed picks the same brokers and
// actions (their effects, being real, are not reproducible).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "tools/live_workload.h"

namespace samsa::tools {

namespace {

using namespace std::chrono_literals;

struct NemesisArgs {
  std::vector<std::string> configs;
  std::optional<std::uint64_t> seed;
  int rounds = 20;
  std::int64_t interval_ms = 2000;
  std::int64_t down_ms = 1000;
  std::int64_t ready_timeout_ms = 60000;
  std::vector<std::string> actions = {"kill", "pause"};
  std::string log_level = "info";
};

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

struct Child {
  std::string config;
  std::string log;
  pid_t pid = -1;
  std::size_t ready_from = 0;  // the log's size when this incarnation started
  std::string address;
};

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "samsa";
  return std::string(buf, static_cast<std::size_t>(n));
}

bool spawn(Child& c, const std::string& exe, const std::string& log_level) {
  struct stat st {};
  c.ready_from = ::stat(c.log.c_str(), &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int fd = ::open(c.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::execl(exe.c_str(), exe.c_str(), "live", "broker", "--config", c.config.c_str(), "--log-level",
            log_level.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  c.pid = pid;
  return true;
}

// The address of this incarnation's `ready bootstrap=HOST:PORT ...` line, once printed.
std::optional<std::string> ready_address(const Child& c) {
  std::ifstream in(c.log);
  in.seekg(static_cast<std::streamoff>(c.ready_from));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("ready ")) continue;
    std::stringstream fields(line.substr(6));
    std::string f;
    while (fields >> f)
      if (f.starts_with("bootstrap=")) return f.substr(10);
  }
  return std::nullopt;
}

bool exited(Child& c) {
  int status = 0;
  if (c.pid > 0 && ::waitpid(c.pid, &status, WNOHANG) == c.pid) {
    c.pid = -1;
    return true;
  }
  return c.pid <= 0;
}

bool wait_ready(Child& c, std::int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline && !g_stop) {
    if (auto a = ready_address(c)) {
      c.address = *a;
      return true;
    }
    if (exited(c)) return false;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// Sleeps in steps so a signal ends the wait.
void nap(std::int64_t ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!g_stop && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
}

std::string name_of(std::size_t i) { return fmt::format("broker-{}", i); }

void say(const std::string& line) { std::cout << line << std::endl; }

void stop_all(std::vector<Child>& children) {
  for (auto& c : children)
    if (c.pid > 0) {
      ::kill(c.pid, SIGCONT);
      ::kill(c.pid, SIGTERM);
    }
  for (auto& c : children) {
    if (c.pid <= 0) continue;
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    say(fmt::format("nemesis {} exited ({})", name_of(&c - children.data()),
                    WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status))
                                      : fmt::format("signal {}", WTERMSIG(status))));
    c.pid = -1;
  }
}

int run_nemesis(const NemesisArgs& a) {
  for (const auto& act : a.actions)
    if (act != "kill" && act != "pause") {
      std::cerr << "samsa live nemesis: --actions: unknown action '" << act << "' (kill, pause)\n";
      return 2;
    }
  const std::uint64_t seed = a.seed ? *a.seed : std::random_device{}();
  std::mt19937_64 rng(seed);
  say(fmt::format("seed {}", seed));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  const std::string exe = self_exe();
  std::vector<Child> children;
  for (const auto& cfg : a.configs) children.push_back({cfg, cfg + ".log"});
  for (auto& c : children)
    if (!spawn(c, exe, a.log_level)) {
      std::cerr << "samsa live nemesis: cannot start a broker: " << std::strerror(errno) << "\n";
      stop_all(children);
      return 1;
    }
  std::string bootstrap;
  for (std::size_t i = 0; i < children.size(); ++i) {
    if (!wait_ready(children[i], a.ready_timeout_ms)) {
      std::cerr << fmt::format("samsa live nemesis: {} ({}) did not get ready; see {}\n", name_of(i),
                               children[i].config, children[i].log);
      stop_all(children);
      return 1;
    }
    bootstrap += (i ? "," : "") + children[i].address;
  }
  say("ready bootstrap=" + bootstrap);
  int exit_code = 0;
  for (int round = 1; (a.rounds == 0 || round <= a.rounds) && !g_stop; ++round) {
    nap(a.interval_ms);
    if (g_stop) break;
    const std::size_t i = static_cast<std::size_t>(rng() % children.size());
    const std::string& action = a.actions[static_cast<std::size_t>(rng() % a.actions.size())];
    Child& c = children[i];
    if (exited(c)) {
      std::cerr << fmt::format("samsa live nemesis: {} exited on its own; see {}\n", name_of(i), c.log);
      exit_code = 1;
      break;
    }
    if (action == "kill") {
      say(fmt::format("nemesis {} kill -9 {} (pid {})", round, name_of(i), c.pid));
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, nullptr, 0);
      c.pid = -1;
      nap(a.down_ms);
      if (!spawn(c, exe, a.log_level)) {
        exit_code = 1;
        break;
      }
      say(fmt::format("nemesis {} start {} (pid {})", round, name_of(i), c.pid));
      if (!wait_ready(c, a.ready_timeout_ms)) {
        if (g_stop) break;
        std::cerr << fmt::format("samsa live nemesis: {} did not get ready after its restart; see {}\n",
                                 name_of(i), c.log);
        exit_code = 1;
        break;
      }
      say(fmt::format("nemesis {} ready {} at {}", round, name_of(i), c.address));
    } else {
      say(fmt::format("nemesis {} SIGSTOP {} (pid {})", round, name_of(i), c.pid));
      ::kill(c.pid, SIGSTOP);
      nap(a.down_ms);
      ::kill(c.pid, SIGCONT);
      say(fmt::format("nemesis {} SIGCONT {} (pid {})", round, name_of(i), c.pid));
    }
  }
  if (exit_code == 0 && !g_stop) {
    say("nemesis done");
    while (!g_stop) std::this_thread::sleep_for(20ms);
  }
  stop_all(children);
  return exit_code;
}

}  // namespace

Command add_live_nemesis_command(CLI::App& live) {
  auto a = std::make_shared<NemesisArgs>();
  Command c;
  c.app = live.add_subcommand("nemesis",
                              "broker processes under kill -9, SIGSTOP/SIGCONT and restarts on a seeded schedule");
  c.app->add_option("--broker-config", a->configs, "a broker's server.properties (repeatable: one process each)")
      ->required();
  c.app->add_option("--seed", a->seed, "the schedule's seed (default: from the OS, printed)");
  c.app->add_option("--rounds", a->rounds, "faults to apply (default 20; 0: until SIGTERM)");
  c.app->add_option("--interval-ms", a->interval_ms, "the wait before each fault (default 2000)");
  c.app->add_option("--down-ms", a->down_ms, "how long a killed broker stays down, a stopped one stopped (default 1000)");
  c.app->add_option("--ready-timeout-ms", a->ready_timeout_ms, "how long a broker may take to get ready (default 60000)");
  c.app->add_option("--actions", a->actions, "the actions to draw from: kill, pause (default both)")->delimiter(',');
  c.app->add_option("--log-level", a->log_level, "the brokers' log level (default info)")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  c.run = [a] { return run_nemesis(*a); };
  return c;
}

}  // namespace samsa::tools
