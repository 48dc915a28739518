#!/usr/bin/env python3
"""A frame fuzzer over TCP against `samsa live` (3 brokers): the decode
corpus (tools/fuzzers/corpus/decode: real clients' frames, each behind one
selector byte) and mutations of it (bit flips, interesting bytes, truncation,
junk appended, a wrong size prefix: too small, too large, negative, over
socket.request.max.bytes; two frames spliced; several frames pipelined on
one connection) sent for SECONDS by a few threads to every broker.
Afterwards every broker is still up and serving: the process is alive,
each broker answers a real ApiVersions request, and `samsa live workload`
(tests/live/data/crash.toml, acks=all) produces and reads back records
judged ok by `samsa check`. The brokers log one line per connection they
closed: at least one line for each close the fuzzer saw coming from a
broker, and no more than the connections it opened.

Usage: tcp_fuzz_test.py SAMSA_BINARY [--seconds N] [--seed S]
"""
import argparse
import json
import os
import random
import re
import select
import signal
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from samsa_live import Server, check, failures, finish, run, temp_dir  # noqa: E402

CORPUS = os.path.join(ROOT, "tools", "fuzzers", "corpus", "decode")
INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE]
MAX_REQUEST = 1 << 20  # socket.request.max.bytes for this test's brokers


def load_corpus():
    frames = []
    for name in sorted(os.listdir(CORPUS)):
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()[1:]  # the selector byte is the libFuzzer target's
        if len(data) >= 4:
            frames.append(data)
    return frames


def with_size(body):
    return struct.pack(">i", len(body)) + body


def mutate(rng, frames):
    frame = bytearray(rng.choice(frames))
    body = frame[4:]
    kind = rng.randrange(9)
    if kind == 0 and body:  # bit flips in the body
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(body))
            body[i] ^= 1 << rng.randrange(8)
        return with_size(bytes(body)), kind
    if kind == 1 and body:  # interesting bytes (lengths, counts, varints)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(body))
            body[i] = rng.choice(INTERESTING)
        return with_size(bytes(body)), kind
    if kind == 2:  # truncated body, honest prefix
        return with_size(bytes(body[:rng.randrange(len(body) + 1)])), kind
    if kind == 3:  # junk appended, honest prefix
        return with_size(bytes(body) + os.urandom(rng.randint(1, 64))), kind
    if kind == 4:  # a prefix that says less than what follows
        return struct.pack(">i", rng.randrange(max(1, len(body)))) + bytes(body), kind
    if kind == 5:  # negative or over socket.request.max.bytes
        return struct.pack(">i", rng.choice([-1, -(1 << 31), MAX_REQUEST + 1, (1 << 31) - 1])) + bytes(body), kind
    if kind == 6:  # a header field replaced: api key, version, correlation id, client id length
        if len(body) >= 10:
            off = rng.choice([0, 2, 4, 8])
            width = 2 if off != 4 else 4
            body[off:off + width] = os.urandom(width)
        return with_size(bytes(body)), kind
    if kind == 7:  # two frames spliced
        other = rng.choice(frames)[4:]
        cut = rng.randrange(len(body) + 1)
        return with_size(bytes(body[:cut]) + other[rng.randrange(len(other) + 1):]), kind
    return bytes(frame), kind  # the frame as a client sent it


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.connections = 0
        self.server_closes = 0
        self.responses = 0

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


def read_for(sock, seconds):
    """Reads until the broker closes or `seconds` pass; True when it closed."""
    deadline = time.monotonic() + seconds
    got = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, got
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return False, got
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, OSError):
            return True, got
        if not data:
            return True, got
        got += len(data)


