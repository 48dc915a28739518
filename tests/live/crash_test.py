#!/usr/bin/env python3
"""The live crash test (issue 15): a `samsa live coordinator` process and 3
broker processes started by `samsa live nemesis` (acks=all,
min.insync.replicas=2, log.flush.interval.messages=1, replication factor
3), which kills a random broker with SIGKILL and restarts it on its log dir,
ROUNDS times, while `samsa live workload` runs tests/live/data/crash.toml
(samsa's own idempotent producer) against them and records the history.
After the last round the workload is stopped with SIGTERM (outcomes
awaited, every partition read back) and `samsa check` judges the history:
no acknowledged record lost, none duplicated, offsets consistent.

Needs nothing but the samsa binary. Every port is picked free.

Usage: crash_test.py SAMSA_BINARY [--rounds N] [--seed S]
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from samsa_live import Server, _children, check, failures, finish, free_port, run, temp_dir  # noqa: E402

SCENARIO = os.path.join(HERE, "data", "crash.toml")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def broker_properties(tmp, b, zookeeper, port):
    # A fixed port: a restarted broker comes back where clients knew it.
    return write(os.path.join(tmp, f"server-{b}.properties"),
                 "# written by crash_test.py\n"
                 f"broker.id={b}\n"
                 f"listeners=PLAINTEXT://127.0.0.1:{port}\n"
                 f"log.dirs={tmp}/broker-{b}\n"
                 f"zookeeper.connect={zookeeper}\n"
                 "zookeeper.session.timeout.ms=6000\n"
                 "default.replication.factor=3\n"
                 "min.insync.replicas=2\n"
                 "offsets.topic.replication.factor=3\n"
                 "log.flush.interval.messages=1\n"
                 "replica.lag.time.max.ms=5000\n"
                 "unclean.leader.election.enable=false\n"
                 "auto.create.topics.enable=false\n")


def wait_line(server, pattern, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(server.lines):
            if re.search(pattern, line):
                return line
        if not server.alive():
            return None
        time.sleep(0.2)
    return None


def check_the_judge(samsa, history, tmp):
    """The same history with one acknowledged record taken out of the
    read-back must fail: the judge sees a loss when there is one."""
    with open(history) as f:
        ops = [json.loads(l) for l in f if l.strip()]
    for op in ops:
        recs = (op.get("value") or {}).get("records") if isinstance(op.get("value"), dict) else None
        if op.get("type") == "ok" and op.get("f") == "poll" and recs and len(recs) > 2:
            del recs[len(recs) // 2]
            break
    broken = write(os.path.join(tmp, "history-one-lost.jsonl"), "".join(json.dumps(o) + "\n" for o in ops))
    rc, stdout, _ = run([samsa, "check", broken, "--json"], timeout=120)
    report = json.loads(stdout) if stdout.strip() else {}
    check(rc != 0 and "lost-write" in report.get("anomalies", {}),
          f"with one record taken out of the read-back samsa check finds a lost-write (exit {rc})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samsa")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    tmp = temp_dir("samsa-live-crash-")
    cfg = write(os.path.join(tmp, "zoo.cfg"),
                f"tickTime=500\ndataDir={tmp}/coordinator\nclientPort=0\n"
                "clientPortAddress=127.0.0.1\nmaxSessionTimeout=20000\n")
    zookeeper = Server([args.samsa, "live", "coordinator", "--config", cfg, "--log-level", "warn"],
                       name="coordinator").zookeeper
    configs = [broker_properties(tmp, b, zookeeper, free_port()) for b in range(3)]
    argv = [args.samsa, "live", "nemesis", "--seed", str(args.seed), "--rounds", str(args.rounds),
            "--interval-ms", "1500", "--down-ms", "500", "--actions", "kill", "--log-level", "warn"]
    for c in configs:
        argv += ["--broker-config", c]
    nemesis = Server(argv, timeout=120, name="samsa live nemesis")
    print("brokers at", nemesis.bootstrap, flush=True)

    history = os.path.join(tmp, "history.jsonl")
    wl_out = open(os.path.join(tmp, "workload.out"), "w+")
    workload = subprocess.Popen([args.samsa, "live", "workload", "--bootstrap", nemesis.bootstrap,
                                 "--scenario", SCENARIO, "--history", history, "--duration-ms", "36000000"],
                                stdout=wl_out, stderr=subprocess.STDOUT, text=True)
    _children.append(workload)

    done = wait_line(nemesis, r"^nemesis done", timeout=60 + args.rounds * 20)
    kills = [l for l in nemesis.lines if " kill -9 " in l]
    restarts = [l for l in nemesis.lines if re.search(r"^nemesis \d+ ready ", l)]
    for l in kills[:3]:
        print("  " + l)
    check(done is not None and len(kills) == args.rounds and len(restarts) == args.rounds,
          f"the nemesis killed a broker with SIGKILL and restarted it {len(kills)}/{args.rounds} times "
          f"({len(restarts)} back up)")
    check(workload.poll() is None, "the workload ran through every round")
    workload.send_signal(signal.SIGTERM)
    try:
        rc = workload.wait(timeout=240)
    except subprocess.TimeoutExpired:
        workload.kill()
        rc = workload.wait()
    wl_out.seek(0)
    out = wl_out.read()
    print(out.strip())
    check(rc == 0, f"the workload stopped on SIGTERM after reading every partition back (exit {rc})")

    rc, stdout, stderr = run([args.samsa, "check", history, "--json"], timeout=120)
    report = json.loads(stdout) if stdout.strip() else {}
    d = report.get("delivery", {})
    print(f"samsa check: verdict {report.get('verdict')}, anomalies {sorted(report.get('anomalies', {}))}, "
          f"delivery {json.dumps({k: d.get(k) for k in ('acked', 'consumed', 'lost', 'unseen', 'duplicated')})}")
    m = re.search(r"(\d+) sends: (\d+) ok", out)
    acked = int(m.group(2)) if m else 0
    check(acked > 0 and d.get("acked") == acked, f"{acked} sends acknowledged across the kills")
    check(rc == 0 and report.get("verdict") == "ok",
          f"samsa check passes the history (exit {rc}, verdict {report.get('verdict')}: "
          f"{ {k: len(v) for k, v in report.get('anomalies', {}).items()} })")
    check(d.get("lost", 1) == 0 and d.get("unseen", 1) == 0, "no acknowledged record lost")
    check(d.get("duplicated", 1) == 0, "no record written twice (idempotence)")
    check_the_judge(args.samsa, history, tmp)

    rc, took = nemesis.stop(signal.SIGTERM, timeout=120)
    check(rc == 0, f"the nemesis stops its brokers on SIGTERM (exit {rc}, {took:.1f} s)")
    if failures:
        for c in configs:
            with open(c + ".log") as f:
                print(f"--- {c}.log (tail)\n" + f.read()[-3000:])
        print("--- nemesis\n" + "\n".join(nemesis.lines[-40:]))
    finish()


if __name__ == "__main__":
    main()
