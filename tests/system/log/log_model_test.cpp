// Model-based test of the partition log: random appends, reads,
// truncations, rolls, flushes and retention against an in-memory model,
// with crashes (in every disk mode) at random moments, also in the middle
// of an operation or of recovery. After every recovery the log must be a
// contiguous prefix of the model that holds every flushed batch, with no
// corrupt batch readable.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <map>

#include "tests/system/log/log_rig.h"

using namespace samsa::testing;
using namespace samsa::log;
namespace protocol = samsa::protocol;

namespace {

enum class OpKind { append, read, truncate, roll, flush, retention };

struct Op {
  OpKind kind = OpKind::append;
  int records = 1;
  int value_bytes = 0;
  int ts_step = 0;
  std::uint32_t pick = 0;
  bool new_epoch = false;
};

void showValue(const Op& op, std::ostream& os) {
  static const char* names[] = {"append", "read", "truncate", "roll", "flush", "retention"};
  os << names[static_cast<int>(op.kind)] << "(records=" << op.records << " value=" << op.value_bytes
     << " ts+" << op.ts_step << " pick=" << op.pick << (op.new_epoch ? " new-epoch" : "") << ")";
}

rc::Gen<Op> gen_op() {
  return rc::gen::map(
      rc::gen::tuple(rc::gen::weightedElement<OpKind>({{8, OpKind::append},
                                                       {3, OpKind::read},
                                                       {1, OpKind::truncate},
                                                       {1, OpKind::roll},
                                                       {1, OpKind::flush},
                                                       {1, OpKind::retention}}),
                     rc::gen::inRange(1, 8), rc::gen::inRange(0, 120), rc::gen::inRange(0, 60),
                     rc::gen::arbitrary<std::uint32_t>(), rc::gen::inRange(0, 10)),
      [](const auto& t) {
        Op op;
        std::tie(op.kind, op.records, op.value_bytes, op.ts_step, op.pick, std::ignore) = t;
        op.new_epoch = std::get<5>(t) == 0;
        return op;
      });
}

struct ModelBatch {
  std::int64_t base = 0;
  std::int64_t last = 0;
  std::int64_t max_ts = 0;
  Bytes bytes;  // as stored: offsets and epoch stamped
};

// What the log must hold. `durable` bounds what a crash may take: every
// batch below it survives. start_min/start_max: where the log may start
// (a range only while a retention or truncation was cut short).
struct Model {
  std::vector<ModelBatch> batches;  // contiguous
  std::int64_t start = 0;
  std::int64_t durable = 0;
  std::int64_t unflushed = 0;  // records since the last flush, as flush.messages counts
  std::int64_t start_min = 0;
  std::int64_t start_max = 0;
  std::int64_t leo() const { return batches.empty() ? start : batches.back().last + 1; }
  void set_start(std::int64_t s) { start = start_min = start_max = s; }
};

struct State {
  Model model;
  std::optional<Model> in_flight;  // the weakened model while an op runs
  std::size_t next_op = 0;
  std::int32_t epoch = 0;
  std::int64_t ts = 1000;
  bool done = false;
  bool final_checked = false;
  int recoveries = 0;
  int mid_op_crashes = 0;  // recoveries from a crash inside an operation
};

std::vector<protocol::BatchView> batches_of(ByteView records) {
  std::vector<protocol::BatchView> out;
  protocol::BatchReader reader(records);
  while (auto b = reader.next()) out.push_back(*b);
  RC_ASSERT(reader.at_clean_end());
  return out;
}

const ModelBatch* find_batch(const Model& m, std::int64_t base) {
  for (const auto& b : m.batches)
    if (b.base == base) return &b;
  return nullptr;
}

// Checks a freshly recovered log against a model; returns the model the
// run continues with (exactly what the log holds, all of it durable).
Model check_recovered(Log& log, const Model& m, samsa::sim::Random& rng) {
  const std::int64_t s = log.log_start_offset();
  const std::int64_t leo = log.log_end_offset();
  RC_ASSERT(s >= m.start_min);
  RC_ASSERT(s <= m.start_max);
  RC_ASSERT(leo >= m.durable);  // every flushed batch is there
  RC_ASSERT(leo <= std::max(m.leo(), s));
  Model next;
  next.set_start(s);
  std::int64_t offset = s;
  while (offset < leo) {
    auto r = log.read(offset, rng.uniform(1, 3000));
    RC_ASSERT(r.ok());  // nothing corrupt is readable
    for (const auto& b : batches_of(r->records)) {
      RC_ASSERT(b.header.base_offset == offset);  // contiguous offsets
      const ModelBatch* mb = find_batch(m, offset);
      RC_ASSERT(mb != nullptr);
      RC_ASSERT(Bytes(b.bytes.begin(), b.bytes.end()) == mb->bytes);
      next.batches.push_back(*mb);
      offset = b.header.next_offset();
    }
  }
  RC_ASSERT(offset == leo);
  next.durable = leo;
  return next;
}

// Kafka's retention rule on the model's view of the segments.
std::int64_t retained_start(const Model& m, const std::vector<std::int64_t>& bases,
                            const LogConfig& c, std::int64_t now_ms, std::int64_t bound) {
  std::uint64_t total = 0;
  std::map<std::int64_t, std::pair<std::uint64_t, std::int64_t>> seg;  // base -> size, max ts
  for (const auto& b : m.batches) {
    const auto base = *std::prev(std::upper_bound(bases.begin(), bases.end(), b.base));
    seg[base].first += b.bytes.size();
    seg[base].second = std::max(seg[base].second, b.max_ts);
    total += b.bytes.size();
  }
  std::size_t i = 0;
  while (i + 1 < bases.size() && bases[i + 1] <= bound) {
    const auto [size, max_ts] = seg[bases[i]];
    const bool over = c.retention_bytes >= 0 && total - size >= static_cast<std::uint64_t>(c.retention_bytes);
    const bool old = c.retention_ms >= 0 && now_ms - max_ts > c.retention_ms;
    if (!over && !old) break;
    total -= size;
    ++i;
  }
  return bases[i];
}

void drop_below(Model& m, std::int64_t start) {
  std::erase_if(m.batches, [&](const ModelBatch& b) { return b.base < start; });
}

struct Runner {
  LogConfig config;
  std::vector<Op> ops;
  State& st;
  bool buggify = false;  // log.short_read may then return fewer batches
  samsa::sim::Random rng{1};

