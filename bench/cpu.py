#!/usr/bin/env python3
"""CPU time per request of Larder and redis-server, measured in the same run.

Throughput on this shared 2-core machine moves by ±20% between runs; the CPU time a server
spends per request (user + system, from /proc/<pid>/stat, so the kernel's share of each read
and write is in it) moves much less. Runs redis-benchmark against each server in turn,
alternating, and reports the median µs of CPU per request and the ratio Larder/Redis.

    bench/cpu.py                                 # SET and GET, -c 50 -P 1 and -P 16
    bench/cpu.py --tests set,get,incr,hset --threads 1 --no-build
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import build_release, load_arguments, server_order, stop_servers, write_csv  # noqa: E402
from bench.compare import start  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS   # utime, stime


def run(port, pid, test, args, pipeline):
    before = cpu_seconds(pid)
    subprocess.run(["redis-benchmark", "-p", str(port), "-t", test, "-n", str(args.requests), "-c", str(args.clients),
                    "-P", str(pipeline), "-r", "100000", "-d", str(args.size), "-q"],
                   check=True, capture_output=True, timeout=600)
    return (cpu_seconds(pid) - before) / args.requests * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tests", default="set,get")
    p.add_argument("--pipelines", default="1,16")
    load_arguments(p, requests=300000)
    args = p.parse_args()
    if not args.no_build:
        build_release()
    servers = {name: start(name, args.threads) for name in ("larder", "redis")}
    samples = {}
    try:
        for rnd in range(args.rounds):
            order = server_order(rnd)
            for pipeline in map(int, args.pipelines.split(",")):
                for test in args.tests.split(","):
                    for name in order:
                        proc, port = servers[name]
                        samples.setdefault((test, pipeline, name), []).append(run(port, proc.pid, test, args, pipeline))
    finally:
        stop_servers(servers)
    rows = []
    print(f"{'test':<8}{'P':>4}{'larder µs':>12}{'redis µs':>12}{'ratio':>8}")
    for pipeline in map(int, args.pipelines.split(",")):
        for test in args.tests.split(","):
            lm = statistics.median(samples[(test, pipeline, "larder")])
            rm = statistics.median(samples[(test, pipeline, "redis")])
            print(f"{test:<8}{pipeline:>4}{lm:>12.2f}{rm:>12.2f}{lm / rm:>8.2f}")
            rows.append({"test": test, "pipeline": pipeline, "larder_us_per_request": round(lm, 3),
                         "redis_us_per_request": round(rm, 3), "ratio": round(lm / rm, 3)})
    write_csv("cpu", rows)


if __name__ == "__main__":
    main()
