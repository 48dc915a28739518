#include "invariants/history.h"

#include <fmt/format.h>

#include <istream>
#include <ostream>

namespace samsa::invariants {

std::string_view to_string(OpType t) {
  switch (t) {
    case OpType::invoke: return "invoke";
    case OpType::ok: return "ok";
    case OpType::fail: return "fail";
    case OpType::info: return "info";
  }
  return "?";
}

nlohmann::json to_json(const Op& op) {
  nlohmann::json j;
  j["index"] = op.index;
  j["time_ns"] = op.time_ns;
  if (op.process == k_nemesis)
    j["process"] = "nemesis";
  else
    j["process"] = op.process;
  j["type"] = std::string(to_string(op.type));
  j["f"] = std::string(op.f);
  j["value"] = op.value.to_json();
  return j;
}

// What to_json(op).dump() writes (nlohmann's sorted keys: f, index, process,
// time_ns, type, value), without building the JSON.
void append_jsonl(std::string& out, const Op& op) {
  out += "{\"f\":";
  dump_json_string(out, op.f);
  out += ",\"index\":";
  out += std::to_string(op.index);
  out += ",\"process\":";
  out += op.process == k_nemesis ? std::string("\"nemesis\"") : std::to_string(op.process);
  out += ",\"time_ns\":";
  out += std::to_string(op.time_ns);
  out += ",\"type\":\"";
  out += to_string(op.type);
  out += "\",\"value\":";
  op.value.dump_to(out);
  out += '}';
}

std::string to_jsonl(const Op& op) {
  std::string out;
  append_jsonl(out, op);
  return out;
}

std::string HistoryError::to_string() const {
  return fmt::format("{}:{}:{}: {}", source, line, column, message);
}

namespace {

// Equality of two short names without a call to memcmp: History::record
// compares one per recorded op.
bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

}  // namespace

History::History(Clock clock) : clock_(std::move(clock)) {}

std::int64_t History::record(std::int64_t process, OpType type, std::string_view f, Value&& value) {
  if (process >= next_process_) next_process_ = process + 1;
  Op& op = ops_.emplace_back();  // in place: an op is recorded per client step
  op.index = static_cast<std::int64_t>(ops_.size()) - 1;
  op.time_ns = clock_ ? clock_() : 0;
  op.process = process;
  op.type = type;
  // Most ops repeat the f of the op before (invoke then ok): that one is tried
  // here, without a call. (A moved-from History has no names, so no last one.)
  op.f = !names_.empty() && same_name(last_name_, f) ? last_name_ : intern(f);
  op.value = std::move(value);
  if (stream_) *stream_ << to_jsonl(op) << '\n';
  return op.index;
}

std::int64_t History::invoke(std::int64_t p, std::string_view f, nlohmann::json v) {
  return record(p, OpType::invoke, f, Value(v));
}
std::int64_t History::ok(std::int64_t p, std::string_view f, nlohmann::json v) {
  return record(p, OpType::ok, f, Value(v));
}
std::int64_t History::fail(std::int64_t p, std::string_view f, nlohmann::json v) {
  return record(p, OpType::fail, f, Value(v));
}
std::int64_t History::info(std::int64_t p, std::string_view f, nlohmann::json v) {
  return record(p, OpType::info, f, Value(v));
}

std::string_view History::intern(std::string_view f) {
  for (const std::string& n : names_)
    if (n == f) return last_name_ = n;
  return last_name_ = names_.emplace_back(f);
}

std::int64_t History::append(Op op) {
  op.f = intern(op.f);
  op.index = static_cast<std::int64_t>(ops_.size());
  if (op.process >= next_process_) next_process_ = op.process + 1;
  if (stream_) *stream_ << to_jsonl(op) << '\n';
  ops_.push_back(std::move(op));
  return ops_.back().index;
}

std::int64_t Process::invoke(std::string_view f, nlohmann::json value) {
  SAMSA_ASSERT(!pending_, "a process invokes one operation at a time");
  pending_ = true;
  const std::int64_t index = h_->record(id_, OpType::invoke, f, Value(value));
  pending_f_ = h_->ops().back().f;
  return index;
}

std::int64_t Process::ok(std::string_view f, nlohmann::json value) {
  pending_ = false;
  return h_->record(id_, OpType::ok, f, Value(value));
}

std::int64_t Process::fail(std::string_view f, nlohmann::json value) {
  pending_ = false;
  return h_->record(id_, OpType::fail, f, Value(value));
}

std::int64_t Process::info(std::string_view f, nlohmann::json value) {
  pending_ = false;
  return h_->record(id_, OpType::info, f, Value(value));
}

std::int64_t Process::invoke_value(std::string_view f, Value&& value) {
  SAMSA_ASSERT(!pending_, "a process invokes one operation at a time");
  pending_ = true;
  const std::int64_t index = h_->record(id_, OpType::invoke, f, std::move(value));
  pending_f_ = h_->ops().back().f;
  return index;
}

std::int64_t Process::end_value(OpType type, std::string_view f, Value&& value) {
  pending_ = false;
  return h_->record(id_, type, f, std::move(value));
}

void Process::close(nlohmann::json value) {
  if (!pending_) return;
  pending_ = false;
  h_->record(id_, OpType::info, pending_f_, Value(value));
}

void History::set_header(nlohmann::json header) {
  SAMSA_ASSERT(ops_.empty(), "a history's header comes before its first op");
  header_ = std::move(header);
  if (stream_ && !header_.is_null()) *stream_ << nlohmann::json{{"header", header_}}.dump() << '\n';
}

void History::write_jsonl(std::ostream& out) const {
  std::string buf;
  if (!header_.is_null()) buf = nlohmann::json{{"header", header_}}.dump() + '\n';
  for (const Op& op : ops_) {
    append_jsonl(buf, op);
    buf += '\n';
    if (buf.size() >= (1 << 16)) out << buf, buf.clear();
  }
  out << buf;
}

namespace {

std::optional<OpType> parse_type(const std::string& s) {
  for (OpType t : {OpType::invoke, OpType::ok, OpType::fail, OpType::info})
    if (s == to_string(t)) return t;
  return std::nullopt;
}

// One line of a history file; the error message names the field.
Result<Op, std::string> parse_op(const nlohmann::json& j) {
  if (!j.is_object()) return Err(std::string("an operation must be a JSON object"));
  Op op;
  // op.f points into `j` until History::append interns it.
  const auto p = j.find("process");
  if (p == j.end()) return Err(std::string("missing \"process\""));
  if (p->is_string() && *p == "nemesis")
    op.process = k_nemesis;
  else if (p->is_number_integer() && p->get<std::int64_t>() >= 0)
    op.process = p->get<std::int64_t>();
  else
    return Err(std::string("\"process\" must be a non-negative integer or \"nemesis\""));
  const auto t = j.find("type");
  if (t == j.end() || !t->is_string() || !parse_type(t->get<std::string>()))
    return Err(std::string("\"type\" must be one of invoke, ok, fail, info"));
  op.type = *parse_type(t->get<std::string>());
  const auto f = j.find("f");
  if (f == j.end() || !f->is_string()) return Err(std::string("\"f\" must be a string"));
  op.f = f->get_ref<const std::string&>();
  if (auto it = j.find("time_ns"); it != j.end()) {
    if (!it->is_number_integer()) return Err(std::string("\"time_ns\" must be an integer"));
    op.time_ns = it->get<std::int64_t>();
  }
  if (auto it = j.find("index"); it != j.end()) {
    if (!it->is_number_integer()) return Err(std::string("\"index\" must be an integer"));
    op.index = it->get<std::int64_t>();
  }
  if (auto it = j.find("value"); it != j.end()) op.value = *it;
  return op;
}

}  // namespace

Result<History, HistoryError> History::read_jsonl(std::istream& in, std::string source) {
  History h;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      const std::size_t col = e.byte == 0 ? 1 : e.byte;
      return Err(HistoryError{source, number, col, "not JSON: " + std::string(e.what())});
    }
    if (j.is_object() && j.contains("header") && !j.contains("process")) {
      if (!h.ops_.empty() || !h.header_.is_null())
        return Err(HistoryError{source, number, 1, "a header is the history's first line"});
      h.header_ = j["header"];
      continue;
    }
    auto op = parse_op(j);
    if (!op) return Err(HistoryError{source, number, 1, op.error()});
    // Indexes are kept as recorded: checkers name operations by them.
    const std::int64_t index = op->index;
    h.append(std::move(*op));
    const std::size_t header_lines = h.header_.is_null() ? 0 : 1;
    h.ops_.back().index = j.contains("index") ? index : static_cast<std::int64_t>(number - 1 - header_lines);
  }
  return h;
}

}  // namespace samsa::invariants
