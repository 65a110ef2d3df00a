#!/usr/bin/env python3
"""Side-by-side throughput of script calls on Larder and redis-server, in the same run.

Loads two scripts into each server with SCRIPT LOAD and runs redis-benchmark's EVALSHA of each
against both, alternating which server goes first every round: a one-line INCR (what a counter
or a rate limiter costs) and a ten-command script (reads and writes on its declared keys, the
shape of a lock or a queue move). Prints req/s per server and the ratio Larder/Redis, and
writes them as CSV under bench/results/. The instructions a call costs are counted with
bench/instructions.py (its README entry says how).

    bench/scripting.py                          # -P 1 and -P 16, 3 rounds
    bench/scripting.py --pipeline 16 --rounds 1 --no-build
"""
import argparse
import hashlib
import os
import statistics
import subprocess
import sys

import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import build_release, load_arguments, server_order, start_server, stop_servers, write_csv  # noqa: E402

SCRIPTS = {
    "evalsha_incr": ("return redis.call('INCR', KEYS[1])", 1),
    "evalsha_10_commands": ("""
local n = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], n)
local v = redis.call('GET', KEYS[2])
redis.call('HSET', KEYS[3], 'f', v)
local h = redis.call('HGET', KEYS[3], 'f')
redis.call('LPUSH', KEYS[4], h)
redis.call('LTRIM', KEYS[4], 0, 9)
local l = redis.call('LLEN', KEYS[4])
redis.call('EXPIRE', KEYS[1], 100)
return redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) + l
""", 4),
}


def run(port, name, args):
    body, numkeys = SCRIPTS[name]
    sha = hashlib.sha1(body.encode()).hexdigest()
    # Keys with a hash tag, so that a 4-key script's keys fall in one shard as a cluster
    # client would have them; __rand_int__ spreads calls over the keyspace.
    keys = [f"{{s:__rand_int__}}:{i}" for i in range(numkeys)]
    argv = ["redis-benchmark", "-p", str(port), "-n", str(args.requests), "-c", str(args.clients),
            "-P", str(args.pipeline), "-r", str(args.keyspace), "--csv", "EVALSHA", sha, str(numkeys), *keys]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout.strip().splitlines()
    return float(out[-1].split(",")[1].strip('"'))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    load_arguments(p, requests=200000)
    p.add_argument("--pipeline", "-P", type=int, action="append")
    p.add_argument("--keyspace", "-r", type=int, default=100000)
    args = p.parse_args()
    pipelines = args.pipeline or [1, 16]
    if not args.no_build:
        build_release()
    servers = {name: start_server(name, args.threads) for name in ("larder", "redis")}
    rows = []
    try:
        for name, (proc, port) in servers.items():
            c = redis.Redis(port=port)
            for body, _ in SCRIPTS.values():
                c.script_load(body)
            c.close()
        for pipeline in pipelines:
            args.pipeline = pipeline
            samples = {n: {s: [] for s in SCRIPTS} for n in servers}
            for rnd in range(args.rounds):
                for script in SCRIPTS:
                    for server in server_order(rnd):
                        samples[server][script].append(run(servers[server][1], script, args))
            for script in SCRIPTS:
                mine, theirs = statistics.median(samples["larder"][script]), statistics.median(samples["redis"][script])
                rows.append({"test": script, "pipeline": pipeline, "clients": args.clients, "larder_rps": round(mine),
                             "redis_rps": round(theirs), "ratio": round(mine / theirs, 3)})
                print(f"P={pipeline:<3} {script:<22} larder {mine:>10.0f}  redis {theirs:>10.0f}  ratio {mine / theirs:.2f}")
    finally:
        stop_servers(servers)
    write_csv("scripting", rows)


if __name__ == "__main__":
    main()
