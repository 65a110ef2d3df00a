#!/usr/bin/env python3
"""Throughput against the number of Larder's event loops, with the client pinned away.

redis-benchmark runs pinned to CPU 0 (`taskset`). Larder runs with 1, 2, ... event loops
(`--threads`), and redis-server as the reference, each placed two ways: on the CPUs the client
does not use (`apart`), and wherever the kernel puts it (`shared`: it may take the client's
CPU too). Rounds alternate the order of the servers. Prints the median req/s of each, with
each Larder row as a ratio to one loop in the same placement and to Redis, and writes a CSV
under bench/results/.

    bench/scaling.py                              # SET and GET at -P 16 and -P 1, 1 and 2 loops
    bench/scaling.py --loops 1,2,4 --tests get -P 16 --no-build
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import build_release, start_server, write_csv  # noqa: E402

CLIENT_CPU = 0


def run(port, test, args, pipeline):
    out = subprocess.run(["taskset", "-c", str(CLIENT_CPU), "redis-benchmark", "-p", str(port), "-t", test,
                          "-n", str(args.requests if pipeline == 1 else args.requests * 5), "-c", str(args.clients),
                          "-P", str(pipeline), "-r", "100000", "--csv"],
                         capture_output=True, text=True, timeout=600).stdout
    line = out.strip().splitlines()[-1].split(",")
    return float(line[1].strip('"'))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loops", default="1,2", help="Larder event loop counts to compare")
    p.add_argument("--tests", default="set,get")
    p.add_argument("--pipelines", "-P", default="16,1")
    p.add_argument("--clients", "-c", type=int, default=50)
    p.add_argument("--requests", "-n", type=int, default=200000, help="per run at -P 1 (five times that pipelined)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args()
    for tool in ("redis-server", "redis-benchmark", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing")
    cores = os.cpu_count() or 1
    if cores < 2:
        sys.exit("needs at least two CPUs: one for the client, the rest for the server")
    if not args.no_build:
        build_release()
    apart = f"1-{cores - 1}" if cores > 2 else "1"
    servers = [("redis", 1)] + [("larder", int(n)) for n in args.loops.split(",")]
    placements = {"apart": apart, "shared": None}

    samples = {}
    for placement, cpus in placements.items():
        running = {(name, loops): start_server(name, loops if name == "larder" else 0, cpus=cpus)
                   for name, loops in servers}
        try:
            for rnd in range(args.rounds):
                order = list(running) if rnd % 2 == 0 else list(reversed(running))
                for pipeline in (int(x) for x in args.pipelines.split(",")):
                    for test in args.tests.split(","):
                        for key in order:
                            rps = run(running[key][1], test, args, pipeline)
                            samples.setdefault((placement, pipeline, test, *key), []).append(rps)
        finally:
            for proc, _ in running.values():
                proc.terminate()
                proc.wait(10)

    rows = []
    print(f"\n{cores} CPUs; client on CPU {CLIENT_CPU}; apart = server on CPU {apart}; shared = unpinned")
    print(f"{'placement':<10}{'P':>4} {'test':<6}{'server':<12}{'req/s':>10}{'vs 1 loop':>11}{'vs redis':>10}")
    for (placement, pipeline, test, name, loops), v in samples.items():
        rps = statistics.median(v)
        one = statistics.median(samples[(placement, pipeline, test, "larder", 1)]) \
            if (placement, pipeline, test, "larder", 1) in samples else None
        redis = statistics.median(samples[(placement, pipeline, test, "redis", 1)])
        label = "redis" if name == "redis" else f"larder x{loops}"
        vs_one = f"{rps / one:.2f}" if name == "larder" and one else ""
        print(f"{placement:<10}{pipeline:>4} {test:<6}{label:<12}{rps:>10.0f}{vs_one:>11}{rps / redis:>10.2f}")
        rows.append({"placement": placement, "pipeline": pipeline, "test": test, "server": name, "loops": loops,
                     "rps": round(rps), "ratio_to_one_loop": round(rps / one, 3) if name == "larder" and one else "",
                     "ratio_to_redis": round(rps / redis, 3)})
    write_csv("scaling", rows)


if __name__ == "__main__":
    main()
