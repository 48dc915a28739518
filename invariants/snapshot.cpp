// replica-divergence over a final-state snapshot (snapshot.h).
#include "invariants/snapshot.h"

#include <fmt/format.h>

#include <map>
#include <utility>

namespace samsa::invariants {

std::uint64_t record_hash(std::string_view value) {
  std::uint64_t h = 14695981039346656037ull;  // the FNV offset basis
  for (unsigned char c : value) h = (h ^ c) * 1099511628211ull;
  return h;
}

nlohmann::json to_json(const Snapshot& s) {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& p : s.partitions) {
    nlohmann::json replicas = nlohmann::json::array();
    for (const auto& r : p.replicas) {
      nlohmann::json records = nlohmann::json::array();
      for (const auto& rec : r.records) records.push_back({rec.offset, rec.leader_epoch, rec.hash});
      // Moved, not copied: a replica's records are most of a snapshot.
      replicas.push_back(
          {{"broker", r.broker}, {"log_start_offset", r.log_start_offset}, {"records", std::move(records)}});
    }
    parts.push_back({{"topic", p.topic},
                     {"partition", p.partition},
                     {"leader", p.leader},
                     {"leader_epoch", p.leader_epoch},
                     {"high_watermark", p.high_watermark},
                     {"replicas", std::move(replicas)}});
  }
  return {{"time_ns", s.time_ns}, {"partitions", std::move(parts)}};
}

Snapshot snapshot_from_json(const nlohmann::json& j) {
  Snapshot s;
  if (!j.is_object() || !j.contains("partitions") || !j["partitions"].is_array()) return s;
  s.time_ns = j.value("time_ns", std::int64_t{-1});
  for (const auto& pj : j["partitions"]) {
    if (!pj.is_object()) continue;
    PartitionSnapshot p;
    p.topic = pj.value("topic", "");
    p.partition = pj.value("partition", 0);
    p.leader = pj.value("leader", -1);
    p.leader_epoch = pj.value("leader_epoch", -1);
    p.high_watermark = pj.value("high_watermark", std::int64_t{0});
    if (pj.contains("replicas") && pj["replicas"].is_array())
      for (const auto& rj : pj["replicas"]) {
        if (!rj.is_object()) continue;
        ReplicaLog r;
        r.broker = rj.value("broker", -1);
        r.log_start_offset = rj.value("log_start_offset", std::int64_t{0});
        if (rj.contains("records") && rj["records"].is_array())
          for (const auto& e : rj["records"])
            if (e.is_array() && e.size() == 3 && e[0].is_number_integer() && e[1].is_number_integer() &&
                e[2].is_number_unsigned())
              r.records.push_back({e[0].get<std::int64_t>(), e[1].get<std::int32_t>(), e[2].get<std::uint64_t>()});
        p.replicas.push_back(std::move(r));
      }
    s.partitions.push_back(std::move(p));
  }
  return s;
}

namespace {

// One partition: the first replica that holds each offset below the HW is
// the reference; any other that disagrees, or skips an offset it reaches
// past, diverges. One violation per (replica, first divergent offset): after
// the first difference the rest of that replica's log usually differs too.
void check_partition(const PartitionSnapshot& p, std::vector<Violation>& out) {
  std::map<std::int64_t, std::pair<std::int32_t, const ReplicaRecord*>> reference;  // offset -> (broker, record)
  for (const auto& r : p.replicas)
    for (const auto& rec : r.records)
      if (rec.offset < p.high_watermark) reference.emplace(rec.offset, std::pair{r.broker, &rec});
  for (const auto& r : p.replicas) {
    std::map<std::int64_t, const ReplicaRecord*> mine;
    std::int64_t end = -1;
    for (const auto& rec : r.records) {
      mine.emplace(rec.offset, &rec);
      end = std::max(end, rec.offset);
    }
    const std::int64_t start = r.records.empty() ? 0 : r.records.front().offset;
    for (const auto& [offset, ref] : reference) {
      if (offset < start || offset > end) continue;  // retention, or behind: not divergence
      const auto it = mine.find(offset);
      if (it == mine.end()) {
        out.push_back(Violation::safety(
            "replica-divergence",
            fmt::format("{}-{} offset {} (below high watermark {}): broker {} lacks it, broker {} has it",
                        p.topic, p.partition, offset, p.high_watermark, r.broker, ref.first)));
        break;
      }
      const ReplicaRecord& a = *ref.second;
      const ReplicaRecord& b = *it->second;
      if (a.leader_epoch != b.leader_epoch || a.hash != b.hash) {
        out.push_back(Violation::safety(
            "replica-divergence",
            fmt::format("{}-{} offset {} (below high watermark {}): broker {} has epoch {} hash {:016x}, "
                        "broker {} has epoch {} hash {:016x}",
                        p.topic, p.partition, offset, p.high_watermark, ref.first, a.leader_epoch, a.hash,
                        r.broker, b.leader_epoch, b.hash)));
        break;
      }
    }
  }
}

}  // namespace

std::vector<Violation> check_replica_divergence(const Snapshot& s) {
  std::vector<Violation> out;
  for (const auto& p : s.partitions) check_partition(p, out);
  return out;
}

}  // namespace samsa::invariants
