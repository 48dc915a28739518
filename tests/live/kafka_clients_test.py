#!/usr/bin/env python3
"""Real Kafka clients against the embedded `samsa live` (a coordinator and
3 brokers in one process, every port picked free).

kcat: metadata lists the 3 brokers; produce with acks=all to a topic with
replication factor 3 and consume it back in order; a kcat -G group.
confluent-kafka (librdkafka): an idempotent acks=all producer, a 2-member
consumer group that rebalances. kafka-python: a consumer group that
commits, and a restarted consumer that resumes at the committed offset.
kazoo lists /brokers/ids on the coordinator. Garbage on a broker's port
closes only that connection; max.connections.per.ip closes the connection
over the limit with one log line. SIGTERM: controlled shutdown, exit 0.

Usage: kafka_clients_test.py SAMSA_BINARY   (exit 77: a client is missing)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from samsa_live import Server, check, finish, have, temp_dir  # noqa: E402

try:
    import confluent_kafka
    import kafka
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:
    print("confluent-kafka or kafka-python is not installed (tools/setup --peers): skipped")
    sys.exit(77)
if not have("kcat"):
    print("kcat is not installed (tools/setup --peers): skipped")
    sys.exit(77)

SAMSA = sys.argv[1]


def kcat(bootstrap, *args, data=None, timeout=60):
    return subprocess.run(["kcat", "-b", bootstrap, *args], input=data, capture_output=True,
                          text=True, timeout=timeout)


def metadata(bootstrap, topic=None):
    r = kcat(bootstrap, "-L", "-J", *(["-t", topic] if topic else []))
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_for(pred, timeout=30, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def create_topic(bootstrap, name, partitions, rf, configs=None):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(name, partitions, rf, config=configs or {})],
                             operation_timeout=20)
    try:
        fs[name].result(30)
        return True
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        print("create_topics:", e)
        return False


def fully_replicated(bootstrap, topic, partitions, rf):
    md = metadata(bootstrap, topic)
    if not md or not md["topics"] or len(md["topics"][0]["partitions"]) != partitions:
        return False
    return all(len(p["replicas"]) == rf and len(p["isrs"]) == rf and p["leader"] >= 0
               for p in md["topics"][0]["partitions"])


def test_kcat(bootstrap, brokers):
    md = metadata(bootstrap)
    check(md is not None and sorted(b["name"] for b in md["brokers"]) == sorted(brokers),
          f"kcat -L lists the 3 brokers at their advertised addresses ({brokers})")
    check(md is not None and md["controllerid"] in (0, 1, 2), "kcat -L names a controller")
    check(create_topic(bootstrap, "kcat-rf3", 3, 3, {"min.insync.replicas": "2"}),
          "CreateTopics: 3 partitions, replication factor 3")
    check(wait_for(lambda: fully_replicated(bootstrap, "kcat-rf3", 3, 3)) is not None,
          "every partition has 3 replicas in sync and a leader")
    lines = [f"k{i % 7}:value-{i}" for i in range(300)]
    r = kcat(bootstrap, "-P", "-t", "kcat-rf3", "-K:", "-X", "acks=all", data="\n".join(lines) + "\n")
    check(r.returncode == 0, f"kcat -P acks=all: 300 records (rc {r.returncode} {r.stderr[-300:]})")
    r = kcat(bootstrap, "-C", "-t", "kcat-rf3", "-o", "beginning", "-e", "-J")
    got = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    check(sorted(f'{m["key"]}:{m["payload"]}' for m in got) == sorted(lines),
          f"kcat -C reads back every record once ({len(got)} of 300)")
    in_order = True
    for p in range(3):
        mine = [m for m in got if m["partition"] == p]
        offsets = [m["offset"] for m in mine]
        values = [int(m["payload"].split("-")[1]) for m in mine]
        in_order &= offsets == list(range(len(mine))) and values == sorted(values)
    check(in_order, "each partition holds its records in produce order at offsets 0, 1, 2, ...")
    keyed = {}
    for m in got:
        keyed.setdefault(m["key"], set()).add(m["partition"])
    check(all(len(ps) == 1 for ps in keyed.values()), "one key, one partition (murmur2)")

    # A kcat balanced consumer group reads everything and commits.
    r = kcat(bootstrap, "-G", "kcat-group", "-o", "beginning", "-e", "-f", "%p %o\n", "kcat-rf3",
             timeout=90)
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 300,
          f"kcat -G reads all 300 records as a group member ({len(r.stdout.splitlines())})")
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "kcat-group"})
    committed = c.committed([confluent_kafka.TopicPartition("kcat-rf3", p) for p in range(3)], timeout=20)
    c.close()
    total = sum(tp.offset for tp in committed if tp.offset >= 0)
    check(total == 300, f"the kcat group's committed offsets add up to 300 ({total})")
    test_delete_group(bootstrap, "kcat-group", "kcat-rf3", 3)


def test_delete_group(bootstrap, group, topic, partitions):
    """DeleteGroups through confluent-kafka's AdminClient (2.0.2 and later): the
    Empty group goes, with its offsets; an unknown one is GROUP_ID_NOT_FOUND."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if not hasattr(admin, "delete_consumer_groups"):
        # Debian 12's confluent-kafka (1.7.0) predates it; kafka-python 2.0.2
        # sends DeleteGroups too.
        print(f"confluent-kafka {confluent_kafka.version()[0]} has no delete_consumer_groups: kafka-python's")
        delete_group_kafka_python(bootstrap, group, topic, partitions)
        return
    fs = admin.delete_consumer_groups([group, "no-such-group"], request_timeout=20)
    try:
        fs[group].result(30)
        deleted = True
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        print("delete_consumer_groups:", e)
        deleted = False
    check(deleted, f"DeleteGroups deletes the Empty group {group}")
    try:
        fs["no-such-group"].result(30)
        unknown = None
    except confluent_kafka.KafkaException as e:
        unknown = e.args[0].code()
    check(unknown == confluent_kafka.KafkaError.GROUP_ID_NOT_FOUND,
          f"DeleteGroups of an unknown group: GROUP_ID_NOT_FOUND ({unknown})")
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committed = c.committed([confluent_kafka.TopicPartition(topic, p) for p in range(partitions)], timeout=20)
    c.close()
    check(all(tp.offset < 0 for tp in committed), "the deleted group has no committed offsets left")


