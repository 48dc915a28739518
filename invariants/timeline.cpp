// render_timeline (timeline.h): an HTML page with one inline SVG. Plain
// string building; every text that comes from the history is escaped.
#include "invariants/timeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace samsa::invariants {

namespace {

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// One drawn operation: its invoke (if any) and completion.
struct Bar {
  const Op* invoke = nullptr;
  const Op* done = nullptr;  // null: still pending at the end
  std::int64_t lane = 0;
};

// One fault: from its nemesis op to its end.
struct Span {
  const Op* start = nullptr;
  std::int64_t end_ns = 0;
  std::string node;
};

std::string node_of(const Op& op) {
  if (!op.value.is_object()) return "cluster";
  if (op.value.contains("node") && op.value["node"].is_string()) return op.value["node"].get<std::string>();
  if (op.value.contains("nodes") && op.value["nodes"].is_array()) {
    std::string s;
    for (const auto& n : op.value["nodes"]) s += (s.empty() ? "" : "|") + (n.is_string() ? n.get<std::string>() : n.dump());
    return s;
  }
  return "cluster";
}

struct Layout {
  std::int64_t t0 = 0, t1 = 1;
  int label_px = 140, width_px = 1200, lane_px = 20, top_px = 30;
  double x(std::int64_t t) const {
    return label_px + static_cast<double>(t - t0) * width_px / static_cast<double>(std::max<std::int64_t>(1, t1 - t0));
  }
};

const char* colour(OpType t) {
  switch (t) {
    case OpType::ok: return "#5cb85c";
    case OpType::fail: return "#e06666";
    case OpType::info: return "#f0ad4e";
    default: return "#bbbbbb";
  }
}

// Leadership as the workload observed it: nemesis-process "leader" ops
// {topic, partition, node, leader_epoch} and "controller" ops {node,
// controller_epoch}, one lane per partition (and one for the controller).
using Epochs = std::map<std::string, std::vector<const Op*>>;

bool is_leadership(const Op& op) { return op.f == "leader" || op.f == "controller"; }

std::string epoch_lane(const Op& op) {
  if (op.f == "controller") return "controller";
  const ValueRef v = op.value;
  return fmt::format("{}-{}", v.is_object() ? v.value("topic", "?") : "?",
                     v.is_object() ? v.value("partition", -1) : -1);
}

// A colour per broker name, the same in every lane.
std::string broker_colour(const std::string& node) {
  static const char* palette[] = {"#90caf9", "#ce93d8", "#a5d6a7", "#ffcc80", "#80deea", "#f48fb1", "#e6ee9c"};
  std::size_t h = 0;
  for (char c : node) h = h * 31 + static_cast<unsigned char>(c);
  return node.empty() || node == "none" ? "#eeeeee" : palette[h % (sizeof(palette) / sizeof(palette[0]))];
}

void collect(const History& h, const TimelineOptions& o, std::vector<Bar>& bars, std::vector<Span>& spans,
             std::vector<std::int64_t>& heals, std::map<std::int64_t, std::int64_t>& lane_of, Epochs& epochs) {
  std::map<std::int64_t, std::size_t> pending;  // process -> bar
  // (fault, node) -> its open spans, oldest first: "-end" closes the oldest, a heal all.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> open;
  for (const Op& op : h.ops()) {
    if (op.process == k_nemesis && is_leadership(op)) {
      epochs[epoch_lane(op)].push_back(&op);
      continue;
    }
    if (op.process == k_nemesis) {
      if (op.f == "heal-all" || op.f == "heal") {
        heals.push_back(op.time_ns);
        for (auto& [key, list] : open)
          for (auto i : list) spans[i].end_ns = std::min(spans[i].end_ns, op.time_ns);
        open.clear();
        continue;
      }
      const std::string f(op.f);
      if (f.size() > 4 && f.ends_with("-end")) {
        auto& list = open[{f.substr(0, f.size() - 4), node_of(op)}];
        if (!list.empty()) spans[list.front()].end_ns = std::min(spans[list.front()].end_ns, op.time_ns);
        if (!list.empty()) list.erase(list.begin());
        continue;
      }
      // A fault with no duration_ms is instant (a reset); one with a duration ends by it at the latest.
      const std::int64_t duration_ms = op.value.is_object() ? op.value.value("duration_ms", std::int64_t{0}) : 0;
      spans.push_back({&op, duration_ms > 0 ? op.time_ns + duration_ms * 1'000'000 : op.time_ns, node_of(op)});
      if (duration_ms > 0) open[{f, node_of(op)}].push_back(spans.size() - 1);
      continue;
    }
    if (!lane_of.count(op.process)) {
      const auto n = static_cast<std::int64_t>(lane_of.size());
      lane_of[op.process] = std::min<std::int64_t>(n, static_cast<std::int64_t>(o.max_lanes) - 1);
    }
    if (op.type == OpType::invoke) {
      pending[op.process] = bars.size();
      bars.push_back({&op, nullptr, lane_of[op.process]});
      continue;
    }
    const auto it = pending.find(op.process);
    if (it != pending.end() && bars[it->second].invoke->f == op.f) {
      bars[it->second].done = &op;
      pending.erase(it);
    } else {
      bars.push_back({nullptr, &op, lane_of[op.process]});
    }
  }
}

void draw_bar(const Bar& b, const Layout& l, std::int64_t lane_y, const std::set<std::int64_t>& bad, std::string& svg) {
  const Op& shown = b.done ? *b.done : *b.invoke;
  const double x0 = l.x(b.invoke ? b.invoke->time_ns : shown.time_ns);
  const double x1 = b.done ? l.x(b.done->time_ns) : l.x(l.t1);
  const bool flagged = bad.count(shown.index) || (b.invoke && bad.count(b.invoke->index));
  std::string title = escape(to_jsonl(shown));
  if (b.invoke && b.done) title = fmt::format("invoke {}&#10;{}", b.invoke->index, title);
  // ids for both indexes: a violation may name the invoke or the completion.
  std::string ids = fmt::format("op-{}", shown.index);
  svg += fmt::format(
      "<rect id=\"{}\" class=\"op{}\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{} {}: "
      "{}</title></rect>\n",
      ids, flagged ? " bad" : "", x0, lane_y + 3, std::max(2.0, x1 - x0), l.lane_px - 6,
      b.done ? colour(b.done->type) : colour(OpType::invoke), escape(shown.f),
      b.done ? to_string(b.done->type) : "pending", title);
  if (b.invoke && b.done && b.invoke->index != shown.index)
    svg += fmt::format("<g id=\"op-{}\"></g>\n", b.invoke->index);
}

// One lane's leadership segments: each observation until the next one.
void draw_epochs(const std::vector<const Op*>& ops, const Layout& l, std::int64_t y, std::string& svg) {
  for (std::size_t k = 0; k < ops.size(); ++k) {
    const Op& op = *ops[k];
    const std::int64_t end = k + 1 < ops.size() ? ops[k + 1]->time_ns : l.t1;
    const ValueRef v = op.value;
    const std::string node = v.is_object() ? v.value("node", "none") : "none";
    const auto epoch = v.is_object() ? v.value(op.f == "controller" ? "controller_epoch" : "leader_epoch", -1) : -1;
    const double x0 = l.x(op.time_ns), x1 = l.x(end);
    svg += fmt::format(
        "<rect id=\"op-{}\" class=\"epoch\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\">"
        "<title>{}</title></rect>\n",
        op.index, x0, y + 2, std::max(1.0, x1 - x0), l.lane_px - 4, broker_colour(node), escape(to_jsonl(op)));
    if (x1 - x0 > 40)
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" fill=\"#222\">{} e{}</text>\n", x0 + 3, y + 14, escape(node),
                         epoch);
  }
}

}  // namespace

