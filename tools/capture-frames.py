#!/usr/bin/python3
"""Captures Kafka protocol frames from real clients, for golden tests.

  capture-frames.py listen OUTDIR -- CLIENT COMMAND...
      Listens on 127.0.0.1 (a free port, substituted for {port} in the client
      command), runs the client, and writes every request frame it sends to
      OUTDIR/<prefix>-<Api>-v<N>-request.bin. It answers ApiVersions and
      Metadata (one topic "t", one partition, led by itself),
      FindCoordinator v0-v2 (itself), JoinGroup v0-v5 (the joiner leads
      generation 1) and SyncGroup v0-v3 (partition 0 of "t") with minimal
      responses built here by hand; other requests are recorded and left
      unanswered. Stops when the client exits or after --seconds.

  capture-frames.py mock OUTDIR -- CLIENT COMMAND...
      Starts librdkafka's mock cluster in this process (confluent-kafka,
      test.mock.num.brokers=1), puts a recording proxy on 127.0.0.1:{port} in
      front of it and runs the client against the proxy: requests and the
      mock's responses are written as ...-request.bin / ...-response.bin.
      The proxy rewrites the mock's port in responses (Metadata,
      FindCoordinator) to its own, so every connection goes through it.

  capture-frames.py kafka-python-schemas OUTDIR [--seed N]
      No client: for every request and response schema that kafka-python
      defines (kafka.protocol.*) within the versions the listener
      advertises, fills the schema with seeded random values and writes the
      frame kafka-python encodes, as kp-<Api>-v<N>-<request|response>.bin.
      An independent implementation of the non-flexible layouts.

Files hold one whole frame each, the 4-byte size prefix included. Only
loopback addresses are used, and every loop is bounded by --seconds.
"""
import argparse
import os
import select
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time

API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
             9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
             13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
             18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics", 22: "InitProducerId",
             24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn", 27: "WriteTxnMarkers",
             28: "TxnOffsetCommit", 32: "DescribeConfigs"}
# What the listener advertises: the client-facing part of samsa's api table.
ADVERTISED = [(0, 3, 9), (1, 4, 13), (2, 0, 7), (3, 0, 12), (8, 0, 8), (9, 0, 8), (10, 0, 4),
              (11, 0, 9), (12, 0, 4), (13, 0, 5), (14, 0, 5), (15, 0, 5), (16, 0, 4), (18, 0, 3),
              (19, 0, 7), (20, 0, 6), (22, 0, 4), (32, 0, 4)]
FLEXIBLE_FROM = {18: 3, 3: 9}


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


class Enc:
    """Kafka primitives, classic or compact (flexible versions)."""

    def __init__(self, flexible):
        self.flexible = flexible

    def string(self, s):
        if s is None:
            return uvarint(0) if self.flexible else struct.pack(">h", -1)
        b = s.encode()
        return (uvarint(len(b) + 1) if self.flexible else struct.pack(">h", len(b))) + b

    def array(self, items):
        n = len(items)
        return (uvarint(n + 1) if self.flexible else struct.pack(">i", n)) + b"".join(items)

    def tags(self):
        return b"\x00" if self.flexible else b""


def api_versions_response(version):
    e = Enc(version >= 3)
    keys = [struct.pack(">hhh", k, lo, hi) + e.tags() for k, lo, hi in ADVERTISED]
    body = struct.pack(">h", 0) + e.array(keys)
    if version >= 1:
        body += struct.pack(">i", 0)
    return body + e.tags()


def metadata_response(version, port):
    e = Enc(version >= 9)
    body = struct.pack(">i", 0) if version >= 3 else b""
    broker = struct.pack(">i", 0) + e.string("127.0.0.1") + struct.pack(">i", port)
    if version >= 1:
        broker += e.string(None)
    body += e.array([broker + e.tags()])
    if version >= 2:
        body += e.string("samsa-capture")
    if version >= 1:
        body += struct.pack(">i", 0)
    part = struct.pack(">hii", 0, 0, 0)
    if version >= 7:
        part += struct.pack(">i", 0)
    part += e.array([struct.pack(">i", 0)]) + e.array([struct.pack(">i", 0)])
    if version >= 5:
        part += e.array([])
    topic = struct.pack(">h", 0) + e.string("t")
    if version >= 10:
        topic += bytes(range(1, 17))
    if version >= 1:
        topic += b"\x00"
    topic += e.array([part + e.tags()])
    if version >= 8:
        topic += struct.pack(">i", -2147483648)
    body += e.array([topic + e.tags()])
    if 8 <= version <= 10:
        body += struct.pack(">i", -2147483648)
    return body + e.tags()


def find_coordinator_response(version, port):
    """Names this listener (node 0) as the coordinator; v0-v2 only."""
    e = Enc(False)
    body = struct.pack(">i", 0) if version >= 1 else b""
    body += struct.pack(">h", 0)
    if version >= 1:
        body += e.string(None)
    return body + struct.pack(">i", 0) + e.string("127.0.0.1") + struct.pack(">i", port)


