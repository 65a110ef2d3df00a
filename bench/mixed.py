#!/usr/bin/env python3
"""A mixed 1:10 SET:GET load against Larder and redis-server, with latency percentiles.

redis-benchmark runs one command type per run, so the load comes from `bench-load` (a small
epoll client in Sources/bench-load): `--clients` connections each keep one request in flight
(`-P` for more), keys drawn from `--keyspace` and written beforehand (so GETs mostly hit),
the same request sequence for both servers.
The servers run alternately, as in compare.py; the median of the rounds is reported with the
ratio Larder/Redis, and written as CSV under bench/results/.

    bench/mixed.py                       # 50 connections, 1:10, 3-byte values
    bench/mixed.py -d 1024 -P 16
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import RELEASE_FLAGS, ROOT, build_release, load_arguments, server_order, stop_servers, write_csv  # noqa: E402
from bench.compare import start  # noqa: E402


def load(port, args):
    binary = os.path.join(ROOT, ".build", "release", "bench-load")
    out = subprocess.run([binary, str(port), str(args.clients), str(args.requests), str(args.gets_per_set),
                          str(args.keyspace), str(args.size), str(args.pipeline)],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    fields = dict(item.split("=") for item in out.split())
    return float(fields["rps"]), float(fields["p50"]), float(fields["p99"]), float(fields["p999"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    load_arguments(p, requests=200000)
    p.add_argument("--pipeline", "-P", type=int, default=1)
    p.add_argument("--gets-per-set", type=int, default=10)
    p.add_argument("--keyspace", "-r", type=int, default=100000)
    args = p.parse_args()
    if not args.no_build:
        build_release()
        subprocess.run(["swift", "build", "-c", "release", "--product", "bench-load", *RELEASE_FLAGS],
                       cwd=ROOT, check=True)
    servers = {name: start(name, args.threads) for name in ("larder", "redis")}
    samples = {"larder": [], "redis": []}
    try:
        # Most keys exist, as in a warm cache: GETs are mostly hits.
        for _, port in servers.values():
            subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(args.keyspace * 3),
                            "-r", str(args.keyspace), "-d", str(args.size), "-P", "16", "-q"],
                           check=True, capture_output=True, timeout=600)
        for rnd in range(args.rounds):
            for name in server_order(rnd):
                samples[name].append(load(servers[name][1], args))
    finally:
        stop_servers(servers)
    med = {n: [statistics.median(s[i] for s in samples[n]) for i in range(4)] for n in samples}
    print(f"1:{args.gets_per_set} SET:GET, c={args.clients} P={args.pipeline} d={args.size} "
          f"n={args.requests} rounds={args.rounds}")
    print(f"{'':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'p99.9 ms':>10}")
    for n in ("larder", "redis"):
        print(f"{n:<10}{med[n][0]:>10.0f}{med[n][1]:>10.3f}{med[n][2]:>10.3f}{med[n][3]:>10.3f}")
    print(f"{'ratio':<10}{med['larder'][0] / med['redis'][0]:>10.2f}")
    write_csv(f"mixed-c{args.clients}-P{args.pipeline}-d{args.size}", [
        {"server": n, "rps": round(med[n][0]), "p50_ms": med[n][1], "p99_ms": med[n][2], "p999_ms": med[n][3]}
        for n in ("larder", "redis")])


if __name__ == "__main__":
    main()
