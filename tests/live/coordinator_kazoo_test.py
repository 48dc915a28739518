#!/usr/bin/env python3
"""kazoo (a real ZooKeeper client) against `samsa live coordinator`.

create / get / set / children / ephemeral / sequential / data and child
watches / /brokers/ids listing, garbage frames that must not take the
server down, durability across a restart on the same dataDir, SIGTERM ->
exit 0, and bad config values -> exit 2 naming FILE:LINE.

Usage: coordinator_kazoo_test.py SAMSA_BINARY   (exit 77: kazoo missing, skipped)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

try:
    from kazoo.client import KazooClient
    from kazoo.exceptions import NoNodeError, NodeExistsError
    from kazoo.protocol.states import EventType
except ImportError:
    print("kazoo is not installed (tools/setup --peers): skipped")
    sys.exit(77)

SAMSA = sys.argv[1]
failures = []


def check(cond, what):
    if cond:
        print("ok   ", what)
    else:
        print("FAIL ", what)
        failures.append(what)


def write_cfg(path, data_dir, extra=""):
    with open(path, "w") as f:
        f.write("# written by coordinator_kazoo_test.py\n"
                "tickTime=500\n"
                f"dataDir={data_dir}\n"
                "clientPort=0\n"
                "clientPortAddress=127.0.0.1\n"
                "maxSessionTimeout=10000\n" + extra)


class Coordinator:
    """`samsa live coordinator` (or `samsa live ARGS`) as a child process;
    the address comes from its ready line, the data dir from its data-dir line."""

    def __init__(self, cfg, args=None):
        argv = [SAMSA, "live"] + (args if args is not None else
                                  ["coordinator", "--config", cfg, "--log-level", "warn"])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.address = None
        self.data_dir = None
        # Blocking reads (select() would miss lines already in Python's
        # buffer); a watchdog kills a server that never gets ready.
        watchdog = threading.Timer(30, self.proc.kill)
        watchdog.start()
        for line in self.proc.stdout:
            if line.startswith("data-dir "):
                self.data_dir = line.split(" ", 1)[1].strip()
            if line.startswith("ready "):
                self.ready_line = line.strip()
                self.address = line.split("zookeeper=")[1].strip()
                break
        watchdog.cancel()
        if self.address is None:
            self.proc.kill()
            raise SystemExit(f"coordinator did not print ready (exit {self.proc.wait()}): "
                             + self.proc.stderr.read())

    def port(self):
        return int(self.address.rsplit(":", 1)[1])

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def client(address):
    zk = KazooClient(hosts=address, timeout=10)
    zk.start(timeout=15)
    return zk


def garbage(port, payload):
    """Sends bytes that are no ZooKeeper frame; returns what came back before close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(payload)
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return got