std::string render_timeline(const History& h, const std::vector<Violation>& violations, const TimelineOptions& o) {
  std::vector<Bar> bars;
  std::vector<Span> spans;
  std::vector<std::int64_t> heals;
  std::map<std::int64_t, std::int64_t> lane_of;  // process -> lane
  Epochs epochs;
  collect(h, o, bars, spans, heals, lane_of, epochs);
  Layout l;
  l.width_px = o.width_px;
  if (!h.ops().empty()) l.t0 = h.ops().front().time_ns, l.t1 = std::max(l.t0 + 1, h.ops().back().time_ns);
  for (auto& s : spans) s.end_ns = std::min(s.end_ns, l.t1);
  std::set<std::int64_t> bad;
  for (const auto& v : violations) bad.insert(v.ops.begin(), v.ops.end());

  // Fault lanes first (one per node), then leadership (one per partition,
  // and the controller), then one per client process.
  std::map<std::string, std::int64_t> node_lane;
  for (const auto& s : spans) node_lane.emplace(s.node, 0);
  std::int64_t i = 0;
  for (auto& [node, lane] : node_lane) lane = i++;
  std::map<std::string, std::int64_t> epoch_lane_of;
  for (const auto& [name, ops] : epochs) epoch_lane_of[name] = i++;
  std::int64_t client_lanes = 0;
  for (const auto& [p, lane] : lane_of) client_lanes = std::max(client_lanes, lane + 1);
  const auto clients_from = static_cast<std::int64_t>(node_lane.size() + epoch_lane_of.size());
  const std::int64_t lanes = clients_from + client_lanes;
  const std::int64_t height = l.top_px + lanes * l.lane_px + 30;
  auto lane_y = [&](std::int64_t lane) { return l.top_px + lane * l.lane_px; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"monospace\" "
      "font-size=\"11\">\n",
      l.label_px + l.width_px + 20, height);
  for (const auto& [node, lane] : node_lane)
    svg += fmt::format("<text x=\"4\" y=\"{}\">nemesis {}</text>\n", lane_y(lane) + 14, escape(node));
  std::map<std::int64_t, std::int64_t> first_process_of_lane;
  for (const auto& [p, lane] : lane_of) first_process_of_lane.emplace(lane, p);
  for (const auto& [lane, p] : first_process_of_lane)
    svg += fmt::format("<text x=\"4\" y=\"{}\">process {}{}</text>\n",
                       lane_y(lane + clients_from) + 14, p,
                       lane + 1 == static_cast<std::int64_t>(o.max_lanes) ? "+" : "");
  for (const auto& s : spans) {
    const double x0 = l.x(s.start->time_ns), x1 = l.x(s.end_ns);
    svg += fmt::format(
        "<rect id=\"op-{}\" class=\"fault\" x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#9e9e9e\" "
        "fill-opacity=\"0.45\"><title>{}</title></rect>\n",
        s.start->index, x0, lane_y(node_lane.at(s.node)) + 2, std::max(2.0, x1 - x0), l.lane_px - 4,
        escape(to_jsonl(*s.start)));
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" fill=\"#333\">{}</text>\n", x0 + 3,
                       lane_y(node_lane.at(s.node)) + 14, escape(s.start->f));
  }
  for (const auto& [name, lane] : epoch_lane_of) {
    svg += fmt::format("<text x=\"4\" y=\"{}\">{}{}</text>\n", lane_y(lane) + 14, name == "controller" ? "" : "leader ",
                       escape(name));
    draw_epochs(epochs.at(name), l, lane_y(lane), svg);
  }
  for (const Bar& b : bars) draw_bar(b, l, lane_y(b.lane + clients_from), bad, svg);
  for (auto t : heals)
    svg += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#1565c0\" "
                       "stroke-dasharray=\"4 3\"><title>heal</title></line>\n",
                       l.x(t), l.top_px - 8, l.top_px + lanes * l.lane_px);
  svg += fmt::format("<text x=\"{}\" y=\"16\">{} ms</text><text x=\"{}\" y=\"16\" text-anchor=\"end\">{} ms</text>\n",
                     l.label_px, l.t0 / 1'000'000, l.label_px + l.width_px, l.t1 / 1'000'000);
  svg += "</svg>\n";

  std::string list;
  for (std::size_t k = 0; k < violations.size(); ++k) {
    const auto& v = violations[k];
    std::string ops;
    for (auto op : v.ops) ops += fmt::format("<a href=\"#op-{0}\">op {0}</a> ", op);
    list += fmt::format("<tr id=\"violation-{}\" class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", k,
                        to_string(v.kind), to_string(v.kind), escape(v.name), escape(v.explanation), ops);
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>\n"
      "body{{font-family:sans-serif;margin:12px}} .op.bad{{stroke:#b00020;stroke-width:3}}\n"
      "table{{border-collapse:collapse}} td{{border-top:1px solid #ddd;padding:2px 8px;font-size:13px}}\n"
      "tr.safety td:first-child{{color:#b00020}} tr.liveness td:first-child{{color:#e65100}}\n"
      ".legend span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}}\n"
      "</style></head><body>\n<h1>{0}</h1>\n<p>{1} operations, {2} violations. "
      "<span class=\"legend\"><span style=\"background:#5cb85c\"></span>ok<span style=\"background:#e06666\"></span>fail"
      "<span style=\"background:#f0ad4e\"></span>info<span style=\"background:#bbbbbb\"></span>pending"
      "<span style=\"background:#9e9e9e\"></span>fault</span> Leader lanes: one colour per broker, "
      "e<i>N</i> its leader epoch.</p>\n{3}"
      "<h2>Violations</h2>\n<table>\n{4}</table>\n</body></html>\n",
      escape(o.title), h.size(), violations.size(), svg, list.empty() ? "<tr><td>none</td></tr>\n" : list);
}

}  // namespace samsa::invariants
