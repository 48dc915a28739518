#!/usr/bin/env python3
"""One process per server: `samsa live broker --config server.properties`
x3 against `samsa live coordinator` (or, with --zookeeper real, against a
real ZooKeeper 3.8 from Debian's zookeeper package), every port picked free.

An idempotent acks=all producer (confluent-kafka) writes throughout to a
topic with replication factor 3 and min.insync.replicas=2 while one broker
is killed with SIGKILL and restarted on its log dir, and another stops with
SIGTERM (controlled shutdown: exit 0, its leadership moved away first).
The clients carry on; at the end every acknowledged record is read back at
its acknowledged offset and no value is stored twice. Also: server.properties
errors name FILE:LINE and exit 2; unknown keys warn.

With --netns each broker runs in a network namespace of its own (ip netns
+ veth pairs on a bridge): three hosts on one machine, each broker on
HOST:9092.

Usage: multiprocess_test.py SAMSA_BINARY [--zookeeper samsa|real] [--netns]
(exit 77: confluent-kafka, or for `real` Java or ZooKeeper, is missing; for
--netns, network namespaces cannot be made)
"""
import argparse
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from samsa_live import Server, _children, check, failures, finish, free_port, run, temp_dir  # noqa: E402

try:
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    print("confluent-kafka is not installed (tools/setup --peers): skipped")
    sys.exit(77)

ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"