def fuzz_thread(addresses, frames, seed, until, stats):
    rng = random.Random(seed)
    while time.monotonic() < until:
        host, port = rng.choice(addresses)
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            time.sleep(0.05)
            continue
        stats.add(connections=1)
        closed = False
        try:
            for _ in range(rng.randint(1, 4)):  # pipelined frames on one connection
                frame, _ = mutate(rng, frames)
                sock.sendall(frame)
                stats.add(sent=1)
                closed, got = read_for(sock, 0.05)
                if got:
                    stats.add(responses=1)
                if closed:
                    break
        except OSError:
            closed = True  # reset while sending: the broker closed it
        if closed:
            stats.add(server_closes=1)
        sock.close()


def api_versions_ok(host, port, frames):
    """A real ApiVersions request (kcat's, from the corpus) gets an answer
    with its correlation id."""
    frame = next(f for f in frames if struct.unpack(">h", f[4:6])[0] == 18)
    corr = struct.unpack(">i", frame[8:12])[0]
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(frame)
            s.settimeout(10)
            head = b""
            while len(head) < 8:
                chunk = s.recv(8 - len(head))
                if not chunk:
                    return False
                head += chunk
            return struct.unpack(">i", head[4:8])[0] == corr
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samsa")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    print(f"seed {args.seed} (--seed replays the frames sent)")
    frames = load_corpus()
    check(len(frames) >= 20, f"the decode corpus has {len(frames)} frames")
    cluster = Server([args.samsa, "live", "--brokers", "3", "--base-port", "0", "--coordinator-port", "0",
                      "--data-dir", temp_dir("samsa-live-fuzz-"), "--log-level", "warn",
                      "--set", f"socket.request.max.bytes={MAX_REQUEST}", "--set", "min.insync.replicas=2",
                      "--set", "log.flush.interval.messages=1"], name="samsa live")
    addresses = [(h, int(p)) for h, p in (a.rsplit(":", 1) for a in cluster.bootstrap.split(","))]
    stats = Stats()
    until = time.monotonic() + args.seconds
    threads = [threading.Thread(target=fuzz_thread, args=(addresses, frames, args.seed * 100 + i, until, stats))
               for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{stats.sent} frames on {stats.connections} connections in {args.seconds:.0f} s; "
          f"{stats.responses} answered, {stats.server_closes} closed by a broker")
    check(stats.sent > 0 and stats.server_closes > 0, "the fuzzer sent frames and brokers closed bad ones")
    check(cluster.alive(), "the samsa live process is alive")
    for host, port in addresses:
        check(api_versions_ok(host, port, frames), f"broker {host}:{port} answers ApiVersions after the fuzz")
    time.sleep(0.5)  # the last close lines reach the log
    log = cluster.log()
    lines = len(re.findall(r"closing connection \d+ from", log))
    check(stats.server_closes <= lines <= stats.connections,
          f"one log line per closed connection ({lines} lines; {stats.server_closes} closes seen, "
          f"{stats.connections} connections)")
    check("internal error" not in log and "assert" not in log.lower(), "no internal error in the log")

    tmp = temp_dir("samsa-live-fuzz-h-")
    history = os.path.join(tmp, "after-fuzz.jsonl")
    rc, out, err = run([args.samsa, "live", "workload", "--bootstrap", cluster.bootstrap,
                        "--scenario", os.path.join(HERE, "data", "crash.toml"), "--history", history,
                        "--duration-ms", "2000"], timeout=180)
    print(out.strip())
    check(rc == 0, f"produce and fetch work after the fuzz (exit {rc}: {err.strip()[-200:]})")
    rc, stdout, _ = run([args.samsa, "check", history, "--json"], timeout=120)
    report = json.loads(stdout) if stdout.strip() else {}
    d = report.get("delivery", {})
    check(rc == 0 and d.get("acked", 0) > 0 and d.get("lost", 1) == 0,
          f"samsa check passes the run after the fuzz ({d.get('acked')} acked, {d.get('lost')} lost)")
    rc, _ = cluster.stop(signal.SIGTERM)
    check(rc == 0, f"the cluster stops on SIGTERM (exit {rc})")
    if failures:
        print("--- samsa live log (tail)\n" + cluster.log()[-3000:])
    finish()


if __name__ == "__main__":
    main()
