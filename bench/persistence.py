#!/usr/bin/env python3
"""Persistence side by side with redis-server, in one run.

1. SET throughput (redis-benchmark -t set, 50 clients) with the AOF under each appendfsync
   policy (always, everysec, no), Larder and redis-server configured the same way, alternating.
2. The pause a client sees while BGSAVE snapshots N keys (default 1M): the longest PING round
   trip during the save, for each server (Redis forks; Larder copies its shards' tables).

Prints the table with ratios Larder/Redis and writes it as CSV under bench/results/.

    bench/persistence.py                  # 100k SETs per policy, 1M keys for BGSAVE
    bench/persistence.py --requests 20000 --keys 200000 --no-build
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import ROOT, build_release, free_port, wait_port, write_csv  # noqa: E402


def start(name, *flags):
    port = free_port()
    work = tempfile.mkdtemp(prefix=f"bench-persist-{name}-")
    if name == "larder":
        argv = [os.path.join(ROOT, ".build", "release", "larder-server"), "--port", str(port), "--dir", work]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", work]
    proc = subprocess.Popen(argv + list(flags), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, proc)
    return proc, port


def stop(proc):
    proc.terminate()
    proc.wait()


def set_throughput(port, requests):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests), "-c", "50",
                          "-r", "100000", "-q", "--csv"], capture_output=True, text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith('"SET"'):
            return float(line.split(",")[1].strip('"'))
    sys.exit(f"redis-benchmark failed: {out.stdout} {out.stderr}")


def bgsave_pause(port, keys):
    r = redis.Redis(port=port)
    r.flushall()
    batch = 10000
    for start in range(0, keys, batch):
        r.mset({f"key:{i}": f"value-{i:024d}" for i in range(start, min(keys, start + batch))})
    worst = 0.0
    done = threading.Event()

    def pinger():
        nonlocal worst
        c = redis.Redis(port=port)
        while not done.is_set():
            t = time.perf_counter()
            c.ping()
            worst = max(worst, time.perf_counter() - t)

    t = threading.Thread(target=pinger)
    t.start()
    time.sleep(0.5)
    baseline = worst
    r.bgsave()
    while True:
        time.sleep(0.05)
        info = r.info("persistence")
        if info["rdb_bgsave_in_progress"] == 0 and info["rdb_last_bgsave_status"] == "ok":
            break
    time.sleep(0.2)
    done.set()
    t.join()
    return baseline * 1000, worst * 1000


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=100000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--keys", type=int, default=1000000)
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args()
    if not args.no_build:
        build_release()
    rows = []
    for policy in ["always", "everysec", "no"]:
        flags = ("--appendonly", "yes", "--appendfsync", policy, "--save", "")
        servers = {name: start(name, *flags) for name in ("larder", "redis")}
        results = {"larder": [], "redis": []}
        for r in range(args.rounds):
            for name in (["larder", "redis"] if r % 2 == 0 else ["redis", "larder"]):
                results[name].append(set_throughput(servers[name][1], args.requests))
        for proc, _ in servers.values():
            stop(proc)
        l, rd = statistics.median(results["larder"]), statistics.median(results["redis"])
        rows.append({"measure": f"SET req/s, appendfsync {policy}", "larder": round(l), "redis": round(rd),
                     "ratio": round(l / rd, 2)})
        print(f"{rows[-1]['measure']:<34} larder {l:>10.0f}   redis {rd:>10.0f}   ratio {l / rd:.2f}", flush=True)
    pauses = {}
    for name in ("larder", "redis"):
        proc, port = start(name, "--save", "")
        pauses[name] = bgsave_pause(port, args.keys)
        stop(proc)
    for i, label in enumerate(["PING ms before BGSAVE (worst)", f"PING ms during BGSAVE of {args.keys} keys"]):
        l, rd = pauses["larder"][i], pauses["redis"][i]
        rows.append({"measure": label, "larder": round(l, 2), "redis": round(rd, 2), "ratio": round(l / rd, 2) if rd else 0})
        print(f"{label:<34} larder {l:>10.2f}   redis {rd:>10.2f}   ratio {rows[-1]['ratio']}", flush=True)
    write_csv("persistence", rows)

if __name__ == "__main__":
    main()
