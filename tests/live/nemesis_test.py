#!/usr/bin/env python3
"""`samsa live --nemesis FILE --seed N`: the embedded cluster (3 brokers,
RF=3, acks=all, min.insync.replicas=2, log.flush.interval.messages=1)
under the seeded schedule of tests/live/data/nemesis.toml (broker crashes,
partitions between brokers, connection resets, pauses), while an idempotent
confluent-kafka producer writes. The schedule is printed before `ready`
and the same seed prints the same schedule; each fault is printed as it
happens; after the fault phase everything is healed; every acknowledged
record is then read back at its acknowledged offset, none twice, and the
run's history (DESIGN.md's JSON lines: the producer's sends, the faults as
nemesis operations, a final read as one poll) passes `samsa check`: the
same checkers as the simulated runs. A bad nemesis file exits 2 naming
file:line:col.

Usage: nemesis_test.py SAMSA_BINARY   (exit 77: confluent-kafka is missing)
"""
import json
import os
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from samsa_live import Server, check, finish, run, temp_dir  # noqa: E402
from multiprocess_test import Writer, read_all, read_back, wait_for  # noqa: E402  (exits 77 without confluent-kafka)
import confluent_kafka  # noqa: E402

SAMSA = sys.argv[1]
SEED = 5  # its schedule has a crash, partitions, pauses and resets
NEMESIS = os.path.join(HERE, "data", "nemesis.toml")
SETS = ["min.insync.replicas=2", "log.flush.interval.messages=1", "zookeeper.session.timeout.ms=6000",
        "replica.lag.time.max.ms=5000", "num.partitions=3"]


def cluster_argv(seed, nemesis=NEMESIS):
    argv = [SAMSA, "live", "--brokers", "3", "--base-port", "0", "--coordinator-port", "0",
            "--data-dir", temp_dir("samsa-live-nemesis-"), "--log-level", "warn",
            "--nemesis", nemesis, "--seed", str(seed)]
    for s in SETS:
        argv += ["--set", s]
    return argv


def plan_lines(seed):
    """The schedule a seed prints before ready (the cluster is stopped then)."""
    server = Server(cluster_argv(seed))
    server.stop(signal.SIGTERM)
    return [line for line in server.lines if line.startswith("nemesis plan")]


def test_bad_file():
    bad = os.path.join(temp_dir("samsa-live-nemesis-bad-"), "bad.toml")
    with open(bad, "w") as f:
        f.write('[workload]\nname = "kafka"\n\n[[nemesis]]\nname = "no-such-fault"\n')
    rc, _, err = run(cluster_argv(1, bad))
    check(rc == 2 and f"{bad}:" in err, f"a bad nemesis file exits 2 naming the file ({rc}: {err.strip()[:200]})")


class HistoryWriter(Writer):
    """The Writer, with keys, recording each send's invoke and completion
    (every send is its own process: requests in flight; `producer` ties them)."""

    def __init__(self, bootstrap, topic):
        super().__init__(bootstrap, topic)
        self.ops = []  # (time_ns, process, type, value)
        self.lock = threading.Lock()

    def run(self):
        while not self.stopping.is_set():
            i = self.sent
            value = {"topic": self.topic, "key": f"k{i % 16}", "value": f"w-{i}", "producer": "w"}
            self.ops.append((time.monotonic_ns(), i, "invoke", value))
            self.producer.produce(self.topic, key=value["key"].encode(), value=value["value"].encode(),
                                  on_delivery=lambda err, msg, i=i, v=value: self.done(err, msg, i, v))
            self.sent += 1
            self.producer.poll(0.002)
        self.remaining = self.producer.flush(120)

    def done(self, err, msg, i, value):
        self.on_delivery(err, msg)
        v = dict(value)
        if err:
            # Failed after retries: it may or may not have been written.
            self.ops.append((time.monotonic_ns(), i, "info", v))
        else:
            v.update(partition=msg.partition(), offset=msg.offset())
            self.ops.append((time.monotonic_ns(), i, "ok", v))


def write_history(path, writer, server, polled, poll_start_ns):
    """DESIGN.md's history: JSON lines in time order, indexes dense."""
    ops = [(t, p, ty, "send", v) for t, p, ty, v in writer.ops]
    for t, line in zip(server.line_times, server.lines):
        m = re.match(r"nemesis\s+\d+ ms (fault|end of fault) +\d+ ms +(\S+) +(.*)", line)
        if m:
            f = m.group(2) if m.group(1) == "fault" else m.group(2) + "-end"
            ops.append((t, "nemesis", "info", f, {"fault": m.group(2), "text": m.group(3)}))
        elif line.startswith("nemesis healed"):
            ops.append((t, "nemesis", "info", "heal-all", {}))
    reader = writer.sent + 1
    records = [{"topic": "nemesis", "partition": p, "offset": o, "key": k, "value": v}
               for v, (p, o, k) in sorted(polled.items(), key=lambda kv: (kv[1][0], kv[1][1]))]
    ops.append((poll_start_ns, reader, "invoke", "poll", {}))
    ops.append((time.monotonic_ns(), reader, "ok", "poll", {"records": records}))
    ops.sort(key=lambda op: op[0])
    t0 = ops[0][0]
    with open(path, "w") as f:
        for i, (t, proc, ty, fn, v) in enumerate(ops):
            f.write(json.dumps({"index": i, "time_ns": t - t0, "process": proc, "type": ty, "f": fn,
                                "value": v}) + "\n")