  void op_append(Runtime& rt, Log& log, const Op& op) {
    if (op.new_epoch) ++st.epoch;
    st.ts += op.ts_step;
    const Bytes batch = make_batch(op.records, st.ts, static_cast<std::size_t>(op.value_bytes),
                                   static_cast<std::uint8_t>(op.pick));
    Model post = st.model;
    ModelBatch mb{post.leo(), post.leo() + op.records - 1, st.ts, batch};
    protocol::set_base_offset(mb.bytes, mb.base);
    protocol::set_partition_leader_epoch(mb.bytes, st.epoch);
    post.batches.push_back(mb);
    st.in_flight = st.model;
    st.in_flight->batches.push_back(mb);
    auto r = log.append_as_leader(batch, st.epoch);
    RC_ASSERT(r.ok());
    RC_ASSERT(r->first_offset == mb.base);
    // A roll before the append sealed (and flushed) the previous segment.
    const std::int64_t active_base = log.segment_base_offsets().back();
    if (active_base > st.model.durable || active_base == mb.base) post.unflushed = 0;
    post.durable = std::max(post.durable, active_base);
    post.unflushed += op.records;
    if (post.unflushed >= config.flush_messages) post.durable = post.leo(), post.unflushed = 0;
    (void)rt;
    st.model = post;
  }

