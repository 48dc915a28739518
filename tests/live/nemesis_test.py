#!/usr/bin/env python3
"""`samsa live --nemesis FILE --seed N`: the embedded cluster (3 brokers,
RF=3, acks=all, min.insync.replicas=2, log.flush.interval.messages=1)
under the seeded schedule of tests/live/data/nemesis.toml (broker crashes,
partitions between brokers, connection resets), while an idempotent
confluent-kafka producer writes. The schedule is printed before `ready`
and the same seed prints the same schedule; each fault is printed as it
happens; after the fault phase everything is healed; every acknowledged
record is then read back at its acknowledged offset, none twice. A bad
nemesis file exits 2 naming file:line:col.

Usage: nemesis_test.py SAMSA_BINARY   (exit 77: confluent-kafka is missing)
"""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from samsa_live import Server, check, finish, run, temp_dir  # noqa: E402
from multiprocess_test import Writer, read_all, wait_for  # noqa: E402  (exits 77 without confluent-kafka)

SAMSA = sys.argv[1]
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


def main():
    test_bad_file()
    server = Server(cluster_argv(3))
    writer = Writer(server.bootstrap, "nemesis")
    writer.start()
    healed = wait_for(lambda: any(line.startswith("nemesis healed") for line in server.lines), timeout=60)
    check(healed, "the fault phase ends and every fault is healed")
    faults = [line for line in server.lines if " fault " in line]
    print("\n".join(faults))
    check(any("crash" in line for line in faults) and any("partition" in line for line in faults),
          f"crashes and partitions were applied, each printed as it happened ({len(faults)} lines)")
    ends = [line for line in server.lines if "end of fault" in line]
    check(len(ends) >= 1, f"and their ends ({len(ends)})")
    time.sleep(3)  # the healed cluster takes writes again
    writer.stopping.set()
    writer.join(180)
    check(not writer.is_alive() and writer.remaining == 0,
          f"the producer delivered or failed every record ({len(writer.acked)} acked of {writer.sent})")
    check(len(writer.acked) > 100, f"records were acknowledged under the faults ({len(writer.acked)})")
    got = read_all(server.bootstrap, "nemesis")
    lost = [v for v, at in writer.acked.items() if at not in got.get(v, [])]
    dups = [v for v, ats in got.items() if len(ats) > 1]
    check(not lost, f"every acknowledged record is at its acknowledged offset ({len(lost)} lost: {lost[:5]})")
    check(not dups, f"no record is stored twice ({len(dups)}: {dups[:5]})")
    rc, took = server.stop(signal.SIGTERM)
    check(rc == 0, f"SIGTERM: exit 0 after {took:.1f} s (got {rc})")
    first = plan_lines(3)
    check(first and first == plan_lines(3), f"the same seed prints the same schedule ({len(first)} faults)")
    check(first != plan_lines(4), "another seed another one")
    finish()


if __name__ == "__main__":
    main()
