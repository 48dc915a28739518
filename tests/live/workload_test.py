#!/usr/bin/env python3
"""`samsa live workload` against the embedded `samsa live` cluster: a
scenario with a consumer group (scenarios/groups/at-least-once.toml: 3
consumers, process-before-commit) writes the history, and `samsa check`
judges it (every acknowledged record consumed, assignments and commits
well-formed); the same with one consumer and 4 key-hashed workers
(scenarios/groups/key-hashed-workers.toml); and 2 consumers of the
ZooKeeper group protocol (Kafka 0.8's) against the embedded coordinator; a bad scenario or --bootstrap exits 2. And `samsa live
nemesis --actions pause`: SIGSTOP/SIGCONT of broker processes on the
seed's schedule, the same seed giving the same schedule, while the workload
writes acks=all (tests/live/data/crash.toml) with nothing lost.

Needs nothing but the samsa binary; every port is picked free.
Usage: workload_test.py SAMSA_BINARY
"""
import json
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from samsa_live import Server, check, finish, run, temp_dir  # noqa: E402
from crash_test import broker_properties, wait_line, write  # noqa: E402

SAMSA = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(HERE))
GROUPS = os.path.join(ROOT, "scenarios", "groups", "at-least-once.toml")
CRASH = os.path.join(HERE, "data", "crash.toml")
WORKERS = os.path.join(ROOT, "scenarios", "groups", "key-hashed-workers.toml")


ZK_SCENARIO = """
[cluster]
brokers = 3

[[topics]]
name = "zk"
partitions = 4
replication_factor = 3

[workload]
name = "kafka"
producers = 1
records = 120
rate_per_s = 60
consumers = 2
group_protocol = "zookeeper"
delivery = "process-before-commit"

[config]
"rebalance.backoff.ms" = 300
"group.id" = "zkg"

[faults]
phase_ms = 4000
heal_ms = 4000
rate_per_s = 0
"""


def judge(history, what, sets=()):
    argv = [SAMSA, "check", history, "--json"]
    for kv in sets:
        argv += ["--set", kv]
    rc, stdout, stderr = run(argv, timeout=120)
    report = json.loads(stdout) if stdout.strip() else {}
    d = report.get("delivery", {})
    check(rc == 0 and report.get("verdict") == "ok" and d.get("acked", 0) > 0 and d.get("lost", 1) == 0,
          f"{what}: samsa check passes ({d.get('acked')} acked, {d.get('consumed')} consumed, "
          f"anomalies {sorted(report.get('anomalies', {}))}, exit {rc})")
    return d


