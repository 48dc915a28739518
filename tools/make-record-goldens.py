#!/usr/bin/python3
"""Writes golden Kafka record batches (v2) made by kafka-python into
tests/data/records/, for tests/system/protocol/record_batch_test.cpp.

Uses Debian's python3-kafka 2.0.2 (kafka.record.default_records), run with
the system interpreter: /usr/bin/python3 tools/make-record-goldens.py
Only gzip works there: python3-kafka's snappy, lz4 and zstd codecs need
python modules Debian 12 does not install with it. Timestamps are fixed, so
the uncompressed batch is the same on every run; the gzip header carries the
time it was written, so the gzip file (and its CRC) changes when remade. The
tests assert decoded fields, and byte equality only for the uncompressed one.
"""
import os
import sys

from kafka.record.default_records import DefaultRecordBatchBuilder

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "records")

# (offset delta, timestamp, key, value, headers); values repeat so that gzip
# really compresses (kafka-python sends uncompressed when it does not help).
RECORDS = [
    (0, 1700000000000, b"key-0", b"value-0 " * 8, [("trace", b"abc"), ("empty", None)]),
    (1, 1700000000005, None, b"value-1 " * 8, []),
    (2, 1699999999990, b"key-2", None, [("h", b"")]),
]


def build(codec, transactional, producer_id, producer_epoch, base_sequence):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec,
                                  is_transactional=transactional, producer_id=producer_id,
                                  producer_epoch=producer_epoch, base_sequence=base_sequence,
                                  batch_size=1 << 20)
    for offset, ts, key, value, headers in RECORDS:
        assert b.append(offset, ts, key, value, headers) is not None
    return bytes(b.build())


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        "kafka_python_none.bin": build(0, False, -1, -1, -1),
        "kafka_python_gzip.bin": build(1, True, 1000, 5, 42),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
