"""What the benchmark scripts share: ports, waiting for a server, the release build, CSV output."""
import csv
import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    for _ in range(400):
        if proc.poll() is not None:
            sys.exit(f"server exited early ({proc.args[0]})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("server did not start")


def start_server(name, threads=0, extra=(), cpus=None):
    """Starts Larder's release build or redis-server with the side-by-side settings (no
    persistence, loopback TCP, a fresh folder) on a free port; returns (process, port).
    `threads` sets Larder's event loops (0: its default), `extra` goes to either server, and
    `cpus` (a taskset CPU list) pins it."""
    port = free_port()
    work = tempfile.mkdtemp(prefix=f"bench-{name}-")
    if name == "larder":
        argv = [os.path.join(ROOT, ".build", "release", "larder-server"), "--port", str(port), "--dir", work,
                "--save", ""]
        if threads:
            argv += ["--threads", str(threads)]
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", work]
    argv += list(extra)
    if cpus:
        argv = ["taskset", "-c", cpus] + argv
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, proc)
    return proc, port


# As the README's start command: Swift's run-time exclusivity checks off in every module,
# SwiftNIO's included (Package.swift can turn them off only in Larder's own targets).
RELEASE_FLAGS = ["-Xswiftc", "-enforce-exclusivity=unchecked"]


def load_arguments(parser, requests):
    """The options every side-by-side load run shares: connections, requests, value size,
    rounds, Larder's event loops, and skipping the build."""
    parser.add_argument("--clients", "-c", type=int, default=50)
    parser.add_argument("--requests", "-n", type=int, default=requests)
    parser.add_argument("--size", "-d", type=int, default=3, help="value size in bytes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="Larder event loops (0: its default)")
    parser.add_argument("--no-build", action="store_true")


def server_order(round_index):
    """Which server goes first in a round: they alternate, so drift on a shared machine cancels."""
    return ["larder", "redis"] if round_index % 2 == 0 else ["redis", "larder"]


def stop_servers(servers):
    """Stops the {name: (process, port)} servers a side-by-side run started."""
    for proc, _ in servers.values():
        proc.terminate()
        proc.wait(10)


def build_release():
    subprocess.run(["swift", "build", "-c", "release", "--product", "larder-server", *RELEASE_FLAGS], cwd=ROOT, check=True)


def write_csv(prefix, rows):
    """Writes dict rows to bench/results/<prefix>-<time>.csv and says where."""
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"{prefix}-{datetime.datetime.now():%Y%m%d-%H%M%S}.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")
