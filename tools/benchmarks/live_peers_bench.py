#!/usr/bin/env python3
"""Produce throughput against live clusters, side by side in one run: the
same client (kcat, i.e. librdkafka) and settings, 100-byte records, batched
(linger.ms=5), every shape on this machine. `tools/bench live` runs it after
bench_live; alone: live_peers_bench.py SAMSA_BINARY [--records N] [--only NAME]

Shapes: samsa live with 1 broker (RF=1, acks=1); 3 brokers (RF=3,
acks=all, min.insync.replicas=2); the same with log.flush.interval.messages=1
(an fsync per append: what the disk I/O thread is for), with batches
and with no linger (records/50 records, many small requests); librdkafka's mock
cluster (kcat's -X test.mock.num.brokers=3, inside the client process);
Apache Kafka 4.x (one KRaft node: 3 JVM nodes do not fit beside the builds
on 2 cores) with kcat and with Kafka's own ProducerPerformance, and samsa
with ProducerPerformance, when tools/setup --peers fetched it (tools/peers/).

Printed per shape: records/s, MB/s, the server process's peak resident
memory (VmHWM; the JVM's for Kafka) and, for ProducerPerformance, its p99
latency. A shape whose peer is missing prints "skipped" and why.
"""
import argparse
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "live"))
from samsa_live import Server, temp_dir  # noqa: E402
from apache_kafka import KAFKA_VERSION, Kafka, kafka_classpath  # noqa: E402

RECORD_BYTES = 100


def records_file(n):
    path = os.path.join(temp_dir("samsa-bench-"), "records")
    line = ("x" * (RECORD_BYTES - 1)) + "\n"
    with open(path, "w") as f:
        for i in range(n):
            s = f"{i:012d}"
            f.write(s + line[len(s):])
    return path


def peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def kcat_produce(bootstrap, topic, path, acks, extra=(), linger_ms=5):
    """Produces every line of `path`; returns seconds (kcat waits for every ack)."""
    argv = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-l", path, "-X", f"acks={acks}",
            "-X", f"linger.ms={linger_ms}", "-X", "batch.num.messages=10000",
            "-X", "queue.buffering.max.messages=1000000", *extra]
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"kcat failed ({r.returncode}): {r.stderr[-500:]}")
    return dt


def warm_topic(bootstrap, topic, acks):
    """Creates the topic (auto-create) and waits for its leaders: a small produce."""
    path = os.path.join(temp_dir("samsa-bench-"), "warm")
    with open(path, "w") as f:
        f.write("warm\n")
    for _ in range(50):
        try:
            kcat_produce(bootstrap, topic, path, acks)
            return
        except RuntimeError:
            time.sleep(0.2)
    raise RuntimeError("topic never became writable")


def samsa_shape(samsa, brokers, acks, sets, path, n, linger_ms=5):
    argv = [samsa, "live", "--brokers", str(brokers), "--base-port", "0", "--coordinator-port", "0",
            "--data-dir", temp_dir("samsa-bench-data-"), "--log-level", "warn",
            "--set", "num.partitions=3"]
    for s in sets:
        argv += ["--set", s]
    server = Server(argv)
    try:
        warm_topic(server.bootstrap, "bench", acks)
        dt = kcat_produce(server.bootstrap, "bench", path, acks, linger_ms=linger_ms)
        return n / dt, peak_rss_mb(server.proc.pid)
    finally:
        server.stop()


def perf_test(cp, bootstrap, n, acks):
    """Kafka's ProducerPerformance (kafka-producer-perf-test); returns (rec/s, p99 ms)."""
    r = subprocess.run(["java", "-cp", cp, "org.apache.kafka.tools.ProducerPerformance",
                        "--topic", "perf", "--num-records", str(n), "--record-size", str(RECORD_BYTES),
                        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}",
                        f"acks={acks}", "linger.ms=5", "batch.size=65536"],
                       capture_output=True, text=True, timeout=600)
    m = re.search(r"(\d+) records sent, ([\d.]+) records/sec .* ([\d.]+) ms 99th", r.stdout)
    if not m:
        raise RuntimeError(f"ProducerPerformance: {(r.stdout + r.stderr)[-400:]}")
    return float(m.group(2)), float(m.group(3))


