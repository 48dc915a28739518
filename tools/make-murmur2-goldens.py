#!/usr/bin/env python3
"""Writes tests/data/murmur2/keys.txt: Kafka's key hash and default-partitioner
choice for keys of every length 0..64, computed by kafka-python (a port of
Java's Utils.murmur2 and DefaultPartitioner), as an independent reference for
system/protocol/murmur2 and system/client/partitioner.

Run with the system Python, where `import kafka` works (Debian python3-kafka,
installed by tools/setup --peers):  /usr/bin/python3 tools/make-murmur2-goldens.py
"""
import os
import sys

from kafka.partitioner.default import DefaultPartitioner, murmur2

PARTITION_COUNTS = (1, 3, 7, 12, 100)


def keys():
    for n in range(65):
        # Printable keys, and keys with every kind of byte (>= 0x80 too, which
        # Java reads as negative and masks).
        yield bytes(ord("a") + (i * 7 + n) % 26 for i in range(n))
        if n:
            yield bytes((i * 37 + n * 11 + 0x80) & 0xFF for i in range(n))


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "murmur2", "keys.txt")
    with open(out, "w") as f:
        f.write("# key (hex; '-' for the empty key), murmur2 as Java's signed int, then the default\n")
        f.write("# partitioner's partition for %s partitions. Made by tools/make-murmur2-goldens.py\n"
                % ", ".join(map(str, PARTITION_COUNTS)))
        f.write("# with kafka-python %s.\n" % __import__("kafka").__version__)
        for key in keys():
            h = murmur2(key)
            signed = h - (1 << 32) if h >= 1 << 31 else h
            parts = [DefaultPartitioner()(key, list(range(n)), list(range(n))) for n in PARTITION_COUNTS]
            f.write("%s %d %s\n" % (key.hex() or "-", signed, " ".join(map(str, parts))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
