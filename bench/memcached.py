#!/usr/bin/env python3
"""Side-by-side throughput of Larder's memcached listener and a real memcached, in one run.

Builds Larder in release mode, starts it (memcached port on, no persistence) and a real
memcached (-m 1024, its default 4 threads), and runs memcaslap (Debian package
libmemcached-tools) against each in turn for several concurrencies and get/set mixes,
alternating which goes first in every round so that drift on a shared machine cancels out.
Prints ops/s per server and the ratio Larder/memcached, and writes the table as CSV under
bench/results/.

    bench/memcached.py                 # default: 3 rounds of 10 s per point
    bench/memcached.py --seconds 3 --rounds 1
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import ROOT, build_release, free_port, wait_port, write_csv  # noqa: E402


def start(name):
    port = free_port()
    if name == "larder":
        work = tempfile.mkdtemp(prefix="bench-larder-mc-")
        argv = [os.path.join(ROOT, ".build", "release", "larder-server"), "--port", str(free_port()),
                "--memcached-port", str(port), "--dir", work, "--save", ""]
    else:
        argv = ["memcached", "-p", str(port), "-U", "0", "-l", "127.0.0.1", "-m", "1024"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, proc)
    return proc, port


def memcaslap(port, concurrency, set_share, seconds):
    """Ops/s of one memcaslap run; set_share is the proportion of sets (the rest are gets)."""
    cfg = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
    # memcaslap's configuration: key sizes, value sizes, and the get/set mix.
    cfg.write("key\n16 16 1\nvalue\n32 32 1\ncmd\n")
    cfg.write(f"0 {set_share}\n1 {1 - set_share}\n")
    cfg.close()
    out = subprocess.run(["memcaslap", "-s", f"127.0.0.1:{port}", "-t", f"{seconds}s", "-c", str(concurrency),
                          "-T", "1", "-F", cfg.name], capture_output=True, text=True, timeout=seconds + 60)
    os.unlink(cfg.name)
    m = re.search(r"TPS: (\d+)", out.stdout)
    if not m:
        sys.exit(f"memcaslap failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    return int(m.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", default="16,64")
    p.add_argument("--mixes", default="0.1,0.5", help="shares of sets in the load")
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args()
    if not shutil.which("memcaslap"):
        sys.exit("memcaslap is missing: apt-get install libmemcached-tools")
    if not args.no_build:
        build_release()

    servers = {name: start(name) for name in ("larder", "memcached")}
    rows = []
    try:
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            for mix in [float(m) for m in args.mixes.split(",")]:
                results = {"larder": [], "memcached": []}
                for r in range(args.rounds):
                    order = ["larder", "memcached"] if r % 2 == 0 else ["memcached", "larder"]
                    for name in order:
                        results[name].append(memcaslap(servers[name][1], concurrency, mix, args.seconds))
                larder = statistics.median(results["larder"])
                memcached = statistics.median(results["memcached"])
                rows.append({"concurrency": concurrency, "set_share": mix, "larder_ops": int(larder),
                             "memcached_ops": int(memcached), "ratio": round(larder / memcached, 2)})
                print(f"c={concurrency:<4} sets={mix:<4} larder {larder:>9.0f} ops/s   memcached {memcached:>9.0f} ops/s"
                      f"   ratio {larder / memcached:.2f}", flush=True)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait()

    write_csv("memcached", rows)

if __name__ == "__main__":
    main()
