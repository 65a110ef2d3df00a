"""Fixtures: the real larder-server binary and a real redis-server, each on a free port."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from resp import Conn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def larder_binary():
    path = os.environ.get("LARDER_BIN") or os.path.join(ROOT, ".build", "debug", "larder-server")
    if not os.path.exists(path):
        pytest.exit(f"larder-server not built at {path}; run `swift build` first", returncode=2)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}")


def wait_until(predicate, timeout=20, what="condition"):
    """Polls until `predicate()` holds; fails the test after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Server:
    """A server process started for a test module."""

    def __init__(self, argv, port, workdir, log):
        self.port = port
        self.workdir = workdir
        self.log = log
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        wait_for_port(port, self.proc)

    def client(self, **kw):
        return redis.Redis(port=self.port, **kw)

    def conn(self):
        return Conn(self.port)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_larder(*extra, workdir=None, port=None):
    workdir = workdir or tempfile.mkdtemp(prefix="larder-")
    port = port or free_port()
    log = open(os.path.join(workdir, "larder.log"), "ab")
    # LARDER_ARGS adds flags to every server, e.g. fewer shards for a ThreadSanitizer build
    # (TSan tracks at most 64 locks held at once; FLUSHALL holds every shard's).
    argv = [larder_binary(), "--port", str(port), "--dir", os.path.join(workdir, "data"),
            "--enable-debug-command", "yes",
            # No snapshot points unless a test asks: a stop would otherwise save whatever a
            # test left (a fuzzed 512 MB bitmap takes long to write in a debug build).
            "--save", "",
            # Two event loops whatever the machine (the default is one on 2 cores), so that
            # commands from connections on different loops meet on the shard locks.
            "--threads", "2",
            *os.environ.get("LARDER_ARGS", "").split(), *extra]
    return Server(argv, port, workdir, log)


def start_redis(*extra):
    exe = shutil.which("redis-server")
    if not exe:
        pytest.exit("redis-server is not installed (Debian package redis-server)", returncode=2)
    workdir = tempfile.mkdtemp(prefix="redis-")
    port = free_port()
    log = open(os.path.join(workdir, "redis.log"), "ab")
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", workdir, "--enable-debug-command", "yes", *extra]
    return Server(argv, port, workdir, log)


@pytest.fixture(scope="module")
def larder():
    s = start_larder()
    yield s
    s.stop()
    assert s.proc.returncode in (0, -15), f"larder exited with {s.proc.returncode}"


@pytest.fixture(scope="module")
def oracle():
    s = start_redis()
    yield s
    s.stop()


@pytest.fixture
def r(larder):
    c = larder.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def diff(larder, oracle):
    """Sends the same commands to Larder and redis-server and compares the raw replies."""
    from differential import Differ
    d = Differ(larder.port, oracle.port)
    d.both("FLUSHALL")
    yield d
    d.close()


def start_larder_memcached(*extra):
    """Larder with its memcached listener on a second free port (server.mc_port)."""
    mc_port = free_port()
    s = start_larder("--memcached-port", str(mc_port), *extra)
    wait_for_port(mc_port, s.proc)
    s.mc_port = mc_port
    return s


def start_memcached(*extra):
    exe = shutil.which("memcached")
    if not exe:
        pytest.exit("memcached is not installed (Debian package memcached)", returncode=2)
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="memcached-")
    log = open(os.path.join(workdir, "memcached.log"), "ab")
    argv = [exe, "-p", str(port), "-U", "0", "-l", "127.0.0.1", *extra]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    s = Server(argv, port, workdir, log)
    s.mc_port = port
    return s


@pytest.fixture(scope="module")
def mc_larder():
    s = start_larder_memcached()
    yield s
    s.stop()
    assert s.proc.returncode in (0, -15), f"larder exited with {s.proc.returncode}"


@pytest.fixture(scope="module")
def mc_oracle():
    s = start_memcached()
    yield s
    s.stop()
