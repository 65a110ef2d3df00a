#!/usr/bin/env python3
"""A cluster side by side: three Larder primaries against three redis-server primaries, each
set made into a cluster with `redis-cli --cluster create`, then `redis-benchmark --cluster`
(SET and GET, -c 50, -P 1 and -P 16) against each, in alternating rounds. Prints requests
per second and the ratio Larder/Redis, and writes the rows as CSV.

On one machine the six servers and the benchmark share its cores: the figures compare the two
under the same squeeze, they are not what a cluster of machines would do.

    bench/cluster.py                       # 200k requests, 3 rounds
    bench/cluster.py --requests 50000 --rounds 1 --no-build

Then CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT (10 keys), -c 50 -P 16, on one node of each, after DEBUG
POPULATE put `--keys` keys on it: what a resharding tool asks for every slot it moves.
"""
import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import ROOT, build_release, write_csv  # noqa: E402


def pair_free(port):
    for p in (port, port + 10000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def start_cluster(name):
    procs, ports = [], []
    while len(ports) < 3:
        p = random.randint(20000, 45000)
        if p not in ports and pair_free(p):
            ports.append(p)
    for port in ports:
        work = tempfile.mkdtemp(prefix=f"bench-cluster-{name}-")
        common = ["--port", str(port), "--cluster-enabled", "yes", "--save", "", "--dir", work, "--enable-debug-command", "yes"]
        if name == "larder":
            argv = [os.path.join(ROOT, ".build", "release", "larder-server"), *common]
        else:
            argv = ["redis-server", *common, "--bind", "127.0.0.1", "--appendonly", "no"]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    for port in ports:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
    out = subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-yes"],
                         capture_output=True, text=True, timeout=120)
    assert "[OK] All 16384 slots covered." in out.stdout, out.stdout + out.stderr
    for port in ports:
        deadline = time.time() + 30
        while b"cluster_state:ok" not in subprocess.run(["redis-cli", "-p", str(port), "cluster", "info"],
                                                        capture_output=True).stdout:
            assert time.time() < deadline, "cluster not ok"
            time.sleep(0.1)
    return procs, ports


def bench(port, test, requests, clients, pipeline):
    out = subprocess.run(["redis-benchmark", "--cluster", "-p", str(port), "-t", test, "-n", str(requests),
                          "-c", str(clients), "-P", str(pipeline), "-q"], capture_output=True, text=True, timeout=600)
    found = re.findall(r"([\d.]+) requests per second", out.stdout.replace("\r", "\n"))
    assert found, out.stdout + out.stderr
    return float(found[-1])


def bench_command(port, requests, *command):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", "50", "-P", "16", "-q", *command],
                         capture_output=True, text=True, timeout=600)
    found = re.findall(r"([\d.]+) requests per second", out.stdout.replace("\r", "\n"))
    assert found, out.stdout + out.stderr
    return float(found[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", "-n", type=int, default=200000)
    parser.add_argument("--clients", "-c", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--keys", type=int, default=1000000, help="keys for the slot commands")
    args = parser.parse_args()
    if not args.no_build:
        build_release()
    clusters = {name: start_cluster(name) for name in ("larder", "redis")}
    rows = []
    try:
        for pipeline in (1, 16):
            for test in ("set", "get"):
                results = {"larder": [], "redis": []}
                for r in range(args.rounds):
                    order = ("larder", "redis") if r % 2 == 0 else ("redis", "larder")
                    for name in order:
                        results[name].append(bench(clusters[name][1][0], test, args.requests, args.clients, pipeline))
                larder = sorted(results["larder"])[len(results["larder"]) // 2]
                redis_ = sorted(results["redis"])[len(results["redis"]) // 2]
                rows.append({"test": test.upper(), "pipeline": pipeline, "larder_rps": round(larder),
                             "redis_rps": round(redis_), "ratio": round(larder / redis_, 2)})
                print(f"{test.upper():4} -P {pipeline:<3} larder {larder:>10.0f}  redis {redis_:>10.0f}  "
                      f"ratio {larder / redis_:.2f}", flush=True)
        for name in ("larder", "redis"):
            subprocess.run(["redis-cli", "-p", str(clusters[name][1][0]), "DEBUG", "POPULATE", str(args.keys)],
                           capture_output=True, timeout=600)
        for label, command in (("COUNTKEYSINSLOT", ["CLUSTER", "COUNTKEYSINSLOT", "1234"]),
                               ("GETKEYSINSLOT", ["CLUSTER", "GETKEYSINSLOT", "1234", "10"])):
            results = {"larder": [], "redis": []}
            for r in range(args.rounds):
                for name in (("larder", "redis") if r % 2 == 0 else ("redis", "larder")):
                    results[name].append(bench_command(clusters[name][1][0], args.requests * 5, *command))
            larder = sorted(results["larder"])[len(results["larder"]) // 2]
            redis_ = sorted(results["redis"])[len(results["redis"]) // 2]
            rows.append({"test": label, "pipeline": 1, "larder_rps": round(larder), "redis_rps": round(redis_),
                         "ratio": round(larder / redis_, 2)})
            print(f"{label} ({args.keys} keys) larder {larder:>10.0f}  redis {redis_:>10.0f}  "
                  f"ratio {larder / redis_:.2f}", flush=True)
    finally:
        for procs, _ in clusters.values():
            for p in procs:
                p.terminate()
                p.wait()
    write_csv(f"cluster-c{args.clients}", rows)


if __name__ == "__main__":
    main()
