#!/usr/bin/env python3
"""Differential test: the same client operations (confluent-kafka, i.e.
librdkafka) against `samsa live --brokers 1` and against one Apache Kafka
4.x node (KRaft, from tools/setup --peers), both with
auto.create.topics.enable=false and Kafka's other defaults; the client-visible
results (error names, offsets, committed offsets) must agree:

- Metadata and produce for an unknown topic (auto-create off);
- ListOffsets: earliest, latest, by timestamp (before, between, after the
  records' explicit timestamps);
- a fetch out of range with auto.offset.reset=error;
- a record over the broker's message.max.bytes;
- a consumer group: subscribe, commit an offset, read it back from a
  second member (OffsetFetch), after a rebalance;
- an idempotent producer's offsets.

Differences that remain, and why, are written in system/broker/README.md.
Usage: kafka4_differential_test.py SAMSA_BINARY  (exit 77: confluent-kafka or
Apache Kafka is missing)
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from samsa_live import Server, check, finish, temp_dir  # noqa: E402

try:
    import confluent_kafka
    from confluent_kafka import KafkaError, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    print("confluent-kafka is not installed (tools/setup --peers): skipped")
    sys.exit(77)
from apache_kafka import KAFKA_VERSION, Kafka, kafka_classpath  # noqa: E402

SAMSA = sys.argv[1]
TOPIC = "diff"
TIMESTAMPS = [1_000_000 + 1000 * i for i in range(10)]


def err_name(e):
    return None if e is None else KafkaError(e.code()).name() if hasattr(e, "code") else str(e)


def unknown_topic(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics("nosuch", timeout=20)
    meta = err_name(md.topics["nosuch"].error) if "nosuch" in md.topics else "absent"
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 5000})
    out = []
    p.produce("nosuch", b"x", on_delivery=lambda e, m: out.append(err_name(e)))
    p.flush(30)
    still_absent = "nosuch" not in admin.list_topics(timeout=20).topics
    return {"metadata error": meta, "produce error": out[0] if out else "no report",
            "not created": still_absent}


def setup_topic(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 1, 1)], operation_timeout=30)[TOPIC].result(60)
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    acked = []
    for i, ts in enumerate(TIMESTAMPS):
        p.produce(TOPIC, value=f"v{i}".encode(), timestamp=ts, partition=0,
                  on_delivery=lambda e, m: acked.append((err_name(e), m.offset())))
        p.flush(30)  # one batch per record: one timestamp per batch
    return {"acks": acked}


def list_offsets(bootstrap):
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "lo"})
    lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=20)
    by_time = {}
    for name, ts in (("before", 1), ("at 3rd", TIMESTAMPS[2]), ("between", TIMESTAMPS[4] + 500),
                     ("after", TIMESTAMPS[-1] + 1)):
        r = c.offsets_for_times([TopicPartition(TOPIC, 0, ts)], timeout=20)[0]
        by_time[name] = (r.offset, err_name(r.error))
    c.close()
    return {"earliest": lo, "latest": hi, "by timestamp": by_time}


def fetch_out_of_range(bootstrap):
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "oor",
                                  "auto.offset.reset": "error", "enable.auto.commit": False})
    c.assign([TopicPartition(TOPIC, 0, 1000)])
    seen = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and seen is None:
        m = c.poll(0.5)
        if m is not None and m.error():
            seen = err_name(m.error())
    c.close()
    return {"error": seen}


def too_large(bootstrap):
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 4_000_000,
                                  "message.timeout.ms": 20000})
    out = []
    p.produce(TOPIC, b"x" * 2_000_000, partition=0, on_delivery=lambda e, m: out.append(err_name(e)))
    p.flush(30)
    return {"error": out[0] if out else "no report"}


def group_flow(bootstrap):
    conf = {"bootstrap.servers": bootstrap, "group.id": "diffgroup", "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 10000}
    a = confluent_kafka.Consumer(conf)
    a.subscribe([TOPIC])
    got = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(got) < 10:
        m = a.poll(0.5)
        if m is not None and not m.error():
            got.append(m.offset())
    a.commit(offsets=[TopicPartition(TOPIC, 0, 7)], asynchronous=False)
    mine = a.committed([TopicPartition(TOPIC, 0)], timeout=20)[0].offset
    a.close()  # leaves the group
    b = confluent_kafka.Consumer(conf)
    b.subscribe([TOPIC])
    first = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first is None:
        m = b.poll(0.5)
        if m is not None and not m.error():
            first = m.offset()
    theirs = b.committed([TopicPartition(TOPIC, 0)], timeout=20)[0].offset
    b.close()
    return {"consumed": got, "committed": mine, "read back": theirs, "resumed at": first}


def idempotent(bootstrap):
    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    acked = []
    for i in range(5):
        p.produce(TOPIC, value=f"i{i}".encode(), partition=0,
                  on_delivery=lambda e, m: acked.append((err_name(e), m.offset())))
    p.flush(30)
    return {"acks": sorted(acked, key=lambda a: a[1])}


CASES = [("unknown topic, auto-create off", unknown_topic), ("produce with timestamps", setup_topic),
         ("ListOffsets", list_offsets), ("fetch out of range", fetch_out_of_range),
         ("record over message.max.bytes", too_large), ("group join/sync/commit/offset-fetch", group_flow),
         ("idempotent producer", idempotent)]


def run_all(bootstrap):
    results = {}
    for name, fn in CASES:
        try:
            results[name] = fn(bootstrap)
        except Exception as e:  # noqa: BLE001 - a failure is a result to compare
            results[name] = {"exception": f"{type(e).__name__}: {e}"}
    return results


def main():
    cp = kafka_classpath()
    if cp is None:
        print(f"Apache Kafka {KAFKA_VERSION} is not fetched (tools/setup --peers): skipped")
        sys.exit(77)
    samsa = Server([SAMSA, "live", "--brokers", "1", "--base-port", "0", "--coordinator-port", "0",
                    "--data-dir", temp_dir("samsa-live-diff-"), "--set", "auto.create.topics.enable=false"])
    ours = run_all(samsa.bootstrap)
    samsa.stop()
    kafka = Kafka(cp, extra="auto.create.topics.enable=false\n")
    theirs = run_all(kafka.bootstrap)
    kafka.stop()
    for name, _ in CASES:
        same = ours[name] == theirs[name]
        check(same, f"{name}: samsa {ours[name]}" + ("" if same else f"  vs  Kafka {KAFKA_VERSION} {theirs[name]}"))
    finish()


if __name__ == "__main__":
    main()