  void op_read(Log& log, const Op& op) {
    const Model& m = st.model;
    const std::int64_t span = m.leo() - m.start + 1;
    const std::int64_t offset = m.start + static_cast<std::int64_t>(op.pick % span);
    const std::uint64_t max_bytes = op.value_bytes * 20u;
    auto r = log.read(offset, max_bytes);
    RC_ASSERT(r.ok());
    // Expected: the batch containing offset, then whole batches while they
    // fit, within that batch's segment (a read stays in one segment).
    const auto bases = log.segment_base_offsets();
    const auto next_seg = std::upper_bound(bases.begin(), bases.end(), offset);
    const std::int64_t seg_end =
        next_seg == bases.end() ? std::numeric_limits<std::int64_t>::max() : *next_seg;
    std::uint64_t size = 0;
    std::vector<std::int64_t> want;
    for (const auto& b : m.batches) {
      if (b.last < offset) continue;
      if (b.base >= seg_end) break;
      if (!want.empty() && size + b.bytes.size() > max_bytes) break;
      want.push_back(b.base);
      size += b.bytes.size();
      if (size >= max_bytes) break;
    }
    std::vector<std::int64_t> got;
    for (const auto& b : batches_of(r->records)) got.push_back(b.header.base_offset);
    if (buggify && !got.empty() && got.size() < want.size()) want.resize(got.size());
    RC_ASSERT(got == want);
  }

  void op_truncate(Log& log, const Op& op) {
    const Model& m = st.model;
    const std::int64_t target = std::max<std::int64_t>(
        0, m.start - 2 + static_cast<std::int64_t>(op.pick % (m.leo() - m.start + 5)));
    Model post = m;
    if (target <= m.start && target < m.leo()) {
      post.batches.clear();
      post.set_start(target);
      post.durable = target;
    } else if (target < m.leo()) {
      std::erase_if(post.batches, [&](const ModelBatch& b) { return b.last >= target; });
      post.durable = std::min(post.durable, post.leo());
    }
    if (target < m.leo()) post.unflushed = 0;
    st.in_flight = m;
    st.in_flight->durable = std::min(m.durable, post.leo());
    st.in_flight->start_min = std::min(m.start, post.start);
    st.in_flight->start_max = std::max(m.start, post.start);
    RC_ASSERT(log.truncate_to(target).ok());
    RC_ASSERT(log.log_end_offset() == post.leo());
    RC_ASSERT(log.log_start_offset() == post.start);
    st.model = post;
  }

  void op_retention(Log& log, const Op& op) {
    Model post = st.model;
    const std::int64_t bound =
        post.start + static_cast<std::int64_t>(op.pick % (post.leo() - post.start + 1));
    const std::int64_t now_ms = st.ts + op.ts_step * 10;
    const std::int64_t start = retained_start(post, log.segment_base_offsets(), config, now_ms, bound);
    drop_below(post, start);
    post.set_start(start);
    st.in_flight = st.model;
    st.in_flight->start_max = start;
    RC_ASSERT(log.delete_old_segments(now_ms, bound).ok());
    RC_ASSERT(log.log_start_offset() == start);
    st.model = post;
  }

  void run_op(Runtime& rt, Log& log, const Op& op) {
    switch (op.kind) {
      case OpKind::append: op_append(rt, log, op); break;
      case OpKind::read: op_read(log, op); break;
      case OpKind::truncate: op_truncate(log, op); break;
      case OpKind::retention: op_retention(log, op); break;
      case OpKind::roll:
      case OpKind::flush: {
        st.in_flight = st.model;
        RC_ASSERT((op.kind == OpKind::roll ? log.roll() : log.flush()).ok());
        st.model.durable = st.model.leo();
        st.model.unflushed = 0;
        break;
      }
    }
    st.in_flight.reset();
  }

