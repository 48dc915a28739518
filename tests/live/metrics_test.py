#!/usr/bin/env python3
"""`samsa live --metrics-port 0`: the Prometheus text format with Kafka's
metric names. Scraped before and after a produce: one active controller,
every broker up, no under-replicated or offline partition once the ISR is
full, each replica's log end offset equal to the records produced into its
partition, the connection gauge; per API the request count and latency
quantiles (kafka.network:type=RequestMetrics,name=RequestsPerSec and
TotalTimeMs with request=<Api>, named as the Prometheus JMX exporter's
Kafka rules render them: kafka_network_requestmetrics_requests_total and
kafka_network_requestmetrics_totaltimems{quantile=...}); consumer group lag
(kafka_exporter's kafka_consumergroup_lag: high watermark less the
committed offset) for a group that committed part of a partition; other
paths are 404.

Usage: metrics_test.py SAMSA_BINARY   (exit 77: confluent-kafka is missing)
"""
import os
import re
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from samsa_live import Server, check, finish, temp_dir  # noqa: E402

try:
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    print("confluent-kafka is not installed (tools/setup --peers): skipped")
    sys.exit(77)

SAMSA = sys.argv[1]
SAMPLE = re.compile(r'^([a-z_]+)\{([^}]*)\} (\S+)$')


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode()
    samples = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = dict(kv.split("=", 1) for kv in m.group(2).split(",")) if m.group(2) else {}
        samples.append((m.group(1), {k: v.strip('"') for k, v in labels.items()}, float(m.group(3))))
    return ctype, text, samples


def values(samples, name):
    return [(labels, v) for n, labels, v in samples if n == name]


def check_requests(s, produced):
    reqs = values(s, "kafka_network_requestmetrics_requests_total")
    by_api = {}
    for lb, v in reqs:
        by_api[lb["request"]] = by_api.get(lb["request"], 0) + v
    check(by_api.get("Produce", 0) >= 1 and by_api.get("Metadata", 0) >= 1 and by_api.get("CreateTopics", 0) >= 1,
          f"requests counted per API ({ {k: int(v) for k, v in sorted(by_api.items())} })")
    times = [(lb, v) for lb, v in values(s, "kafka_network_requestmetrics_totaltimems") if lb["request"] == "Produce"]
    per_broker = {}
    for lb, v in times:
        per_broker.setdefault(lb["broker"], {})[lb["quantile"]] = v
    qs = ["0.50", "0.75", "0.95", "0.98", "0.99", "0.999"]
    check(per_broker and all(sorted(q) == sorted(qs) for q in per_broker.values()),
          f"Produce latency quantiles {qs} per broker ({sorted(per_broker)})")
    check(all(0 < q["0.50"] <= q["0.99"] <= q["0.999"] < 60000 for q in per_broker.values()),
          f"the quantiles are ordered milliseconds ({per_broker})")
    counts = values(s, "kafka_network_requestmetrics_totaltimems_count")
    check(any(lb["request"] == "Produce" and v >= 1 for lb, v in counts), "TotalTimeMs counts")


def check_lag(server, url, counts):
    """A group commits offset 10 of m-0 and 0 of m-1: its lag is the rest."""
    c = confluent_kafka.Consumer({"bootstrap.servers": server.bootstrap, "group.id": "lagging",
                                  "enable.auto.commit": False})
    c.commit(offsets=[confluent_kafka.TopicPartition("m", 0, 10), confluent_kafka.TopicPartition("m", 1, 0)],
             asynchronous=False)
    c.close()
    want = {"0": counts[0] - 10, "1": counts[1]}
    got = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and got != want:
        _, _, s = scrape(url)
        got = {lb["partition"]: v for lb, v in values(s, "kafka_consumergroup_lag")
               if lb.get("consumergroup") == "lagging" and lb.get("topic") == "m"}
        time.sleep(0.3)
    check(got == want, f"kafka_consumergroup_lag is the high watermark less the committed offset ({got}, want {want})")


def main():
    server = Server([SAMSA, "live", "--brokers", "3", "--base-port", "0", "--coordinator-port", "0",
                     "--data-dir", temp_dir("samsa-live-metrics-"), "--metrics-port", "0"])
    lines = [line for line in server.lines if line.startswith("metrics ")]
    check(len(lines) == 1, f"one `metrics URL` line ({lines})")
    url = lines[0].split(" ", 1)[1]
    ctype, text, samples = scrape(url)
    check("text/plain; version=0.0.4" in ctype, f"Prometheus text format 0.0.4 ({ctype})")
    check("# TYPE kafka_controller_kafkacontroller_activecontrollercount gauge" in text, "HELP/TYPE lines")
    check(sorted(v for _, v in values(samples, "samsa_broker_up")) == [1, 1, 1], "three brokers up")

    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    admin.create_topics([NewTopic("m", 2, 3)], operation_timeout=30)["m"].result(60)
    p = confluent_kafka.Producer({"bootstrap.servers": server.bootstrap, "acks": "all"})
    counts = {0: 0, 1: 0}
    for i in range(100):
        part = i % 2
        p.produce("m", value=b"v", partition=part)
        counts[part] += 1
    p.flush(30)

    def settled():
        _, _, s = scrape(url)
        leo = values(s, "kafka_log_log_logendoffset")
        mine = [(lb["partition"], v) for lb, v in leo if lb.get("topic") == "m"]
        under = sum(v for _, v in values(s, "kafka_server_replicamanager_underreplicatedpartitions"))
        ok = len(mine) == 6 and all(v == counts[int(part)] for part, v in mine) and under == 0
        return s if ok else None

    deadline = time.monotonic() + 30
    s = None
    while time.monotonic() < deadline and s is None:
        s = settled()
        if s is None:
            time.sleep(0.5)
    check(s is not None, "every replica's kafka_log_log_logendoffset reaches the records produced; "
                         "no under-replicated partition")
    s = s or scrape(url)[2]
    check(sum(v for _, v in values(s, "kafka_controller_kafkacontroller_activecontrollercount")) == 1,
          "exactly one active controller")
    check(sum(v for _, v in values(s, "kafka_controller_kafkacontroller_offlinepartitionscount")) == 0,
          "no offline partition")
    leaders = sum(v for lb, v in values(s, "kafka_server_replicamanager_leadercount"))
    check(leaders >= 2, f"the leaders of m's partitions are counted ({leaders})")
    check(values(s, "kafka_server_replicamanager_isrshrinks_total") and
          values(s, "kafka_server_replicamanager_isrexpands_total"), "ISR shrink and expand counters")
    check(sum(v for _, v in values(s, "samsa_server_requests_total")) > 0, "request counters")
    check(values(s, "kafka_server_socketservermetrics_connection_count")[0][1] >= 1, "the connection gauge")
    check_requests(s, produced=sum(counts.values()))
    check_lag(server, url, counts)
    try:
        urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=10)
        check(False, "another path is 404")
    except urllib.error.HTTPError as e:
        check(e.code == 404, f"another path is 404 ({e.code})")
    rc, _ = server.stop()
    check(rc == 0, f"SIGTERM: exit 0 (got {rc})")
    finish()


if __name__ == "__main__":
    main()
