#pragma once
// The history of a run, Jepsen-style: each client operation is an `invoke`
// followed by `ok`, `fail` (definitely did not happen) or `info` (unknown: a
// timeout, a lost ack); faults are `info` operations of the "nemesis"
// process. One writer for all: the simulation and live mode record through
// this class, and it writes the JSON-lines format of DESIGN.md:
//
//   {"index":17,"time_ns":1234567,"process":3,"type":"invoke","f":"send","value":{...}}
//
// Usage:
//   History h([&] { return now_ns(); });
//   const auto p = h.new_process();
//   h.invoke(p, "send", {{"topic", "t"}, {"value", "3-41"}});
//   h.ok(p, "send", {{"topic", "t"}, {"value", "3-41"}, {"offset", 105}});
//   h.nemesis("crash", {{"node", "broker-2"}});
#include <nlohmann/json.hpp>

#include <concepts>
#include <cstdint>
#include <deque>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "invariants/value.h"
#include "sim/runtime/result.h"

namespace samsa::invariants {

enum class OpType : std::uint8_t { invoke, ok, fail, info };
std::string_view to_string(OpType t);

// The process of fault operations; written as "nemesis".
constexpr std::int64_t k_nemesis = -1;

// 56 bytes: the history holds one per operation (about 230k at 1,000
// records/s), so each field is as narrow as its values.
struct Op {
  std::int64_t index = 0;
  std::int64_t time_ns = 0;
  std::int32_t process = 0;
  OpType type = OpType::invoke;
  // Interned by the History that holds the op (a handful of names per run,
  // so recording copies no string): valid while that History lives.
  std::string_view f;
  Value value;  // compact (value.h): read like nlohmann::json, dumps the same bytes
};
static_assert(sizeof(Op) == 56);

nlohmann::json to_json(const Op& op);
std::string to_jsonl(const Op& op);  // one line, no newline
void append_jsonl(std::string& out, const Op& op);  // the same line, appended

// A parse error of a history file: where and why.
struct HistoryError {
  std::string source;
  std::size_t line = 0;
  std::size_t column = 0;
  std::string message;
  std::string to_string() const;  // "file:line:col: message"
};

class History {
 public:
  using Clock = std::function<std::int64_t()>;  // time_ns of the next op
  explicit History(Clock clock = {});
  History(History&&) = default;  // the interned names move with the ops (a deque keeps them in place)
  History& operator=(History&&) = default;
  History(const History&) = delete;

  // A fresh process id (a client, or a client after a restart).
  std::int64_t new_process() { return next_process_++; }

  std::int64_t invoke(std::int64_t process, std::string_view f, nlohmann::json value = nullptr);
  std::int64_t ok(std::int64_t process, std::string_view f, nlohmann::json value = nullptr);
  std::int64_t fail(std::int64_t process, std::string_view f, nlohmann::json value = nullptr);
  std::int64_t info(std::int64_t process, std::string_view f, nlohmann::json value = nullptr);
  std::int64_t nemesis(std::string_view f, nlohmann::json value = nullptr) {
    return info(k_nemesis, f, std::move(value));
  }
  // The same with a compact value (ValueWriter): no json tree per op. A
  // template, so a braced list still makes the json of the overloads above.
  template <class V>
    requires std::same_as<V, Value>
  std::int64_t invoke(std::int64_t process, std::string_view f, V&& value) {
    return record(process, OpType::invoke, f, std::move(value));
  }
  template <class V>
    requires std::same_as<V, Value>
  std::int64_t ok(std::int64_t process, std::string_view f, V&& value) {
    return record(process, OpType::ok, f, std::move(value));
  }
  // Appends an op as given (its index is renumbered to follow the others).
  std::int64_t append(Op op);

  const std::deque<Op>& ops() const { return ops_; }
  std::size_t size() const { return ops_.size(); }
  // One more than the highest process id recorded (or handed out).
  std::int64_t process_count() const { return next_process_; }

  // Every op is also written to `out` as it is recorded (live mode, long runs).
  void stream_to(std::shared_ptr<std::ostream> out) { stream_ = std::move(out); }
  // What the run was (a live workload's scenario, seed, --set overrides and
  // client keys), written as the first line {"header": {...}}; set before
  // the first op (and after stream_to, which then writes it at once). Null: none.
  void set_header(nlohmann::json header);
  const nlohmann::json& header() const { return header_; }
  void write_jsonl(std::ostream& out) const;
  static Result<History, HistoryError> read_jsonl(std::istream& in, std::string source);

 private:
  friend class Process;  // records without another copy of the value
  std::int64_t record(std::int64_t process, OpType type, std::string_view f, Value&& value);
  std::string_view intern(std::string_view f);

  Clock clock_;
  std::deque<Op> ops_;  // a deque: recording never moves earlier ops
  std::deque<std::string> names_;  // the interned f names
  std::string_view last_name_;  // the name interned last (one of names_)
  std::int64_t next_process_ = 0;
  std::shared_ptr<std::ostream> stream_;
  nlohmann::json header_;
};

// One client's view of the history: it knows its process id and its pending
// operation. When it is closed or destroyed (a crash unwinds it) with an
// operation pending, that operation ends as `info`: its outcome is unknown.
//   invariants::Process p(history);
//   p.invoke("send", v);  ...  p.ok("send", v2);
class Process {
 public:
  explicit Process(History& h) : h_(&h), id_(h.new_process()) {}
  ~Process() { close(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  std::int64_t id() const { return id_; }
  bool pending() const { return pending_; }
  std::int64_t invoke(std::string_view f, nlohmann::json value = nullptr);
  std::int64_t ok(std::string_view f, nlohmann::json value = nullptr);
  std::int64_t fail(std::string_view f, nlohmann::json value = nullptr);
  std::int64_t info(std::string_view f, nlohmann::json value = nullptr);
  // The same with a compact value (ValueWriter); see History's.
  template <class V>
    requires std::same_as<V, Value>
  std::int64_t invoke(std::string_view f, V&& value) {
    return invoke_value(f, std::move(value));
  }
  template <class V>
    requires std::same_as<V, Value>
  std::int64_t ok(std::string_view f, V&& value) {
    return end_value(OpType::ok, f, std::move(value));
  }
  template <class V>
    requires std::same_as<V, Value>
  std::int64_t fail(std::string_view f, V&& value) {
    return end_value(OpType::fail, f, std::move(value));
  }
  template <class V>
    requires std::same_as<V, Value>
  std::int64_t info(std::string_view f, V&& value) {
    return end_value(OpType::info, f, std::move(value));
  }
  // Ends a pending operation as info; does nothing when none is pending.
  void close(nlohmann::json value = nullptr);

 private:
  std::int64_t invoke_value(std::string_view f, Value&& value);
  std::int64_t end_value(OpType type, std::string_view f, Value&& value);

  History* h_;
  std::int64_t id_;
  bool pending_ = false;
  std::string_view pending_f_;  // interned by the History
};

}  // namespace samsa::invariants
