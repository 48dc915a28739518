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
Apache Kafka 4.x with kcat and with Kafka's own ProducerPerformance, and
samsa with ProducerPerformance, when tools/setup --peers fetched it
(tools/peers/): one KRaft node RF=1 acks=1, and 3 combined broker+controller
nodes (a static quorum, -Xmx512m each) RF=3 acks=all min.insync.replicas=2
beside samsa's 3 brokers. Latency at half of the peak, for samsa's and
Kafka's 3-node shapes: the peak with ProducerPerformance, then
ProducerPerformance throttled to half of it (--throughput) with Kafka's
EndToEndLatency tool (produce one record, time until its consumer has it)
running on another topic meanwhile.

Printed per shape: records/s, MB/s, the server processes' peak resident
memory (VmHWM; the JVM's for Kafka, the sum of the 3 JVMs for 3 nodes) and,
for ProducerPerformance, its p99 latency (produce to ack); for the latency
shapes the throttled rate, its produce-ack p99 and the end-to-end p99.
A shape whose peer is missing prints "skipped" and why.
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
from apache_kafka import KAFKA_VERSION, Kafka, KafkaCluster, kafka_classpath  # noqa: E402

RECORD_BYTES = 100
# EndToEndLatency's records: its first few hundred run while its JVM is
# still interpreting and compiling (measured on samsa idle: 200 records p99
# 10 ms, 10000 records p99 2 ms), and it has no warm-up of its own, so 2000
# records measured mostly the client's warm-up. 10000 take 7 s on samsa
# (about 0.7 ms each at half of its peak), well inside the throttled load.
E2E_RECORDS = 10_000
LOAD_SECONDS = 40


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


def perf_argv(cp, bootstrap, n, acks, throughput=-1):
    return ["java", "-cp", cp, "org.apache.kafka.tools.ProducerPerformance",
            "--topic", "perf", "--num-records", str(n), "--record-size", str(RECORD_BYTES),
            "--throughput", str(throughput), "--producer-props", f"bootstrap.servers={bootstrap}",
            f"acks={acks}", "linger.ms=5", "batch.size=65536"]


def perf_result(out):
    m = re.search(r"(\d+) records sent, ([\d.]+) records/sec .* ([\d.]+) ms 99th", out)
    if not m:
        raise RuntimeError(f"ProducerPerformance: {out[-400:]}")
    return float(m.group(2)), float(m.group(3))


def perf_test(cp, bootstrap, n, acks, throughput=-1):
    """Kafka's ProducerPerformance (kafka-producer-perf-test); returns (rec/s, p99 ms)."""
    r = subprocess.run(perf_argv(cp, bootstrap, n, acks, throughput), capture_output=True, text=True,
                       timeout=600)
    return perf_result(r.stdout + r.stderr)


def end_to_end(cp, bootstrap, n, acks):
    """Kafka's EndToEndLatency tool: sends one record at a time and times it
    until its own consumer fetched it (produce, replicate, commit, fetch);
    returns its p99 in ms."""
    r = subprocess.run(["java", "-cp", cp, "org.apache.kafka.tools.EndToEndLatency", bootstrap, "e2e",
                        str(n), str(acks), str(RECORD_BYTES)], capture_output=True, text=True, timeout=600)
    m = re.search(r"99th = ([\d.]+)", r.stdout)
    if not m:
        raise RuntimeError(f"EndToEndLatency: {(r.stdout + r.stderr)[-400:]}")
    return float(m.group(1))


def half_peak_latency(cp, bootstrap, n, acks, peak):
    """End-to-end p99 at half the peak: ProducerPerformance throttled to
    peak/2 (--throughput) for LOAD_SECONDS, and EndToEndLatency on another topic
    meanwhile. Returns (throttled rec/s, its produce-ack p99, e2e p99)."""
    rate = max(1, int(peak / 2))
    load = subprocess.Popen(perf_argv(cp, bootstrap, rate * LOAD_SECONDS, acks, rate), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)  # the producer's JVM is up and at its rate
        e2e = end_to_end(cp, bootstrap, n, acks)
        out, _ = load.communicate(timeout=600)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    got, ack_p99 = perf_result(out)
    return got, ack_p99, e2e


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


def kafka3_shape(cp, path, n, client):
    """3 Kafka nodes (combined broker+controller), RF=3, acks=all,
    min.insync.replicas=2, as samsa's 3-broker shape. Memory: the sum of the
    3 JVMs' peak RSS (samsa's 3 brokers are one process)."""
    kafka = KafkaCluster(cp, 3, extra="min.insync.replicas=2\n")
    try:
        return run_three(cp, kafka.bootstrap, path, n, client, lambda: kafka_rss(kafka))
    finally:
        kafka.stop()


def kafka_rss(kafka):
    rss = [peak_rss_mb(p.pid) for p in kafka.procs]
    return sum(rss) if all(r is not None for r in rss) else None


def samsa3_shape(samsa, cp, path, n, client):
    argv = [samsa, "live", "--brokers", "3", "--base-port", "0", "--coordinator-port", "0",
            "--data-dir", temp_dir("samsa-bench-data-"), "--log-level", "warn", "--set", "num.partitions=3",
            "--set", "min.insync.replicas=2"]
    server = Server(argv)
    try:
        return run_three(cp, server.bootstrap, path, n, client, lambda: peak_rss_mb(server.proc.pid))
    finally:
        server.stop()


def run_three(cp, bootstrap, path, n, client, rss):
    """One 3-broker RF=3 acks=all measurement with `client`: kcat,
    ProducerPerformance (perf), or the half-peak latency (latency: the peak
    with ProducerPerformance, then half_peak_latency)."""
    warm_topic(bootstrap, "bench", "all")
    warm_topic(bootstrap, "perf", "all")
    warm_topic(bootstrap, "e2e", "all")
    if client == "kcat":
        return n / kcat_produce(bootstrap, "bench", path, "all"), rss()
    perf_test(cp, bootstrap, max(1, n // 10), "all")  # warm the JVM and the topic
    rate, p99 = perf_test(cp, bootstrap, n, "all")
    if client == "perf":
        return rate, rss(), p99
    got, ack_p99, e2e = half_peak_latency(cp, bootstrap, E2E_RECORDS, "all", rate)
    return got, rss(), ack_p99, e2e, rate


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
    if len(result) > 3:
        p99 = (f"  at half of peak {result[4]:.0f}: produce-ack p99 {result[2]:.0f} ms,"
               f" end-to-end p99 {result[3]:.0f} ms")
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
        (f"Apache Kafka {KAFKA_VERSION} 3 nodes RF=3 acks=all (kcat)",
         lambda: kafka3_shape(cp, path, n, "kcat") if cp else missing),
        (f"Apache Kafka {KAFKA_VERSION} 3 nodes RF=3 acks=all (ProducerPerformance)",
         lambda: kafka3_shape(cp, path, n, "perf") if cp else missing),
        ("samsa 3 brokers RF=3 acks=all latency (ProducerPerformance, EndToEndLatency)",
         lambda: samsa3_shape(args.samsa, cp, path, n, "latency") if cp else missing),
        (f"Apache Kafka {KAFKA_VERSION} 3 nodes RF=3 acks=all latency",
         lambda: kafka3_shape(cp, path, n, "latency") if cp else missing),
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
