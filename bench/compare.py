#!/usr/bin/env python3
"""Side-by-side throughput of Larder and redis-server, measured in the same run.

Builds Larder in release mode, starts it and a real redis-server with the same settings (no
persistence, loopback TCP), and runs redis-benchmark against each in turn, alternating which
goes first in every round so that drift on a shared machine cancels out. Prints req/s and
p50/p99 latency per server and the ratio Larder/Redis, and writes the table as CSV (and a PNG
chart when matplotlib is installed) under bench/results/.

    bench/compare.py                       # the default suite
    bench/compare.py --tests lpush,lpop,sadd,hset,zadd,lrange_100 --pipeline 16
    bench/compare.py --quick               # fewer requests, for a smoke run
    bench/compare.py --tls --tests set,get # over TLS, client certificates required, both servers
"""
import argparse
import csv
import datetime
import io
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import ROOT, build_release, load_arguments, server_order, start_server, stop_servers  # noqa: E402

DEFAULT_TESTS = "ping,set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100,mset"


def start(name, threads, certs=None):
    """(process, port to load): the plain port, or with `certs` the TLS port."""
    if not certs:
        return start_server(name, threads)
    from bench.common import free_port, wait_port
    tls_port = free_port()
    proc, _ = start_server(name, threads, extra=["--tls-port", str(tls_port), "--tls-cert-file", certs["server"][0],
                                                  "--tls-key-file", certs["server"][1],
                                                  "--tls-ca-cert-file", certs["ca"]])
    wait_port(tls_port, proc)
    return proc, tls_port


def run_benchmark(port, test, args):
    tls = []
    if args.certs:
        tls = ["--tls", "--cert", args.certs["client"][0], "--key", args.certs["client"][1], "--cacert", args.certs["ca"]]
    argv = ["redis-benchmark", "-p", str(port), *tls, "-t", test, "-n", str(args.requests), "-c", str(args.clients),
            "-P", str(args.pipeline), "-r", str(args.keyspace), "-d", str(args.size), "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    rows = list(csv.reader(io.StringIO(out)))
    header, data = rows[0], rows[1:]
    results = {}
    for row in data:
        r = dict(zip(header, row))
        results[r["test"]] = (float(r["rps"]), float(r["p50_latency_ms"]), float(r["p99_latency_ms"]))
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tests", default=DEFAULT_TESTS)
    load_arguments(p, requests=100000)
    p.add_argument("--pipeline", "-P", type=int, default=1)
    p.add_argument("--keyspace", "-r", type=int, default=100000)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--tls", action="store_true", help="over TLS (certificates made for the run)")
    args = p.parse_args()
    args.certs = None
    if args.tls:
        import tempfile
        sys.path.insert(0, os.path.join(ROOT, "Tests", "integration"))
        import tlscerts
        args.certs = tlscerts.make(tempfile.mkdtemp(prefix="bench-tls-"))
    if args.quick:
        args.requests, args.rounds = 20000, 1
    for tool in ("redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: apt-get install redis-server redis-tools")
    if not args.no_build:
        build_release()

    servers = {name: start(name, args.threads, args.certs) for name in ("larder", "redis")}
    samples = {name: {} for name in servers}
    try:
        for rnd in range(args.rounds):
            order = server_order(rnd)
            for test in args.tests.split(","):
                for name in order:
                    for t, v in run_benchmark(servers[name][1], test, args).items():
                        samples[name].setdefault(t, []).append(v)
    finally:
        stop_servers(servers)

    setting = f"c={args.clients} P={args.pipeline} d={args.size} n={args.requests} rounds={args.rounds}" + (" tls" if args.tls else "")
    rows = []
    for t in samples["larder"]:
        if t not in samples["redis"]:
            continue
        med = {n: [statistics.median(x[i] for x in samples[n][t]) for i in range(3)] for n in ("larder", "redis")}
        rows.append([t, med["larder"][0], med["redis"][0], med["larder"][0] / med["redis"][0],
                     med["larder"][1], med["redis"][1], med["larder"][2], med["redis"][2]])
    header = ["test", "larder_rps", "redis_rps", "ratio", "larder_p50_ms", "redis_p50_ms", "larder_p99_ms", "redis_p99_ms"]
    print(f"\n{setting}")
    print(f"{'test':<28}{'larder rps':>12}{'redis rps':>12}{'ratio':>8}{'p50 L/R ms':>16}{'p99 L/R ms':>16}")
    for r in rows:
        print(f"{r[0]:<28}{r[1]:>12.0f}{r[2]:>12.0f}{r[3]:>8.2f}{r[4]:>8.3f}/{r[5]:<7.3f}{r[6]:>8.3f}/{r[7]:<7.3f}")

    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(ROOT, "bench", "results", f"compare-c{args.clients}-P{args.pipeline}-d{args.size}-{stamp}")
    with open(base + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["# " + setting])
        w.writerow(header)
        w.writerows(rows)
    print(f"\nwrote {base}.csv")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(10, 4))
        names = [r[0] for r in rows]
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r[1] for r in rows], 0.4, label="larder")
        ax.bar([x + 0.2 for x in xs], [r[2] for r in rows], 0.4, label="redis-server")
        ax.set_xticks(list(xs), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("requests/s")
        ax.set_title(setting)
        ax.legend()
        fig.tight_layout()
        fig.savefig(base + ".png")
        print(f"wrote {base}.png")
    except ImportError:
        print("(pip install matplotlib for a PNG chart)")


if __name__ == "__main__":
    main()
