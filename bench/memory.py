#!/usr/bin/env python3
"""Memory per key and eviction hit ratio of Larder and redis-server, side by side.

Bytes per key: RSS after loading N keys minus RSS before, divided by N, for four data sets
(16-byte names with 32-byte values, the same names with 8-byte values, small hashes, integers). Hit ratio: a Zipf-distributed
read/write cache workload (GET, SET on a miss) with maxmemory at 10% of the data set, under
allkeys-lru and allkeys-lfu. Both servers run in the same invocation; ratios are Larder/Redis.

    bench/memory.py                 # 1M keys
    bench/memory.py --keys 200000   # quicker
"""
import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import ROOT, build_release, free_port, wait_port  # noqa: E402


def start(name, *extra):
    port = free_port()
    work = tempfile.mkdtemp(prefix=f"mem-{name}-")
    if name == "larder":
        argv = [os.path.join(ROOT, ".build", "release", "larder-server"), "--port", str(port), "--dir", work, "--save", ""]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work]
    proc = subprocess.Popen(argv + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, proc)
    return proc, port


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def pipeline(self, commands):
        self.s.sendall(b"".join(encode(*c) for c in commands))
        replies = []
        for _ in commands:
            replies.append(self.read())
        return replies

    def read(self):
        line = self.f.readline()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data
        if line[:1] == b"*":
            return [self.read() for _ in range(int(line[1:]))]
        return line[1:-2]

    def info(self, field):
        text = self.pipeline([(b"INFO", b"memory")])[0].decode()
        for line in text.split("\r\n"):
            if line.startswith(field + ":"):
                return int(line.split(":")[1])
        raise KeyError(field)


def load(client, n, kind):
    batch = []
    for i in range(n):
        if kind == "strings":
            batch.append((b"SET", b"key:%012d" % i, b"v" * 32))
        elif kind == "short":
            batch.append((b"SET", b"key:%012d" % i, b"flag-%03d" % (i % 1000)))
        elif kind == "hashes":
            batch.append((b"HSET", b"h:%012d" % i, b"name", b"value-%d" % i, b"age", b"%d" % (i % 90)))
        else:
            batch.append((b"SET", b"n:%012d" % i, b"%d" % (i * 7919)))
        if len(batch) == 10000:
            client.pipeline(batch)
            batch = []
    if batch:
        client.pipeline(batch)


# strings: 16-byte names, 32-byte values; short: the same names, 8-byte values.
KINDS = ("strings", "short", "hashes", "integers")


def bytes_per_key(n):
    results = {}
    for kind in KINDS:
        for name in ("larder", "redis"):
            proc, port = start(name)
            try:
                c = Client(port)
                time.sleep(0.3)
                before = c.info("used_memory_rss")
                load(c, n, kind)
                time.sleep(0.3)
                after = c.info("used_memory_rss")
                results[(kind, name)] = (after - before) / n
            finally:
                proc.terminate()
                proc.wait(10)
    print(f"\nbytes per key ({n} keys, RSS delta / keys)")
    print(f"{'data set':<12}{'larder':>10}{'redis':>10}{'ratio':>8}")
    for kind in KINDS:
        lb, rb = results[(kind, "larder")], results[(kind, "redis")]
        print(f"{kind:<12}{lb:>10.1f}{rb:>10.1f}{lb / rb:>8.2f}")


def hit_ratio(n, requests):
    value = b"v" * 100
    dataset = n * (len(value) + 60)
    rng = random.Random(42)
    # Zipf (s = 1) over n keys, by inverse transform on the harmonic CDF.
    weights = [1.0 / (i + 1) for i in range(n)]
    keys = rng.choices(range(n), weights=weights, k=requests)
    print(f"\nhit ratio, Zipf over {n} keys, {requests} requests, maxmemory {dataset // 10} bytes")
    print(f"{'policy':<14}{'larder':>10}{'redis':>10}{'ratio':>8}")
    for policy in ("allkeys-lru", "allkeys-lfu"):
        ratios = {}
        for name in ("larder", "redis"):
            proc, port = start(name, "--maxmemory", str(dataset // 10 + 2_000_000), "--maxmemory-policy", policy)
            try:
                c = Client(port)
                hits = 0
                for start_i in range(0, requests, 1000):
                    chunk = keys[start_i:start_i + 1000]
                    replies = c.pipeline([(b"GET", b"k:%d" % k) for k in chunk])
                    misses = [k for k, r in zip(chunk, replies) if r is None]
                    hits += len(chunk) - len(misses)
                    if misses:
                        c.pipeline([(b"SET", b"k:%d" % k, value) for k in misses])
                ratios[name] = hits / requests
            finally:
                proc.terminate()
                proc.wait(10)
        print(f"{policy:<14}{ratios['larder']:>10.3f}{ratios['redis']:>10.3f}{ratios['larder'] / ratios['redis']:>8.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=500_000)
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args()
    if not args.no_build:
        build_release()
    bytes_per_key(args.keys)
    hit_ratio(min(args.keys, 200_000), args.requests)


if __name__ == "__main__":
    main()
