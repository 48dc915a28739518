"""Helpers for the live tests: `samsa live` servers as child processes.

A server's addresses come from its `ready ...` line, its data dir from its
`data-dir` line. Every process started here is stopped by its pid when the
test ends (atexit), and every temp dir is removed.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

_children = []
_dirs = []
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def finish():
    if failures:
        print(f"{len(failures)} failed:", *failures, sep="\n  ")
        sys.exit(1)
    print("all passed")
    sys.exit(0)


def temp_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    _dirs.append(d)
    return d


@atexit.register
def _cleanup():
    for p in _children:
        if p.poll() is None:
            p.kill()
            p.wait()
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `samsa live ...` child process; waits for its ready line."""

    def __init__(self, argv, timeout=60, name="samsa live"):
        self.name = name
        self.argv = argv
        self.stderr_path = os.path.join(temp_dir("samsa-live-log-"), "stderr")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        _children.append(self.proc)
        self.ready_line = None
        self.data_dir = None
        self.lines = []  # every stdout line (the nemesis prints its plan and faults there)
        self.line_times = []  # time.monotonic_ns() when each line was read
        # Blocking reads; a watchdog kills a server that never gets ready.
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        for line in self.proc.stdout:
            self.line_times.append(time.monotonic_ns())
            self.lines.append(line.rstrip("\n"))
            if line.startswith("data-dir "):
                self.data_dir = line.split(" ", 1)[1].strip()
            if line.startswith("ready "):
                self.ready_line = line.strip()
                break
        watchdog.cancel()
        if self.ready_line is None:
            self.proc.kill()
            self.proc.wait()
            raise SystemExit(f"{name} did not print ready (exit {self.proc.returncode}):\n"
                             + self.log())
        # Keep draining stdout so the child never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        fields = dict(f.split("=", 1) for f in self.ready_line.split()[1:])
        self.bootstrap = fields.get("bootstrap")
        self.zookeeper = fields.get("zookeeper")

    def _drain(self):
        for line in self.proc.stdout:
            self.line_times.append(time.monotonic_ns())
            self.lines.append(line.rstrip("\n"))

    def log(self):
        self.stderr.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends `sig`; returns (exit code, seconds) or (None, timeout) after a kill."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, timeout
        return rc, time.monotonic() - t0

    def kill9(self):
        self.proc.kill()
        self.proc.wait()


def run(argv, timeout=30):
    """Runs a command to its end; returns (exit code, stdout, stderr)."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def have(program):
    return shutil.which(program) is not None