# A consumer subscription / assignment of topic "t" (ConsumerProtocol v0).
SUBSCRIPTION = struct.pack(">hih", 0, 1, 1) + b"t" + struct.pack(">i", -1)
ASSIGNMENT = struct.pack(">hih", 0, 1, 1) + b"t" + struct.pack(">iii", 1, 0, -1)


def join_group_response(version):
    """Makes the joining member ("m1") leader of generation 1; v0-v5 only."""
    e = Enc(False)
    body = struct.pack(">i", 0) if version >= 2 else b""
    body += struct.pack(">hi", 0, 1) + e.string("range") + e.string("m1") + e.string("m1")
    member = e.string("m1") + (e.string(None) if version >= 5 else b"")
    member += struct.pack(">i", len(SUBSCRIPTION)) + SUBSCRIPTION
    return body + e.array([member])


def sync_group_response(version):
    """Assigns partition 0 of "t"; v0-v3 only."""
    body = struct.pack(">i", 0) if version >= 1 else b""
    return body + struct.pack(">hi", 0, len(ASSIGNMENT)) + ASSIGNMENT


class FrameReader:
    """Splits a byte stream into whole frames (clients pipeline requests)."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def next(self, deadline):
        while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack(">i", self.buf[:4])[0]:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        size = 4 + struct.unpack(">i", self.buf[:4])[0]
        frame, self.buf = self.buf[:size], self.buf[size:]
        return frame


class Recorder:
    def __init__(self, outdir, prefix):
        self.outdir, self.prefix, self.seen = outdir, prefix, {}
        os.makedirs(outdir, exist_ok=True)

    def write(self, key, version, kind, frame):
        name = "%s-%s-v%d-%s" % (self.prefix, API_NAMES.get(key, "Api%d" % key), version, kind)
        n = self.seen.get(name, 0)
        self.seen[name] = n + 1
        path = os.path.join(self.outdir, name + ("" if n == 0 else "-%d" % n) + ".bin")
        with open(path, "wb") as f:
            f.write(frame)
        print("captured", path, len(frame), "bytes", file=sys.stderr)


def header_fields(frame):
    key, version, correlation_id = struct.unpack(">hhi", frame[4:12])
    return key, version, correlation_id


def serve_listen(conn, rec, port, deadline):
    frames = FrameReader(conn)
    with conn:
        while time.time() < deadline:
            frame = frames.next(deadline)
            if frame is None:
                return
            key, version, correlation_id = header_fields(frame)
            rec.write(key, version, "request", frame)
            if key == 18:
                body = api_versions_response(min(version, 3))
                hdr = struct.pack(">i", correlation_id)  # ApiVersions: header v0 always
            elif key == 3:
                body = metadata_response(version, port)
                hdr = struct.pack(">i", correlation_id) + (b"\x00" if version >= 9 else b"")
            elif key == 10 and version <= 2:
                body = find_coordinator_response(version, port)
                hdr = struct.pack(">i", correlation_id)
            elif key == 11 and version <= 5:
                body = join_group_response(version)
                hdr = struct.pack(">i", correlation_id)
            elif key == 14 and version <= 3:
                body = sync_group_response(version)
                hdr = struct.pack(">i", correlation_id)
            else:
                continue
            payload = hdr + body
            conn.sendall(struct.pack(">i", len(payload)) + payload)


def advertised_as(frame, from_port, to_port):
    """Rewrites the broker address 127.0.0.1:from_port in a response to
    to_port (classic and compact host strings), so that clients keep talking
    through the proxy. Same length: the frame stays valid."""
    for host in (b"\x00\x09127.0.0.1", b"\x0a127.0.0.1"):
        frame = frame.replace(host + struct.pack(">i", from_port), host + struct.pack(">i", to_port))
    return frame


def proxy_conn(client, upstream_port, proxy_port, rec, deadline):
    with client, socket.create_connection(("127.0.0.1", upstream_port)) as up:
        pending = {}
        bufs = {client: b"", up: b""}
        while time.time() < deadline:
            ready = select.select([client, up], [], [], max(0.0, deadline - time.time()))[0]
            if not ready:
                return
            for s in ready:
                chunk = s.recv(65536)
                if not chunk:
                    return
                bufs[s] += chunk
                while len(bufs[s]) >= 4 and len(bufs[s]) >= 4 + struct.unpack(">i", bufs[s][:4])[0]:
                    size = 4 + struct.unpack(">i", bufs[s][:4])[0]
                    frame, bufs[s] = bufs[s][:size], bufs[s][size:]
                    if s is client:
                        key, version, correlation_id = header_fields(frame)
                        pending[correlation_id] = (key, version)
                        rec.write(key, version, "request", frame)
                        up.sendall(frame)
                    else:
                        frame = advertised_as(frame, upstream_port, proxy_port)
                        correlation_id = struct.unpack(">i", frame[4:8])[0]
                        key, version = pending.pop(correlation_id, (-1, -1))
                        rec.write(key, version, "response", frame)
                        client.sendall(frame)


def start_mock():
    """Starts librdkafka's mock cluster in-process; returns (handle, port)."""
    import confluent_kafka
    found = []

    class Logger:
        def log(self, level, msg, *args):
            text = msg % args if args else msg
            if "Mock cluster enabled" in text or "replaced with" in text:
                found.append(text)

        def __getattr__(self, name):
            return lambda *a, **k: self.log(0, *a)

    import logging
    logger = logging.getLogger("mock")
    handler_records = []

    class Capture(logging.Handler):
        def emit(self, record):
            handler_records.append(record.getMessage())

    logger.addHandler(Capture())
    logger.setLevel(logging.DEBUG)
    producer = confluent_kafka.Producer({"bootstrap.servers": "127.0.0.1:1",
                                         "test.mock.num.brokers": 1}, logger=logger)
    for _ in range(50):
        producer.poll(0.1)
        for text in handler_records:
            if "replaced with" in text:
                port = int(text.rsplit(":", 1)[1].split()[0].strip(",)"))
                return producer, port
    raise SystemExit("mock cluster did not report its port: %r" % handler_records[:5])