def real_zookeeper(tmp):
    """A private ZooKeeper 3.8 (../shared/NOTES.md); returns host:port."""
    if not os.path.exists(ZOOKEEPER_JAR) or subprocess.run(["which", "java"], capture_output=True).returncode:
        print("java or the zookeeper package is missing (tools/setup --peers): skipped")
        sys.exit(77)
    port = free_port()
    cfg = os.path.join(tmp, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write(f"tickTime=500\ndataDir={tmp}/zk\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
                "admin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\n"
                "maxSessionTimeout=20000\n")
    log = open(os.path.join(tmp, "zookeeper.log"), "w")
    proc = subprocess.Popen(["java", "-Xmx256m", "-cp", f"/etc/zookeeper/conf:{ZOOKEEPER_JAR}",
                             "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
                            stdout=log, stderr=subprocess.STDOUT)
    _children.append(proc)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"ruok")
                if s.recv(16) == b"imok":
                    return f"127.0.0.1:{port}"
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("ZooKeeper did not answer ruok")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Namespaces:
    """Three network namespaces, one per broker, bridged to this one with
    veth pairs: each broker is its own host (its own address, the same port
    9092 in each). Skips (77) when namespaces cannot be made."""

    def __init__(self):
        tag = os.getpid() % 100000
        self.bridge = f"sbr{tag}"
        net = 64 + os.getpid() % 64, (os.getpid() // 64) % 250
        self.prefix = f"10.{net[0]}.{net[1]}"
        self.names = [f"samsa-{tag}-b{i}" for i in range(3)]
        self.made = []
        atexit.register(self.remove)
        if os.geteuid() != 0:
            self.skip("not root")
        self.sh(f"ip link add {self.bridge} type bridge")
        self.made.append("bridge")
        self.sh(f"ip addr add {self.prefix}.1/24 dev {self.bridge}")
        self.sh(f"ip link set {self.bridge} up")
        for i, ns in enumerate(self.names):
            self.sh(f"ip netns add {ns}")
            self.made.append(ns)
            self.sh(f"ip link add sv{tag}h{i} type veth peer name sv{tag}n{i}")
            self.sh(f"ip link set sv{tag}h{i} master {self.bridge} up")
            self.sh(f"ip link set sv{tag}n{i} netns {ns}")
            self.sh(f"ip netns exec {ns} ip addr add {self.host(i)}/24 dev sv{tag}n{i}")
            self.sh(f"ip netns exec {ns} ip link set sv{tag}n{i} up")
            self.sh(f"ip netns exec {ns} ip link set lo up")

    def host(self, i):
        return f"{self.prefix}.{i + 2}"

    def coordinator_host(self):
        return f"{self.prefix}.1"

    def sh(self, cmd):
        r = subprocess.run(cmd.split(), capture_output=True, text=True)
        if r.returncode != 0:
            if not self.made:
                self.skip(f"`{cmd}` failed: {r.stderr.strip()}")
            raise SystemExit(f"`{cmd}` failed: {r.stderr.strip()}")

    def skip(self, why):
        print(f"network namespaces are not available ({why}; needs root or CAP_NET_ADMIN): skipped")
        sys.exit(77)

    def remove(self):
        for ns in self.names:
            if ns in self.made:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if "bridge" in self.made:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        self.made = []


def broker_properties(tmp, b, zookeeper, extra="", host="127.0.0.1", port=0):
    return write(os.path.join(tmp, f"server-{b}.properties"),
                 "# written by multiprocess_test.py\n"
                 f"broker.id={b}\n"
                 f"listeners=PLAINTEXT://{host}:{port}\n"
                 f"log.dirs={tmp}/broker-{b}\n"
                 f"zookeeper.connect={zookeeper}\n"
                 "zookeeper.session.timeout.ms=6000\n"
                 "num.partitions=3\n"
                 "default.replication.factor=3\n"
                 "min.insync.replicas=2\n"
                 "offsets.topic.replication.factor=3\n"
                 "log.flush.interval.messages=1\n"
                 "replica.lag.time.max.ms=5000\n"
                 "group.initial.rebalance.delay.ms=0\n"
                 "controlled.shutdown.retry.backoff.ms=500\n" + extra)


def test_config_errors(samsa, tmp, zookeeper):
    bad = write(os.path.join(tmp, "bad.properties"),
                f"broker.id=0\nlog.dirs={tmp}/bad\nzookeeper.connect={zookeeper}\n"
                "num.partitions=many\n")
    rc, _, err = run([samsa, "live", "broker", "--config", bad])
    check(rc == 2 and f"{bad}:4:" in err and "num.partitions" in err,
          f"a bad value names FILE:LINE and exits 2 ({rc}: {err.strip()[:160]})")
    ssl = write(os.path.join(tmp, "ssl.properties"),
                f"broker.id=0\nlisteners=SSL://127.0.0.1:0\nlog.dirs={tmp}/bad\nzookeeper.connect={zookeeper}\n")
    rc, _, err = run([samsa, "live", "broker", "--config", ssl])
    check(rc == 2 and f"{ssl}:2:" in err, f"an SSL listener is refused with FILE:LINE ({err.strip()[:160]})")
    noid = write(os.path.join(tmp, "noid.properties"), f"log.dirs={tmp}/bad\nzookeeper.connect={zookeeper}\n")
    rc, _, err = run([samsa, "live", "broker", "--config", noid])
    check(rc == 2 and "broker.id" in err, f"a missing broker.id exits 2 ({err.strip()[:160]})")


class Broker:
    def __init__(self, samsa, props, b, prefix=()):
        self.samsa, self.props, self.id, self.prefix = samsa, props, b, list(prefix)
        self.start()

    def start(self):
        self.server = Server(self.prefix + [self.samsa, "live", "broker", "--config", self.props],
                             name=f"broker {self.id}")
        self.address = self.server.bootstrap


def metadata(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        return admin.list_topics(topic, timeout=10)
    except Exception:  # noqa: BLE001 - a broker that is going away
        return None


def replicated(bootstrap, topic, n_isr):
    md = metadata(bootstrap, topic)
    if md is None or topic not in md.topics or not md.topics[topic].partitions:
        return False
    return all(p.leader >= 0 and len(p.isrs) >= n_isr for p in md.topics[topic].partitions.values())


def wait_for(pred, timeout=60, step=0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


class Writer(threading.Thread):
    """An idempotent acks=all producer writing numbered values until stopped."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.topic = topic
        self.acked = {}   # value -> (partition, offset)
        self.errors = []
        self.sent = 0
        self.stopping = threading.Event()
        self.producer = confluent_kafka.Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
            "linger.ms": 2, "message.timeout.ms": 120000, "socket.timeout.ms": 10000})

    def on_delivery(self, err, msg):
        if err:
            self.errors.append(str(err))
        else:
            self.acked[msg.value().decode()] = (msg.partition(), msg.offset())

    def run(self):
        while not self.stopping.is_set():
            self.producer.produce(self.topic, value=f"w-{self.sent}".encode(), on_delivery=self.on_delivery)
            self.sent += 1
            self.producer.poll(0.002)
        self.remaining = self.producer.flush(120)


def read_back(got, value, at):
    """Whether `value`, acknowledged at `at` (partition, offset), is in what
    read_all got. librdkafka acknowledges some records without an offset
    (None) after a leader change (retried "possibly persisted" batches);
    those must be in their partition, at some offset."""
    part, offset = at
    return any(p == part and (offset is None or o == offset) for p, o in got.get(value, []))


def read_all(bootstrap, topic):
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=20)
    parts = list(md.topics[topic].partitions)
    ends = {}
    for p in parts:
        _, hi = c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p), timeout=20)
        ends[p] = hi
    c.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in parts])
    got = {}
    deadline = time.monotonic() + 120
    positions = {p: 0 for p in parts}
    while time.monotonic() < deadline and any(positions[p] < ends[p] for p in parts):
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        got.setdefault(m.value().decode(), []).append((m.partition(), m.offset()))
        positions[m.partition()] = m.offset() + 1
    c.close()
    return got


def leader_of(bootstrap, topic, partition):
    md = metadata(bootstrap, topic)
    return md.topics[topic].partitions[partition].leader if md else -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samsa")
    ap.add_argument("--zookeeper", choices=["samsa", "real"], default="samsa")
    ap.add_argument("--netns", action="store_true",
                    help="each broker in its own network namespace (needs root)")
    args = ap.parse_args()
    tmp = temp_dir("samsa-live-mp-")
    netns = Namespaces() if args.netns else None
    coordinator_host = netns.coordinator_host() if netns else "127.0.0.1"
    if args.zookeeper == "real":
        zookeeper = real_zookeeper(tmp)
    else:
        cfg = write(os.path.join(tmp, "zoo.cfg"),
                    f"tickTime=500\ndataDir={tmp}/coordinator\nclientPort=0\n"
                    f"clientPortAddress={coordinator_host}\nmaxSessionTimeout=20000\n")
        zookeeper = Server([args.samsa, "live", "coordinator", "--config", cfg], name="coordinator").zookeeper
    print("zookeeper at", zookeeper, f"({args.zookeeper})")
    test_config_errors(args.samsa, tmp, zookeeper)

    def props(b):
        extra = "unknown.samsa.key=1\n" if b == 0 else ""
        if netns:  # its own host: its own address, Kafka's usual port
            return broker_properties(tmp, b, zookeeper, extra, netns.host(b), 9092)
        return broker_properties(tmp, b, zookeeper, extra)

    brokers = [Broker(args.samsa, props(b), b,
                      ["ip", "netns", "exec", netns.names[b]] if netns else ())
               for b in range(3)]
    if netns:
        check(all(b.address == f"{netns.host(b.id)}:9092" for b in brokers),
              "each broker advertises its own namespace's address, port 9092")
    check("unknown key 'unknown.samsa.key'" in brokers[0].server.log(), "an unknown key warns")
    bootstrap = ",".join(b.address for b in brokers)
    print("brokers at", bootstrap)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=20)
    check(sorted(md.brokers) == [0, 1, 2], f"metadata lists brokers 0 1 2 ({sorted(md.brokers)})")
    fs = admin.create_topics([NewTopic("crash", 3, 3)], operation_timeout=20)
    fs["crash"].result(30)
    check(wait_for(lambda: replicated(bootstrap, "crash", 3)), "topic crash: 3 partitions, 3 replicas in sync")

    writer = Writer(bootstrap, "crash")
    writer.start()
    check(wait_for(lambda: len(writer.acked) >= 300, timeout=60), "the producer gets acks")

    # kill -9 of the leader of partition 0.
    victim = brokers[leader_of(bootstrap, "crash", 0)]
    before = len(writer.acked)
    victim.server.kill9()
    print(f"killed broker {victim.id} (SIGKILL) with {before} acked")
    others = ",".join(b.address for b in brokers if b is not victim)
    check(wait_for(lambda: len(writer.acked) >= before + 500, timeout=90),
          f"after a kill -9 of broker {victim.id} the producer goes on ({len(writer.acked) - before} more acks)")
    check(leader_of(others, "crash", 0) not in (-1, victim.id), "partition 0 has a new leader")
    victim.start()
    check(wait_for(lambda: replicated(others, "crash", 3), timeout=90),
          f"broker {victim.id} restarted on its log dir and is back in every ISR")

    # SIGTERM of another broker: controlled shutdown.
    stopping = next(b for b in brokers if b is not victim)
    led_before = sum(1 for p in range(3) if leader_of(others, "crash", p) == stopping.id)
    before = len(writer.acked)
    rc, took = stopping.server.stop(signal.SIGTERM)
    log = stopping.server.log()
    check(rc == 0, f"SIGTERM on broker {stopping.id}: exit 0 after {took:.1f} s (got {rc})")
    check("controlled shutdown: leadership moved" in log,
          f"broker {stopping.id} moved its leadership away first (it led {led_before} partitions)")
    rest = ",".join(b.address for b in brokers if b is not stopping)
    check(wait_for(lambda: len(writer.acked) >= before + 300, timeout=60),
          "the producer goes on after the controlled shutdown")
    stopping.start()
    all_up = ",".join(b.address for b in brokers)
    check(wait_for(lambda: replicated(all_up, "crash", 3), timeout=90), "all three brokers back in the ISR")

    writer.stopping.set()
    writer.join(180)
    check(writer.remaining == 0 and not writer.errors,
          f"{len(writer.acked)} of {writer.sent} records acked, none failed ({writer.errors[:3]})")
    got = read_all(all_up, "crash")
    lost = [v for v, at in writer.acked.items() if not read_back(got, v, at)]
    print(f"{sum(1 for at in writer.acked.values() if at[1] is None)} acks without an offset")
    dups = [v for v, ats in got.items() if len(ats) > 1]
    check(not lost, f"every acknowledged record is read back at its offset ({len(lost)} lost, e.g. "
          + ", ".join(f"{v} acked at {writer.acked[v]}, read at {got.get(v)}" for v in lost[:5]) + ")")
    check(not dups, f"no value stored twice with idempotence ({len(dups)}, e.g. {dups[:3]})")

    for b in brokers:
        rc, took = b.server.stop(signal.SIGTERM)
        check(rc == 0, f"broker {b.id} stops with SIGTERM: exit 0 ({took:.1f} s)")
    if failures:
        for b in brokers:
            print(f"--- broker {b.id} log (tail)\n" + b.server.log()[-3000:])
    finish()


if __name__ == "__main__":
    main()