def read_with_keys(bootstrap, topic):
    """Every record of `topic`: value -> (partition, offset, key)."""
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "history-reader",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=20)
    parts = list(md.topics[topic].partitions)
    ends = {p: c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p), timeout=20)[1] for p in parts}
    c.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in parts])
    got, positions = {}, {p: 0 for p in parts}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(positions[p] < ends[p] for p in parts):
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got[m.value().decode()] = (m.partition(), m.offset(), m.key().decode() if m.key() else None)
        positions[m.partition()] = m.offset() + 1
    c.close()
    return got


def main():
    test_bad_file()
    server = Server(cluster_argv(SEED))
    writer = HistoryWriter(server.bootstrap, "nemesis")
    writer.start()
    healed = wait_for(lambda: any(line.startswith("nemesis healed") for line in server.lines), timeout=60)
    check(healed, "the fault phase ends and every fault is healed")
    faults = [line for line in server.lines if " fault " in line]
    print("\n".join(faults))
    check(all(any(kind in line for line in faults) for kind in ("crash", "partition", "pause", "reset")),
          f"crashes, partitions, pauses and resets were applied, each printed as it happened "
          f"({len(faults)} lines)")
    ends = [line for line in server.lines if "end of fault" in line]
    check(len(ends) >= 1, f"and their ends ({len(ends)})")
    time.sleep(3)  # the healed cluster takes writes again
    writer.stopping.set()
    writer.join(180)
    check(not writer.is_alive() and writer.remaining == 0,
          f"the producer delivered or failed every record ({len(writer.acked)} acked of {writer.sent})")
    check(len(writer.acked) > 100, f"records were acknowledged under the faults ({len(writer.acked)})")
    got = read_all(server.bootstrap, "nemesis")
    lost = [v for v, at in writer.acked.items() if not read_back(got, v, at)]
    dups = [v for v, ats in got.items() if len(ats) > 1]
    check(not lost, f"every acknowledged record is at its acknowledged offset ({len(lost)} lost: {lost[:5]})")
    check(not dups, f"no record is stored twice ({len(dups)}: {dups[:5]})")
    poll_start = time.monotonic_ns()
    polled = read_with_keys(server.bootstrap, "nemesis")
    history = os.path.join(temp_dir("samsa-live-nemesis-history-"), "history.jsonl")
    write_history(history, writer, server, polled, poll_start)
    rc, out, err = run([SAMSA, "check", history, "--json", "--set", "acks=all", "--set", "enable.idempotence=true",
                        "--set", "min.insync.replicas=2"], timeout=120)
    report = json.loads(out) if rc in (0, 1, 3) and out.strip() else {}
    delivery = report.get("delivery") or {}
    check(rc == 0 and report.get("verdict") == "ok" and delivery.get("acked") == len(writer.acked),
          f"samsa check judges the live history ok (exit {rc}, verdict {report.get('verdict')}, "
          f"acked {delivery.get('acked')}, consumed {delivery.get('consumed')}, anomalies "
          f"{sorted(report.get('anomalies', {}))}{'' if rc == 0 else ': ' + (out + err)[-400:]})")
    # The checkers are not vacuous here: the same history without one
    # acknowledged record in the final read is a lost write.
    with open(history) as f:
        lines = [json.loads(line) for line in f]
    last_poll = lines[-1] if lines[-1]["f"] == "poll" else next(op for op in reversed(lines) if op["f"] == "poll")
    last_poll["value"]["records"] = last_poll["value"]["records"][:-1] + []
    dropped = history + ".dropped"
    with open(dropped, "w") as f:
        for op in lines:
            f.write(json.dumps(op) + "\n")
    rc2, out2, _ = run([SAMSA, "check", dropped, "--json"], timeout=120)
    anomalies = sorted(json.loads(out2).get("anomalies", {})) if out2.strip() else []
    check(rc2 in (1, 3) and ("lost-write" in anomalies or "unseen" in anomalies),
          f"and the same history missing one acknowledged record fails it (exit {rc2}, {anomalies})")
    rc, took = server.stop(signal.SIGTERM)
    check(rc == 0, f"SIGTERM: exit 0 after {took:.1f} s (got {rc})")
    first = plan_lines(SEED)
    check(first and first == plan_lines(SEED), f"the same seed prints the same schedule ({len(first)} faults)")
    check(first != plan_lines(SEED + 1), "another seed another one")
    finish()


if __name__ == "__main__":
    main()