def kafka_shape(cp, path, n, client):
    kafka = Kafka(cp)
    try:
        warm_topic(kafka.bootstrap, "bench", 1)
        if client == "perf":
            perf_test(cp, kafka.bootstrap, max(1, n // 10), 1)  # warm the JVM and the topic
            rate, p99 = perf_test(cp, kafka.bootstrap, n, 1)
            return rate, peak_rss_mb(kafka.proc.pid), p99
        return n / kcat_produce(kafka.bootstrap, "bench", path, 1), peak_rss_mb(kafka.proc.pid)
    finally:
        kafka.stop()


def samsa_perf_shape(samsa, cp, brokers, acks, sets, n):
    argv = [samsa, "live", "--brokers", str(brokers), "--base-port", "0", "--coordinator-port", "0",
            "--data-dir", temp_dir("samsa-bench-data-"), "--log-level", "warn", "--set", "num.partitions=3"]
    for s in sets:
        argv += ["--set", s]
    server = Server(argv)
    try:
        warm_topic(server.bootstrap, "perf", acks)
        perf_test(cp, server.bootstrap, max(1, n // 10), acks)
        rate, p99 = perf_test(cp, server.bootstrap, n, acks)
        return rate, peak_rss_mb(server.proc.pid), p99
    finally:
        server.stop()


def mock_shape(path, n):
    dt = kcat_produce("127.0.0.1:1", "bench", path, 1, extra=("-X", "test.mock.num.brokers=3"))
    return n / dt, None


def row(name, result, n):
    if isinstance(result, str):
        print(f"{name:<52} skipped: {result}", flush=True)
        return
    rate, rss = result[0], result[1]
    mb = rate * RECORD_BYTES / 1e6
    mem = f"{rss:7.1f} MiB" if rss is not None else "        -"
    p99 = f"  p99 {result[2]:.0f} ms" if len(result) > 2 else ""
    print(f"{name:<52} {rate:>10.0f} rec/s {mb:>7.1f} MB/s  peak RSS {mem}{p99}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samsa")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--only", action="append", default=[])
    args = ap.parse_args()
    if not shutil.which("kcat"):
        print("live_peers_bench: kcat is not installed (tools/setup --peers): skipped")
        return 0
    n = args.records
    path = records_file(n)
    # Small requests (no linger): every produce is an fsync on 3 brokers.
    n_small = max(1, n // 50)
    small = records_file(n_small)
    shapes = [
        ("samsa 1 broker RF=1 acks=1", lambda: samsa_shape(args.samsa, 1, 1, [], path, n)),
        ("samsa 3 brokers RF=3 acks=all", lambda: samsa_shape(
            args.samsa, 3, "all", ["min.insync.replicas=2"], path, n)),
        ("samsa 3 brokers RF=3 acks=all flush=1", lambda: samsa_shape(
            args.samsa, 3, "all", ["min.insync.replicas=2", "log.flush.interval.messages=1"], path, n)),
        ("samsa 3 brokers RF=3 acks=all flush=1 linger=0", lambda: samsa_shape(
            args.samsa, 3, "all", ["min.insync.replicas=2", "log.flush.interval.messages=1"], small,
            n_small, linger_ms=0)),
        ("librdkafka mock 3 brokers acks=1 (kcat)", lambda: mock_shape(path, n)),
    ]
    cp = kafka_classpath()
    missing = f"Apache Kafka {KAFKA_VERSION} is not fetched (tools/setup --peers)"
    shapes += [
        (f"Apache Kafka {KAFKA_VERSION} 1 node KRaft RF=1 acks=1 (kcat)",
         lambda: kafka_shape(cp, path, n, "kcat") if cp else missing),
        ("samsa 1 broker RF=1 acks=1 (ProducerPerformance)",
         lambda: samsa_perf_shape(args.samsa, cp, 1, 1, [], n) if cp else missing),
        (f"Apache Kafka {KAFKA_VERSION} 1 node RF=1 acks=1 (ProducerPerformance)",
         lambda: kafka_shape(cp, path, n, "perf") if cp else missing),
        ("samsa 3 brokers RF=3 acks=all (ProducerPerformance)",
         lambda: samsa_perf_shape(args.samsa, cp, 3, "all", ["min.insync.replicas=2"], n) if cp else missing),
    ]
    print(f"produce {n} records of {RECORD_BYTES} bytes with kcat (linger.ms=5), 3 partitions")
    for name, fn in shapes:
        if args.only and not any(o in name for o in args.only):
            continue
        try:
            row(name, fn(), n)
        except (RuntimeError, SystemExit, subprocess.TimeoutExpired) as e:
            row(name, f"failed: {e}", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
