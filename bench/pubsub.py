#!/usr/bin/env python3
"""PUBLISH fan-in: many publishers, one subscriber, against Larder and redis-server in turn.

redis-benchmark has no pub/sub test, so it runs `PUBLISH channel message` as a custom command
(`-c` publishers, `-P` pipelined) while one subscriber, a plain socket in this script, counts
the messages it receives. Reports the publishers' req/s and the time until the subscriber had
every message, for each server and as the ratio Larder/Redis (median of the rounds,
alternating which server goes first), and writes the table as CSV under bench/results/.

    bench/pubsub.py                      # 50 publishers, -P 16, 500k messages
    bench/pubsub.py -P 1 -n 200000 --no-build
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import build_release, load_arguments, server_order, stop_servers, write_csv  # noqa: E402
from bench.compare import start  # noqa: E402


def subscribe(port, channel):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"SUBSCRIBE {channel}\r\n".encode())
    reply = b""
    while not reply.endswith(b":1\r\n"):
        reply += s.recv(4096)
    return s


def count_messages(sock, wanted, result):
    """Reads until `wanted` messages came (each holds the word "message" once)."""
    got, carry, first = 0, b"", None
    sock.settimeout(60)
    while got < wanted:
        data = sock.recv(1 << 20)
        if not data:
            break
        if first is None:
            first = time.time()
        joined = carry + data
        got += joined.count(b"message")
        # Six bytes cannot hold a whole word, so nothing counted is counted again; a word cut
        # between two reads is counted once the next read completes it.
        carry = joined[-6:]
    result["got"], result["seconds"] = got, time.time() - (first or time.time())


def run_once(port, args):
    sock = subscribe(port, "bench")
    result = {}
    reader = threading.Thread(target=count_messages, args=(sock, args.requests, result))
    reader.start()
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(args.requests), "-c", str(args.clients),
                          "-P", str(args.pipeline), "--csv", "PUBLISH", "bench", "x" * args.size],
                         capture_output=True, text=True, timeout=600).stdout
    reader.join(120)
    sock.close()
    rps = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
    if result.get("got") != args.requests:
        sys.exit(f"the subscriber got {result.get('got')} of {args.requests} messages")
    return rps, result["seconds"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    load_arguments(p, requests=500000)
    p.add_argument("--pipeline", "-P", type=int, default=16)
    args = p.parse_args()
    if not args.no_build:
        build_release()
    servers = {name: start(name, args.threads) for name in ("larder", "redis")}
    samples = {name: [] for name in servers}
    try:
        for rnd in range(args.rounds):
            for name in server_order(rnd):
                samples[name].append(run_once(servers[name][1], args))
    finally:
        stop_servers(servers)
    med = {n: (statistics.median(r for r, _ in v), statistics.median(s for _, s in v)) for n, v in samples.items()}
    print(f"\nPUBLISH fan-in, c={args.clients} P={args.pipeline} d={args.size} n={args.requests} rounds={args.rounds}")
    print(f"{'':10}{'publish req/s':>16}{'delivered in s':>16}")
    for n in ("larder", "redis"):
        print(f"{n:10}{med[n][0]:>16.0f}{med[n][1]:>16.2f}")
    ratio = med["larder"][0] / med["redis"][0]
    print(f"{'ratio':10}{ratio:>16.2f}")
    write_csv(f"pubsub-c{args.clients}-P{args.pipeline}", [{
        "larder_rps": med["larder"][0], "redis_rps": med["redis"][0], "ratio": ratio,
        "larder_delivered_s": med["larder"][1], "redis_delivered_s": med["redis"][1]}])


if __name__ == "__main__":
    main()
