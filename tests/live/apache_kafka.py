"""Apache Kafka 4.x as a peer: one KRaft node (Kafka) or three (KafkaCluster), started from the jars that
tools/setup --peers fetched (tools/peers/README.md). Used by the
differential test and by tools/bench live."""
import glob
import os
import re
import socket
import subprocess
import time

from samsa_live import _children, temp_dir

# The version tools/peers/pom.xml fetches, in the cache tools/setup --peers fills.
_POM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "peers", "pom.xml")
KAFKA_VERSION = re.search(r"<kafka.version>(.*)</kafka.version>", open(_POM).read()).group(1)
KAFKA_LIB = os.path.join(os.environ.get("SAMSA_PEERS_CACHE", os.path.expanduser("~/.cache/samsa-peers")),
                         f"kafka-{KAFKA_VERSION}", "lib")


def kafka_classpath():
    return os.path.join(KAFKA_LIB, "*") if glob.glob(os.path.join(KAFKA_LIB, "kafka_2.13-*.jar")) else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Kafka:
    """One Apache Kafka 4.x node in KRaft combined mode (broker+controller),
    formatted with its StorageTool (`format --standalone`) and started with
    `kafka.Kafka server.properties`, as Kafka's own scripts do."""

    def __init__(self, cp, extra=""):
        self.cp = cp
        d = temp_dir("samsa-bench-kafka-")
        self.port, cport = free_port(), free_port()
        props = os.path.join(d, "server.properties")
        with open(props, "w") as f:
            f.write("process.roles=broker,controller\nnode.id=1\n"
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{cport}\n"
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{cport}\n"
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
                    "controller.listener.names=CONTROLLER\n"
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                    f"log.dirs={d}/data\nnum.partitions=3\noffsets.topic.replication.factor=1\n"
                    "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
                    "group.initial.rebalance.delay.ms=0\n" + extra)
        java = ["java", "-cp", cp]
        cluster_id = subprocess.run(java + ["kafka.tools.StorageTool", "random-uuid"], capture_output=True,
                                    text=True, timeout=120).stdout.strip().splitlines()[-1]
        subprocess.run(java + ["kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
                               "-c", props], capture_output=True, timeout=120, check=True)
        self.log = open(os.path.join(d, "kafka.log"), "w")
        self.proc = subprocess.Popen(["java", "-Xmx1g", "-Xms1g", "-cp", cp, "kafka.Kafka", props],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        _children.append(self.proc)  # killed at exit if still running
        self.bootstrap = f"127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    pass
                r = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-m", "2"], capture_output=True,
                                   text=True)
                if r.returncode == 0 and "1 brokers" in r.stdout:
                    return
            except OSError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError("Apache Kafka did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()




class KafkaCluster:
    """N Apache Kafka 4.x nodes, each a combined broker+controller (KRaft),
    with a static controller quorum (`controller.quorum.voters`, KIP-595)
    and one cluster id: every node is formatted with StorageTool
    `format -t ID -c props` (no --standalone: the voters are static), then
    started with `kafka.Kafka`. Each JVM gets -Xmx512m (3 nodes fit this
    24 GiB machine several times over; the 2 cores are the limit)."""

    def __init__(self, cp, nodes=3, extra="", heap="512m"):
        self.cp = cp
        d = temp_dir("samsa-bench-kafka3-")
        ports = [free_port() for _ in range(nodes)]
        cports = [free_port() for _ in range(nodes)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{cports[i]}" for i in range(nodes))
        java = ["java", "-cp", cp]
        cluster_id = subprocess.run(java + ["kafka.tools.StorageTool", "random-uuid"], capture_output=True,
                                    text=True, timeout=120).stdout.strip().splitlines()[-1]
        self.procs, self.logs = [], []
        for i in range(nodes):
            props = os.path.join(d, f"server{i + 1}.properties")
            with open(props, "w") as f:
                f.write(f"process.roles=broker,controller\nnode.id={i + 1}\n"
                        f"controller.quorum.voters={voters}\n"
                        f"listeners=PLAINTEXT://127.0.0.1:{ports[i]},CONTROLLER://127.0.0.1:{cports[i]}\n"
                        f"advertised.listeners=PLAINTEXT://127.0.0.1:{ports[i]}\n"
                        "controller.listener.names=CONTROLLER\n"
                        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                        f"log.dirs={d}/data{i + 1}\nnum.partitions=3\n"
                        f"default.replication.factor={nodes}\n"
                        f"offsets.topic.replication.factor={nodes}\n"
                        f"transaction.state.log.replication.factor={nodes}\n"
                        "transaction.state.log.min.isr=1\n"
                        "group.initial.rebalance.delay.ms=0\n" + extra)
            r = subprocess.run(java + ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", props],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError(f"StorageTool format: {(r.stdout + r.stderr)[-400:]}")
            log = open(os.path.join(d, f"kafka{i + 1}.log"), "w")
            proc = subprocess.Popen(["java", f"-Xmx{heap}", f"-Xms{heap}", "-cp", cp, "kafka.Kafka", props],
                                    stdout=log, stderr=subprocess.STDOUT)
            _children.append(proc)
            self.procs.append(proc)
            self.logs.append(log)
        self.bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            r = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-m", "2"], capture_output=True, text=True)
            if r.returncode == 0 and f"{nodes} brokers" in r.stdout:
                return
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"Apache Kafka ({nodes} nodes) did not start")

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