  // One incarnation: recover, check, then run ops until done or crashed.
  void main(Runtime& rt) {
    auto log = Log::open(rt, "data/t-0", config);
    RC_ASSERT(log.ok());
    if (st.in_flight) ++st.mid_op_crashes;
    st.model = check_recovered(**log, st.in_flight.value_or(st.model), rng);
    st.in_flight.reset();
    ++st.recoveries;
    while (st.next_op < ops.size()) {
      run_op(rt, **log, ops[st.next_op]);
      ++st.next_op;
      rt.sleep(1ms);
    }
    if (st.done) st.final_checked = true;
    st.done = true;
  }
};

LogConfig gen_config() {
  LogConfig c;
  c.segment_bytes = *rc::gen::inRange<std::int64_t>(1600, 8000);
  c.index_interval_bytes = *rc::gen::inRange<std::int64_t>(0, 1000);
  c.segment_index_bytes = *rc::gen::inRange<std::int64_t>(16, 400);
  c.segment_ms = *rc::gen::element<std::int64_t>(std::numeric_limits<std::int64_t>::max(), 100, 1000);
  c.flush_messages = *rc::gen::element<std::int64_t>(1, 5, std::numeric_limits<std::int64_t>::max());
  c.retention_bytes = *rc::gen::element<std::int64_t>(-1, 2000, 6000);
  c.retention_ms = *rc::gen::element<std::int64_t>(-1, 50, 400);
  return c;
}

void run_model(std::uint64_t seed, bool slow_disk, bool classify = true) {
  DiskConfig disk;
  if (slow_disk) {
    disk.read_latency_max = 100us;
    disk.write_latency_max = 300us;
    disk.fsync_latency_min = 500us;
    disk.fsync_latency_max = 3ms;
  }
  State st;
  Runner runner{gen_config(), *rc::gen::container<std::vector<Op>>(gen_op()), st};
  const auto crashes = *rc::gen::container<std::vector<std::pair<int, CrashMode>>>(
      rc::gen::pair(rc::gen::inRange(0, 100'000),
                    rc::gen::element(CrashMode::keep_none, CrashMode::keep_all, CrashMode::torn)));
  const auto final_mode = *rc::gen::element(CrashMode::keep_none, CrashMode::keep_all, CrashMode::torn);
  runner.buggify = slow_disk;
  WorldConfig wc = LogRig::config(seed, disk);
  wc.buggify = slow_disk;  // log.roll_early, log.short_read
  wc.buggify_point_probability = 0.5;
  wc.buggify_fire_probability = 0.2;
  World world(wc);
  const NodeId n = world.add_node("n", [&](Runtime& rt) { runner.main(rt); });
  world.start(n);
  world.spawn("crasher", [&] {
    for (const auto& [delay_us, mode] : crashes) {
      world.control().sleep(std::chrono::microseconds(delay_us));
      if (st.done) break;
      world.crash(n, mode);
      world.start(n);
    }
    while (!st.done) world.control().sleep(10ms);
    world.crash(n, final_mode);
    world.start(n);
  });
  const auto r = world.run(100h);
  if (r.reason == StopReason::internal_error) RC_FAIL(r.report);
  RC_ASSERT(st.final_checked);
  if (!classify) return;
  RC_CLASSIFY(st.mid_op_crashes > 0, "crashed inside an operation");
  RC_CLASSIFY(st.recoveries > 2, "recovered more than twice");
  RC_CLASSIFY(st.next_op > 20, "more than 20 operations");
  RC_CLASSIFY(st.next_op > 100, "more than 100 operations");
  for (const auto& [name, count] : world.buggify_fired()) RC_CLASSIFY(count > 0, name);
}

}  // namespace

TEST_CASE("the log after any crash is a durable prefix of the model", "[log][model]") {
  rc::prop("after recovery: every flushed batch, contiguous offsets, nothing corrupt",
           [](std::uint64_t seed) { run_model(seed, false); });
  rc::prop("same, with disk latency so crashes land inside operations and recovery, and buggify",
           [](std::uint64_t seed) { run_model(seed, true); });
}

TEST_CASE("the log model holds over long runs", "[log][model][slow]") {
  rc::prop("after recovery: every flushed batch, contiguous offsets, nothing corrupt (long)",
           [](std::uint64_t seed) {
             for (int i = 0; i < 20; ++i) run_model(seed + static_cast<std::uint64_t>(i), true, false);
           });
}
