#!/usr/bin/env python3
"""Replication side by side: a Larder replica of a Larder primary against a redis-server
replica of a redis-server primary, in one run.

1. Full sync of N keys (default 1M): from the replica's start until its link is up and its
   offset equals the primary's; the peak RSS each process reached above its own before the
   sync (sampled every 20 ms).
   Then each one's RSS once the sync is over, the data set alone.
2. The stream under load: redis-benchmark SET (-c 50 -P 16) against the primary while the
   replica follows; the primary's SET throughput, the replica's largest and mean lag in bytes
   (primary master_repl_offset - replica slave_repl_offset, sampled every 20 ms), and how long
   the replica took to catch up once the load ended.

Redis runs with repl-diskless-sync-delay 0 (its 5 s wait for more replicas would be counted
as sync time). Prints the table with ratios Larder/Redis and writes it as CSV.

    bench/replication.py                          # 1M keys, 1M SETs
    bench/replication.py --keys 200000 --requests 300000 --no-build
"""
import argparse
import os
import subprocess
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import build_release, start_server, write_csv  # noqa: E402


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def caught_up(primary, replica):
    pi, ri = primary.info("replication"), replica.info("replication")
    return ri.get("master_link_status") == "up" and ri["slave_repl_offset"] == pi["master_repl_offset"]


def fill(port, keys):
    r = redis.Redis(port=port)
    batch = 10000
    for start in range(0, keys, batch):
        r.mset({f"key:{i}": f"value-{i:024d}" for i in range(start, min(keys, start + batch))})


def start_pair(name):
    extra = ("--repl-diskless-sync-delay", "0") if name == "redis" else ()
    p_proc, p_port = start_server(name, extra=extra)
    return p_proc, p_port, extra


def full_sync(name, keys):
    p_proc, p_port, extra = start_pair(name)
    fill(p_port, keys)
    primary = redis.Redis(port=p_port)
    base_p = rss(p_proc.pid)
    start = time.perf_counter()
    r_proc, r_port = start_server(name, extra=extra + ("--replicaof", "127.0.0.1", str(p_port)))
    base_r = rss(r_proc.pid)
    replica = redis.Redis(port=r_port)
    peak_p, peak_r = base_p, base_r
    while not caught_up(primary, replica):
        peak_p, peak_r = max(peak_p, rss(p_proc.pid)), max(peak_r, rss(r_proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    assert replica.dbsize() == keys
    time.sleep(1)
    return (p_proc, p_port, r_proc, r_port), {"sync_s": seconds, "primary_extra_mb": (peak_p - base_p) / 2**20,
                                              "replica_peak_mb": peak_r / 2**20,
                                              "replica_after_mb": rss(r_proc.pid) / 2**20,
                                              "primary_mb": rss(p_proc.pid) / 2**20}


def stream_under_load(servers, requests):
    p_proc, p_port, r_proc, r_port = servers
    primary, replica = redis.Redis(port=p_port), redis.Redis(port=r_port)
    lags = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            lags.append(primary.info("replication")["master_repl_offset"] - replica.info("replication")["slave_repl_offset"])
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    out = subprocess.run(["redis-benchmark", "-p", str(p_port), "-t", "set", "-n", str(requests), "-c", "50", "-P", "16",
                          "-r", "1000000", "-q", "--csv"], capture_output=True, text=True, timeout=900)
    ended = time.perf_counter()
    done.set()
    t.join()
    while not caught_up(primary, replica):
        time.sleep(0.005)
    catch_up = time.perf_counter() - ended
    rps = next(float(l.split(",")[1].strip('"')) for l in out.stdout.splitlines() if l.startswith('"SET"'))
    return {"set_rps": rps, "lag_max_kb": max(lags) / 1024, "lag_mean_kb": sum(lags) / len(lags) / 1024,
            "catch_up_ms": catch_up * 1000}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", "-n", type=int, default=1_000_000)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        build_release()
    results = {}
    for name in ("larder", "redis"):
        servers, sync = full_sync(name, args.keys)
        stream = stream_under_load(servers, args.requests)
        for proc in (servers[2], servers[0]):
            proc.terminate()
            proc.wait(10)
        results[name] = {**sync, **stream}
    rows = []
    print(f"{'measure':<20}{'larder':>12}{'redis':>12}{'ratio':>8}")
    for k in results["larder"]:
        a, b = results["larder"][k], results["redis"][k]
        ratio = a / b if b else float("nan")
        print(f"{k:<20}{a:>12.2f}{b:>12.2f}{ratio:>8.2f}")
        rows.append({"measure": k, "larder": round(a, 3), "redis": round(b, 3), "ratio": round(ratio, 3)})
    write_csv("replication", rows)


if __name__ == "__main__":
    main()