def random_value(kind, rnd):
    import kafka.protocol.types as t
    if isinstance(kind, t.Schema):
        return tuple(random_value(f, rnd) for f in kind.fields)
    if isinstance(kind, t.Array):
        return [random_value(kind.array_of, rnd) for _ in range(rnd.randint(0, 3))]
    if isinstance(kind, t.String) or kind is t.String:
        return "".join(rnd.choice("abcxyz-._0123") for _ in range(rnd.randint(0, 8)))
    if kind is t.Bytes:
        return bytes(rnd.randint(0, 255) for _ in range(rnd.randint(0, 12)))
    if kind is t.Boolean:
        return rnd.random() < 0.5
    bits = {t.Int8: 8, t.Int16: 16, t.Int32: 32, t.Int64: 64}[kind]
    return rnd.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def kafka_python_schemas(outdir, seed):
    import importlib
    import pkgutil
    import random
    import kafka.protocol as kp
    from kafka.protocol.api import Request, Response
    rnd = random.Random(seed)
    rec = Recorder(outdir, "kp")
    ranges = {k: (lo, hi) for k, lo, hi in ADVERTISED}
    classes = []
    for m in pkgutil.iter_modules(kp.__path__):
        mod = importlib.import_module("kafka.protocol." + m.name)
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, (Request, Response)) and isinstance(
                    getattr(obj, "API_KEY", None), int) and obj.__module__ == mod.__name__:
                classes.append(obj)
    for cls in sorted(set(classes), key=lambda c: (c.API_KEY, c.API_VERSION, c.__name__)):
        lo, hi = ranges.get(cls.API_KEY, (1, 0))
        if not lo <= cls.API_VERSION <= hi:
            continue
        try:
            body = cls.SCHEMA.encode(random_value(cls.SCHEMA, rnd))
        except Exception as e:  # a schema kafka-python itself cannot encode
            print("skipped", cls.__name__, type(e).__name__, e, file=sys.stderr)
            continue
        if issubclass(cls, Request):
            client = b"kp"
            head = struct.pack(">hhih", cls.API_KEY, cls.API_VERSION, 7, len(client)) + client
            kind = "request"
        else:
            head = struct.pack(">i", 7)
            kind = "response"
        payload = head + body
        rec.write(cls.API_KEY, cls.API_VERSION, kind, struct.pack(">i", len(payload)) + payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["listen", "mock", "kafka-python-schemas"])
    ap.add_argument("outdir")
    ap.add_argument("--prefix", default="client")
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--seed", type=int, default=1)
    argv = sys.argv[1:]
    if argv[:1] == ["kafka-python-schemas"]:
        args = ap.parse_args(argv)
        return kafka_python_schemas(args.outdir, args.seed)
    if "--" not in argv:
        ap.error("give the client command after --")
    split = argv.index("--")
    args = ap.parse_args(argv[:split])
    client = argv[split + 1:]
    deadline = time.time() + args.seconds
    rec = Recorder(args.outdir, args.prefix)
    mock = None
    if args.mode == "mock":
        mock, upstream = start_mock()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    port = lsock.getsockname()[1]
    cmd = [a.replace("{port}", str(port)) for a in client]
    print("running", shlex.join(cmd), file=sys.stderr)
    proc = subprocess.Popen(cmd)
    threads = []
    while time.time() < deadline and proc.poll() is None:
        if not select.select([lsock], [], [], 0.2)[0]:
            continue
        conn, _ = lsock.accept()
        if args.mode == "listen":
            t = threading.Thread(target=serve_listen, args=(conn, rec, port, deadline), daemon=True)
        else:
            t = threading.Thread(target=proxy_conn, args=(conn, upstream, port, rec, deadline), daemon=True)
        t.start()
        threads.append(t)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    lsock.close()
    for t in threads:
        t.join(timeout=1)
    del mock


if __name__ == "__main__":
    main()