def test_group():
    cluster = Server([SAMSA, "live", "--brokers", "3", "--base-port", "0", "--coordinator-port", "0",
                      "--data-dir", temp_dir("samsa-live-wl-"), "--log-level", "warn"], name="samsa live")
    tmp = temp_dir("samsa-live-wl-h-")
    history = os.path.join(tmp, "groups.jsonl")
    rc, out, err = run([SAMSA, "live", "workload", "--bootstrap", cluster.bootstrap, "--scenario", GROUPS,
                        "--history", history, "--duration-ms", "6000", "--set", "workload.records=120"],
                       timeout=240)
    print(out.strip())
    check(rc == 0 and "120 of 120 acked processed" in out,
          f"a 3-consumer group processes every acknowledged record (exit {rc}: {err.strip()[-200:]})")
    with open(history) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    header = lines[0].get("header", {})
    ops = [o for o in lines if "process" in o]
    check(header.get("sets") == ["workload.records=120"] and header.get("config", {}).get("group.id") == "g"
          and header.get("workload", {}).get("consumers") == 3 and "seed" in header,
          f"the history's header records the --set keys, the workload and the client keys ({lines[0]})")
    kinds = {(o["f"], o["type"]) for o in ops}
    check(("assign", "ok") in kinds and ("commit", "ok") in kinds and ("send", "ok") in kinds,
          f"the history has sends, assignments and commits ({len(ops)} ops)")
    judge(history, "the group's history")

    # The seed's §2.4 on the live runtime: one consumer hands each record to
    # one of 4 worker fibers by key hash (scenarios/groups/key-hashed-workers).
    workers = os.path.join(tmp, "workers.jsonl")
    rc, out, err = run([SAMSA, "live", "workload", "--bootstrap", cluster.bootstrap, "--scenario", WORKERS,
                        "--history", workers, "--duration-ms", "4000", "--set", "workload.records=120",
                        "--set", "workload.rate_per_s=60"], timeout=240)
    print(out.strip())
    check(rc == 0 and "120 of 120 acked processed" in out,
          f"a consumer with 4 key-hashed workers processes every acknowledged record (exit {rc}: {err.strip()[-200:]})")
    with open(workers) as f:
        ops = [o for o in (json.loads(l) for l in f if l.strip()) if "process" in o]
    pollers = {o["process"] for o in ops if o["f"] == "poll" and o["type"] == "ok" and o.get("value", {}).get("records")}
    check(len(pollers) > 1, f"records were processed by several worker processes ({len(pollers)})")
    # Each worker's polls skip the records the others took (poll-skip, which
    # a subscribing group allows); per-key order must hold with key hashing.
    judge(workers, "the workers' history", ["samsa.consume=subscribe", "samsa.consumer.workers=4",
                                            "samsa.consumer.dispatch=key-hash"])

    # Kafka 0.8's ZooKeeper consumer (group_protocol = "zookeeper") against
    # the embedded coordinator: 2 members share the partitions through
    # owner znodes and commit to the offsets znodes.
    zk_scenario = write(os.path.join(tmp, "zk.toml"), ZK_SCENARIO)
    zk_history = os.path.join(tmp, "zk.jsonl")
    rc, out, err = run([SAMSA, "live", "workload", "--bootstrap", cluster.bootstrap, "--zookeeper", cluster.zookeeper,
                        "--scenario", zk_scenario, "--history", zk_history, "--duration-ms", "4000"], timeout=240)
    print(out.strip())
    check(rc == 0 and "120 of 120 acked processed" in out,
          f"2 ZooKeeper-protocol consumers process every acknowledged record (exit {rc}: {err.strip()[-200:]})")
    judge(zk_history, "the ZooKeeper consumers' history")
    rc, _, err = run([SAMSA, "live", "workload", "--bootstrap", cluster.bootstrap, "--scenario", zk_scenario,
                      "--history", os.path.join(tmp, "x.jsonl")])
    check(rc == 2 and "--zookeeper" in err, f"the zookeeper protocol without --zookeeper exits 2 ({rc}: {err.strip()[:160]})")

    bad = write(os.path.join(tmp, "bad.toml"), "[workload]\nname = \"kafka\"\nproducers = \"many\"\n")
    rc, _, err = run([SAMSA, "live", "workload", "--bootstrap", cluster.bootstrap, "--scenario", bad,
                      "--history", os.path.join(tmp, "x.jsonl")])
    check(rc == 2 and "bad.toml:" in err, f"a bad scenario exits 2 naming the file ({rc}: {err.strip()[:160]})")
    rc, _, err = run([SAMSA, "live", "workload", "--bootstrap", "nohost", "--scenario", GROUPS,
                      "--history", os.path.join(tmp, "x.jsonl")])
    check(rc == 2 and "--bootstrap" in err, f"a bad --bootstrap exits 2 ({rc}: {err.strip()[:160]})")
    rc, _ = cluster.stop(signal.SIGTERM)
    check(rc == 0, "the cluster stops on SIGTERM")


def test_pause(seed=7, rounds=4):
    tmp = temp_dir("samsa-live-pause-")
    cfg = write(os.path.join(tmp, "zoo.cfg"),
                f"tickTime=500\ndataDir={tmp}/coordinator\nclientPort=0\n"
                "clientPortAddress=127.0.0.1\nmaxSessionTimeout=20000\n")
    zookeeper = Server([SAMSA, "live", "coordinator", "--config", cfg, "--log-level", "warn"],
                       name="coordinator").zookeeper
    from samsa_live import free_port
    configs = [broker_properties(tmp, b, zookeeper, free_port()) for b in range(3)]
    argv = [SAMSA, "live", "nemesis", "--seed", str(seed), "--rounds", str(rounds), "--interval-ms", "1000",
            "--down-ms", "1500", "--actions", "pause", "--log-level", "warn"]
    for c in configs:
        argv += ["--broker-config", c]
    nemesis = Server(argv, timeout=120, name="samsa live nemesis")
    history = os.path.join(tmp, "pause.jsonl")
    workload = subprocess.Popen([SAMSA, "live", "workload", "--bootstrap", nemesis.bootstrap, "--scenario", CRASH,
                                 "--history", history, "--duration-ms", "3600000"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = wait_line(nemesis, r"^nemesis done", timeout=120)
    faults = [l for l in nemesis.lines if re.match(r"^nemesis \d+ (SIGSTOP|SIGCONT) ", l)]
    check(done is not None and len(faults) == 2 * rounds,
          f"{rounds} SIGSTOP/SIGCONT pairs printed as they happen ({len(faults)} lines)")
    workload.send_signal(signal.SIGTERM)
    out, _ = workload.communicate(timeout=240)
    print(out.strip())
    check(workload.returncode == 0, f"the workload ends on SIGTERM (exit {workload.returncode})")
    judge(history, "under SIGSTOP/SIGCONT")
    rc, _ = nemesis.stop(signal.SIGTERM)
    check(rc == 0, "the nemesis stops its brokers on SIGTERM")
    victims = [l.split()[3] for l in faults if "SIGSTOP" in l]
    return victims


def main():
    test_group()
    first = test_pause()
    again = test_pause()
    check(first == again, f"the same seed stops the same brokers in the same order ({first})")
    finish()


if __name__ == "__main__":
    main()
