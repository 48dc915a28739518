#!/usr/bin/env python3
"""`samsa live --nemesis tests/live/data/lost_acks.toml --seed N`: brokers
act on their clients' requests and lose a seeded 30 % of the responses
(then nothing more on that connection: the client times out and
reconnects), in windows, while `samsa live workload` runs
tests/live/data/crash.toml (samsa's idempotent acks=all producer). Each
window is printed with the responses lost; the same seed prints the same
schedule; `samsa check` finds nothing lost and nothing duplicated (the
retried batches the brokers had already written are deduplicated).

Usage: lost_acks_test.py SAMSA_BINARY
"""
import json
import os
import re
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from samsa_live import Server, check, finish, run, temp_dir  # noqa: E402

SAMSA = sys.argv[1]
SEED = 3
NEMESIS = os.path.join(HERE, "data", "lost_acks.toml")


def cluster():
    return Server([SAMSA, "live", "--brokers", "3", "--base-port", "0", "--coordinator-port", "0",
                   "--data-dir", temp_dir("samsa-live-lost-"), "--log-level", "warn",
                   "--nemesis", NEMESIS, "--seed", str(SEED), "--lost-acks-fraction", "0.3",
                   "--set", "min.insync.replicas=2", "--set", "log.flush.interval.messages=1"],
                  name="samsa live --nemesis")


def main():
    server = cluster()
    plan = [l for l in server.lines if l.startswith("nemesis plan ")]
    check(plan and all("lost-acks" in l for l in plan), f"a schedule of lost-acks windows ({len(plan)})")
    history = os.path.join(temp_dir("samsa-live-lost-h-"), "history.jsonl")
    rc, out, err = run([SAMSA, "live", "workload", "--bootstrap", server.bootstrap, "--scenario",
                        os.path.join(HERE, "data", "crash.toml"), "--history", history,
                        "--duration-ms", "11000"], timeout=300)
    print(out.strip())
    check(rc == 0, f"the workload ends and reads every partition back (exit {rc}: {err.strip()[-300:]})")
    faults = [l for l in server.lines if re.match(r"^nemesis +\d+ ms fault .*lost-acks", l)]
    ends = [l for l in server.lines if re.match(r"^nemesis +\d+ ms end of fault .*lost-acks", l)]
    lost = [int(m.group(1)) for l in ends for m in [re.search(r"(\d+) responses lost so far", l)] if m]
    for l in (faults + ends)[:6]:
        print("  " + l)
    check(faults and len(ends) == len(faults), f"each window printed as it starts and ends ({len(faults)})")
    check(lost and max(lost) > 0, f"responses were lost ({lost})")
    rc, stdout, _ = run([SAMSA, "check", history, "--json"], timeout=120)
    report = json.loads(stdout) if stdout.strip() else {}
    d = report.get("delivery", {})
    check(rc == 0 and report.get("verdict") == "ok" and d.get("acked", 0) > 0,
          f"samsa check passes ({d.get('acked')} acked, anomalies {sorted(report.get('anomalies', {}))})")
    check(d.get("lost", 1) == 0 and d.get("duplicated", 1) == 0,
          f"nothing lost, nothing duplicated ({d.get('lost')}, {d.get('duplicated')})")
    rc, _ = server.stop(signal.SIGTERM)
    check(rc == 0, f"SIGTERM: exit 0 ({rc})")
    again = cluster()
    check([l for l in again.lines if l.startswith("nemesis plan ")] == plan, "the same seed prints the same schedule")
    again.stop(signal.SIGTERM)
    finish()


if __name__ == "__main__":
    main()
