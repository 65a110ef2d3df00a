#!/usr/bin/env python3
"""Connection storms and idle connections: Larder and redis-server side by side.

Opens `-n` connections (default 10 000) to a server as fast as one client thread can, each
non-blocking, sends PING on each as soon as it is connected and waits for every `+PONG`:
the time from the first connect to the last PONG is how fast a storm is taken in (a server
that falls behind its listen backlog of 511 makes the kernel drop SYNs, and the client waits a
second to retry). The connections then stay open and idle, and the server's resident memory
(VmRSS) before the storm and after it gives the cost of an idle connection. Both servers run
with `maxclients` above `-n` and with this script's open-file limit; rounds alternate which
server goes first. Prints the medians and writes a CSV under bench/results/.

    bench/connections.py                     # 10 000 connections, 3 rounds
    bench/connections.py -n 2000 --rounds 1 --no-build
"""
import argparse
import os
import resource
import selectors
import shutil
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import build_release, server_order, start_server, write_csv  # noqa: E402


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def storm(port, n, timeout=60):
    """Opens n connections and PINGs on each; returns (sockets, seconds until the last PONG,
    how many answered, the slowest connect-to-PONG time)."""
    sel = selectors.DefaultSelector()
    socks = []
    opened = {}
    start = time.perf_counter()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        opened[s.fileno()] = time.perf_counter()
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    answered = failed = 0
    slowest = 0.0
    while answered + failed < n and time.perf_counter() - start < timeout:
        for key, events in sel.select(timeout=1):
            s = key.fileobj
            if events & selectors.EVENT_WRITE:
                try:
                    s.send(b"PING\r\n")
                    sel.modify(s, selectors.EVENT_READ)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    sel.unregister(s)
                    failed += 1
            elif events & selectors.EVENT_READ:
                try:
                    data = s.recv(64)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                sel.unregister(s)
                if data.startswith(b"+PONG"):
                    answered += 1
                    slowest = max(slowest, time.perf_counter() - opened[s.fileno()])
                else:
                    failed += 1
    elapsed = time.perf_counter() - start
    sel.close()
    return socks, elapsed, answered, slowest


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", "-n", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="Larder event loops (0: its default)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds idle before memory is read")
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args()
    if not shutil.which("redis-server"):
        sys.exit("redis-server is missing: apt-get install redis-server")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.connections + 200
    if hard < needed:
        sys.exit(f"this machine allows {hard} open files per process; -n {args.connections} needs {needed}")
    # The servers inherit it: Redis lowers its maxclients to what the limit allows.
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    if not args.no_build:
        build_release()

    samples = {"larder": [], "redis": []}
    for rnd in range(args.rounds):
        for name in server_order(rnd):
            proc, port = start_server(name, args.threads, extra=["--maxclients", str(args.connections + 100)])
            try:
                time.sleep(0.5)
                before = rss_kb(proc.pid)
                socks, seconds, answered, slowest = storm(port, args.connections)
                time.sleep(args.settle)
                after = rss_kb(proc.pid)
                for s in socks:
                    s.close()
                per_connection = (after - before) * 1024 / args.connections
                samples[name].append((seconds, answered, per_connection, slowest))
                print(f"round {rnd + 1} {name:7} {answered} of {args.connections} answered in {seconds:.3f} s "
                      f"(slowest {slowest:.3f} s), {per_connection:.0f} bytes RSS per idle connection")
            finally:
                proc.terminate()
                proc.wait(30)

    rows = []
    for name in ("larder", "redis"):
        v = samples[name]
        rows.append({"server": name, "connections": args.connections,
                     "storm_seconds": round(statistics.median(x[0] for x in v), 3),
                     "connections_per_second": round(args.connections / statistics.median(x[0] for x in v)),
                     "answered_min": min(x[1] for x in v),
                     "slowest_seconds": round(statistics.median(x[3] for x in v), 3),
                     "rss_bytes_per_idle_connection": round(statistics.median(x[2] for x in v))})
    print(f"\n{args.connections} connections, {args.rounds} rounds (medians)")
    print(f"{'':8}{'storm s':>10}{'conn/s':>10}{'answered':>10}{'slowest s':>11}{'RSS B/conn':>12}")
    for r in rows:
        print(f"{r['server']:8}{r['storm_seconds']:>10.3f}{r['connections_per_second']:>10}{r['answered_min']:>10}"
              f"{r['slowest_seconds']:>11.3f}{r['rss_bytes_per_idle_connection']:>12}")
    lr, rr = rows
    print(f"{'ratio':8}{lr['storm_seconds'] / rr['storm_seconds']:>10.2f}{'':>31}"
          f"{lr['rss_bytes_per_idle_connection'] / max(1, rr['rss_bytes_per_idle_connection']):>12.2f}")
    write_csv("connections", rows)


if __name__ == "__main__":
    main()