def main():
    tmp = tempfile.mkdtemp(prefix="samsa-live-kazoo-")
    cfg = os.path.join(tmp, "zoo.cfg")
    write_cfg(cfg, os.path.join(tmp, "data"))
    coord = Coordinator(cfg)
    print("coordinator at", coord.address)

    zk = client(coord.address)
    check(zk.create("/a", b"x") == "/a", "create /a")
    data, stat = zk.get("/a")
    check(data == b"x" and stat.version == 0, "get /a returns its data, version 0")
    stat = zk.set("/a", b"y")
    check(stat.version == 1, "set /a bumps the version")
    check(zk.get("/a")[0] == b"y", "get after set")
    try:
        zk.create("/a", b"z")
        check(False, "a second create of /a fails")
    except NodeExistsError:
        check(True, "a second create of /a fails with NodeExists")
    seq = zk.create("/seq-", b"", sequence=True)
    check(seq.startswith("/seq-") and len(seq) == 15 and seq[5:].isdigit(),
          "sequential create appends a 10-digit counter")
    zk.create("/persist", b"kept")

    # Kafka's broker registration: ephemeral znodes under /brokers/ids.
    zk.ensure_path("/brokers/ids")
    for b in range(3):
        info = {"version": 5, "host": "127.0.0.1", "port": 9092 + b, "jmx_port": -1,
                "endpoints": [f"PLAINTEXT://127.0.0.1:{9092 + b}"], "timestamp": "0"}
        zk.create(f"/brokers/ids/{b}", json.dumps(info).encode(), ephemeral=True)
    check(sorted(zk.get_children("/brokers/ids")) == ["0", "1", "2"], "/brokers/ids lists 0 1 2")
    reg = json.loads(zk.get("/brokers/ids/1")[0])
    check(reg["port"] == 9093, "a broker's registration reads back")

    # Watches: a child watch fires when another session registers; a data
    # watch fires on set.
    child_events, data_events = [], []
    fired = threading.Event()

    def on_children(event):
        child_events.append(event)
        fired.set()

    zk.get_children("/brokers/ids", watch=on_children)
    other = client(coord.address)
    other.create("/brokers/ids/3", b"{}", ephemeral=True)
    check(fired.wait(10) and child_events[0].type == EventType.CHILD,
          "a child watch fires when another session registers")
    data_fired = threading.Event()
    zk.get("/a", watch=lambda e: (data_events.append(e), data_fired.set()))
    other.set("/a", b"from-other")
    check(data_fired.wait(10) and data_events[0].type == EventType.CHANGED,
          "a data watch fires on another session's set")
    check(sorted(zk.get_children("/brokers/ids")) == ["0", "1", "2", "3"], "four brokers listed")

    # Garbage on the wire closes that connection only.
    g1 = garbage(coord.port(), b"\xff\xff\xff\xffnot-a-frame")
    g2 = garbage(coord.port(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    g3 = garbage(coord.port(), b"\x00\x00\x00\x08junkjunk")  # a frame, but no handshake
    check(g1 == b"" and g2 == b"" and g3 == b"", "garbage connections are closed without a reply")
    check(zk.get("/a")[0] == b"from-other", "the server still serves after garbage")

    # Ending a session removes its ephemerals.
    other.stop()
    other.close()
    check(zk.exists("/brokers/ids/3") is None, "a closed session's ephemeral is gone")
    zk.delete(seq)
    try:
        zk.get(seq)
        check(False, "get of a deleted node fails")
    except NoNodeError:
        check(True, "get of a deleted node fails with NoNode")
    zk.stop()
    zk.close()

    rc = coord.stop(signal.SIGTERM)
    check(rc == 0, f"SIGTERM: controlled shutdown, exit 0 (got {rc})")

    # The same dataDir again: what was acknowledged is still there.
    coord = Coordinator(cfg)
    zk = client(coord.address)
    check(zk.get("/persist")[0] == b"kept", "a znode survives a restart on the same dataDir")
    check(zk.get("/a")[0] == b"from-other", "the last set survives a restart")
    check(zk.exists("/brokers/ids/3") is None, "a closed session's ephemeral stays gone")
    zk.stop()
    zk.close()
    # A second server on a port in use exits 2 and says why.
    busy = os.path.join(tmp, "busy.cfg")
    write_cfg(busy, os.path.join(tmp, "data2"))
    with open(busy) as f:
        text = f.read().replace("clientPort=0", f"clientPort={coord.port()}")
    with open(busy, "w") as f:
        f.write(text)
    p = subprocess.run([SAMSA, "live", "coordinator", "--config", busy],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and "address in use" in p.stderr,
          f"a port in use exits 2 (got {p.returncode})")
    rc = coord.stop(signal.SIGINT)
    check(rc == 0, f"SIGINT: controlled shutdown, exit 0 (got {rc})")

    # Bad values name FILE:LINE and exit 2; unknown keys warn.
    bad = os.path.join(tmp, "bad.cfg")
    write_cfg(bad, os.path.join(tmp, "data"), "tickTime=soon\n")
    p = subprocess.run([SAMSA, "live", "coordinator", "--config", bad],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and f"{bad}:7:" in p.stderr and "tickTime" in p.stderr,
          "a bad tickTime exits 2 naming FILE:LINE")
    write_cfg(bad, os.path.join(tmp, "data"), "minSessionTimeout=20000\n")
    p = subprocess.run([SAMSA, "live", "coordinator", "--config", bad],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and "maxSessionTimeout" in p.stderr,
          "minSessionTimeout over maxSessionTimeout exits 2")
    write_cfg(bad, os.path.join(tmp, "data"), "colour=blue\n")
    weird = Coordinator(bad)
    rc = weird.stop()
    err = weird.proc.stderr.read()
    check(rc == 0 and f"{bad}:7: unknown key 'colour'" in err,
          "an unknown key warns with FILE:LINE and the server runs")

    # The embedded default: a fresh temp data dir (printed), the coordinator
    # on the given port, one ready line naming what runs.
    live = Coordinator(None, ["--coordinator-port", "0", "--brokers", "0", "--log-level", "warn"])
    check(live.data_dir is not None and os.path.isdir(live.data_dir),
          "samsa live prints its fresh data dir")
    check(live.ready_line == "ready zookeeper=" + live.address,
          "samsa live prints one ready line naming the coordinator")
    zk = client(live.address)
    zk.ensure_path("/brokers/ids")
    check(zk.get_children("/brokers/ids") == [], "/brokers/ids is empty before brokers exist")
    zk.stop()
    zk.close()
    check(live.stop() == 0, "samsa live: SIGTERM exits 0")
    check(os.path.isdir(os.path.join(live.data_dir, "coordinator")),
          "the coordinator keeps its files under DATA_DIR/coordinator")
    subprocess.run(["rm", "-rf", live.data_dir])

    subprocess.run(["rm", "-rf", tmp])
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