def delete_group_kafka_python(bootstrap, group, topic, partitions):
    """DeleteGroups through kafka-python's KafkaAdminClient: one (group, error)
    per id, NoError for the Empty group, GroupIdNotFoundError for an unknown one."""
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    try:
        answers = dict(admin.delete_consumer_groups([group, "no-such-group"]))
    finally:
        admin.close()
    errors = {g: getattr(e, "__name__", str(e)) for g, e in answers.items()}
    check(errors.get(group) == "NoError", f"DeleteGroups deletes the Empty group {group} ({errors})")
    check(errors.get("no-such-group") == "GroupIdNotFoundError",
          f"DeleteGroups of an unknown group: GROUP_ID_NOT_FOUND ({errors})")
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committed = c.committed([confluent_kafka.TopicPartition(topic, p) for p in range(partitions)], timeout=20)
    c.close()
    check(all(tp.offset < 0 for tp in committed), "the deleted group has no committed offsets left")


def test_confluent(bootstrap):
    check(create_topic(bootstrap, "ck", 3, 3, {"min.insync.replicas": "2"}), "CreateTopics ck (RF 3)")
    wait_for(lambda: fully_replicated(bootstrap, "ck", 3, 3))
    acked, errors = [], []

    def on_delivery(err, msg):
        (errors if err else acked).append(err or (msg.partition(), msg.offset(), msg.value()))

    p = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                                  "acks": "all", "linger.ms": 5})
    for i in range(2000):
        p.produce("ck", key=str(i % 11).encode(), value=f"c-{i}".encode(), on_delivery=on_delivery)
        p.poll(0)
    check(p.flush(60) == 0, "idempotent producer: every record delivered or failed")
    check(not errors and len(acked) == 2000, f"2000 acked, no errors ({len(acked)}, {errors[:3]})")
    check(len({(a[0], a[1]) for a in acked}) == 2000, "every ack names its own offset")

    # Two members of one group split the 3 partitions after a rebalance.
    conf = {"bootstrap.servers": bootstrap, "group.id": "ck-group", "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500}
    seen = {}

    def poll(c, timeout):
        # A batch at a time: one member with nothing to read must not slow
        # the other down to one record per timeout.
        for m in c.consume(500, timeout):
            if not m.error():
                seen[(m.partition(), m.offset())] = m.value()

    c1 = confluent_kafka.Consumer(conf)
    c1.subscribe(["ck"])
    alone = wait_for(lambda: (poll(c1, 0.2), len(c1.assignment()) == 3)[1], timeout=40)
    check(alone is not None, "the first member gets all 3 partitions")
    c2 = confluent_kafka.Consumer(conf)
    c2.subscribe(["ck"])

    def split():
        for c in (c1, c2):
            poll(c, 0.05)
        a1 = {tp.partition for tp in c1.assignment()}
        a2 = {tp.partition for tp in c2.assignment()}
        return a1 and a2 and not (a1 & a2) and (a1 | a2) == {0, 1, 2}

    check(wait_for(split, timeout=60, step=0) is not None,
          "after the second member joins, the group splits the partitions between them")
    wait_for(lambda: (split(), len(seen) >= 2000)[1], timeout=60, step=0)
    check(set(seen.values()) == {f"c-{i}".encode() for i in range(2000)},
          f"the two members together read all 2000 records ({len(seen)})")
    c1.close()
    c2.close()


def test_kafka_python(bootstrap):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient
    from kafka.admin import NewTopic as KNewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([KNewTopic("kp", 2, 3)])
    admin.close()
    wait_for(lambda: fully_replicated(bootstrap, "kp", 2, 3))
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    futures = [p.send("kp", key=str(i % 5).encode(), value=f"p-{i}".encode()) for i in range(1000)]
    p.flush()
    metas = [f.get(timeout=30) for f in futures]
    check(len({(m.partition, m.offset) for m in metas}) == 1000, "kafka-python: 1000 acks=all sends")
    p.close()

    first = KafkaConsumer("kp", bootstrap_servers=bootstrap, group_id="kp-group",
                          auto_offset_reset="earliest", enable_auto_commit=False,
                          consumer_timeout_ms=10000)
    read = []
    for m in first:
        read.append(m)
        if len(read) == 400:
            break
    first.commit()
    tps = [TopicPartition("kp", p) for p in range(2)]
    committed = {tp.partition: first.committed(tp) for tp in tps}
    first.close()
    check(len(read) == 400 and sum(committed.values()) == 400,
          f"subscribe, read 400, commit: committed offsets add up to 400 ({committed})")
    second = KafkaConsumer("kp", bootstrap_servers=bootstrap, group_id="kp-group",
                           auto_offset_reset="earliest", enable_auto_commit=False,
                           consumer_timeout_ms=10000)
    rest = list(second)
    second.close()
    firsts = {}
    for m in rest:
        firsts.setdefault(m.partition, m.offset)
    check(all(firsts.get(p, committed[p]) == committed[p] for p in committed),
          f"a restarted member resumes at the committed offsets ({firsts} vs {committed})")
    values = {m.value for m in read} | {m.value for m in rest}
    check(len(rest) == 600 and len(values) == 1000,
          f"and reads the other 600, none twice ({len(rest)}, {len(values)} distinct)")


def test_kazoo(zookeeper):
    try:
        from kazoo.client import KazooClient
    except ImportError:
        print("kazoo missing: skipping its check")
        return
    zk = KazooClient(hosts=zookeeper, timeout=10)
    zk.start(timeout=15)
    ids = sorted(zk.get_children("/brokers/ids"))
    controller = json.loads(zk.get("/controller")[0])
    zk.stop()
    zk.close()
    check(ids == ["0", "1", "2"], f"kazoo lists /brokers/ids 0 1 2 on the coordinator ({ids})")
    check(controller["brokerid"] in (0, 1, 2), "and /controller names one of them")


def test_garbage(bootstrap):
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    for payload in (b"\xff\xff\xff\xffnot-a-frame", b"GET / HTTP/1.1\r\n\r\n",
                    b"\x00\x00\x00\x06\x00\x12\x00"):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
    check(metadata(bootstrap) is not None, "garbage frames close their connection; the broker serves on")


def api_versions_answered(sock):
    """Sends ApiVersions v0; True when a response frame comes back."""
    req = b"\x00\x12\x00\x00\x00\x00\x00\x07\x00\x04test"  # key 18 v0, corr 7, client "test"
    try:
        sock.sendall(len(req).to_bytes(4, "big") + req)
        head = sock.recv(4)
        return len(head) == 4
    except OSError:
        return False


def test_connection_limits():
    """max.connections.per.ip: the connection over the limit is closed with one log line."""
    broker = Server([SAMSA, "live", "--brokers", "1", "--base-port", "0", "--coordinator-port", "0",
                     "--data-dir", temp_dir("samsa-live-quota-"), "--set", "max.connections.per.ip=3"],
                    name="samsa live (max.connections.per.ip=3)")
    host, port = broker.bootstrap.rsplit(":", 1)
    # The broker's own controller connection may hold one slot from 127.0.0.1.
    socks = []
    answered = []
    for _ in range(4):
        s = socket.create_connection((host, int(port)), timeout=10)
        socks.append(s)
        answered.append(api_versions_answered(s))
    check(answered[0] and not answered[-1],
          f"max.connections.per.ip=3: the first connections are served, the last is closed ({answered})")
    time.sleep(0.5)
    check("Rejected connection from 127.0.0.1" in broker.log()
          and "(max.connections.per.ip)" in broker.log(),
          "the broker logs the rejected connection with the key's name")
    for s in socks:
        s.close()
    time.sleep(0.5)
    s = socket.create_connection((host, int(port)), timeout=10)
    check(api_versions_answered(s), "closed connections give their slots back")
    s.close()
    rc, _ = broker.stop(signal.SIGTERM)
    check(rc == 0, f"and it stops with exit 0 (got {rc})")


def main():
    cluster = Server([SAMSA, "live", "--brokers", "3", "--base-port", "0", "--coordinator-port", "0",
                      "--data-dir", temp_dir("samsa-live-clients-")], name="samsa live")
    print(cluster.ready_line)
    brokers = cluster.bootstrap.split(",")
    check(len(brokers) == 3 and cluster.zookeeper is not None,
          "one ready line: bootstrap= three brokers, zookeeper= the coordinator")
    test_kcat(cluster.bootstrap, brokers)
    test_confluent(cluster.bootstrap)
    test_kafka_python(cluster.bootstrap)
    test_kazoo(cluster.zookeeper)
    test_garbage(cluster.bootstrap)
    test_connection_limits()
    rc, took = cluster.stop(signal.SIGTERM)
    log = cluster.log()
    check(rc == 0, f"SIGTERM: exit 0 after {took:.1f} s (got {rc})")
    check(log.count("controlled shutdown: leadership moved") >= 2,
          "brokers moved their leadership away before stopping")
    if failures_present():
        print(log[-4000:])
    finish()


def failures_present():
    from samsa_live import failures
    return bool(failures)


if __name__ == "__main__":
    main()
