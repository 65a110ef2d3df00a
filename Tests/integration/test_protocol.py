"""The wire: pipelining, inline commands, split frames, protocol errors and limits."""
import os
import socket
import time

import pytest

from conftest import start_larder
from differential import Differ
from resp import Conn, Reply, encode

BAD_INPUTS = [
    b"*abc\r\n",
    b"*1\r\n+foo\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$-5\r\n",
    b"*1\r\n$536870913\r\n",
    b"*3000000000\r\n",
    b"*1\r\n$01\r\n",
    b"*-0\r\n",
    b"*2\r\n$3\r\nGET\r\n:1\r\n",
    b'SET "a b\r\n',
    b"SET 'a\r\n",
    b'SET "a"b c\r\n',
    b"*1\r\n$9223372036854775808\r\n",
    b"*1\r\n*1\r\n$1\r\nx\r\n",
    b"*2\r\n$4\r\nPING\r\n*-1\r\n",
    b"*1\r\n$1073741824\r\n",
]


@pytest.mark.parametrize("data", BAD_INPUTS)
def test_protocol_errors_match_redis_and_close(larder, oracle, data):
    d = Differ(larder.port, oracle.port)
    d.check_raw(data)
    assert d.larder.is_closed()
    assert d.redis.is_closed()
    assert Conn(larder.port).call("PING") == Reply("+", b"PONG")


def test_too_big_inline_and_counts(larder, oracle):
    for data in [b"A" * (70 * 1024), b"*" + b"1" * (70 * 1024), b"*1\r\n$" + b"1" * (70 * 1024)]:
        d = Differ(larder.port, oracle.port)
        d.check_raw(data)
        assert d.larder.is_closed()


def test_empty_lines_and_zero_length_requests_are_skipped(larder):
    c = Conn(larder.port)
    c.send_raw(b"\r\n\r\n*0\r\n*-1\r\n   \r\nPING\r\n")
    assert c.read() == Reply("+", b"PONG")


def test_inline_commands_with_quotes(larder, oracle):
    d = Differ(larder.port, oracle.port)
    for line in [b'SET k "a b\\x41\\n"\r\n', b"GET k\r\n", b"SET k 'it\\'s'\r\n", b"GET k\r\n",
                 b"ECHO \"\\t\\r\\\\\"\r\n", b"get   k   \n", b"SET k \"\"\r\n", b"GET k\r\n"]:
        d.check_raw(line)


def test_pipeline_of_many_commands_in_one_write(larder):
    c = Conn(larder.port)
    n = 2000
    c.send_raw(b"".join(encode("SET", f"p{i}", i) for i in range(n)) + b"".join(encode("GET", f"p{i}") for i in range(n)))
    for _ in range(n):
        assert c.read() == Reply("+", b"OK")
    for i in range(n):
        assert c.read() == Reply("$", str(i).encode())


def test_commands_split_at_every_byte(larder):
    data = encode("SET", "split", "va\r\nlue") + encode("GET", "split") + b"PING\r\n" + encode("ECHO", "")
    c = Conn(larder.port)
    for i in range(len(data)):
        c.send_raw(data[i:i + 1])
        time.sleep(0.001)
    assert c.read() == Reply("+", b"OK")
    assert c.read() == Reply("$", b"va\r\nlue")
    assert c.read() == Reply("+", b"PONG")
    assert c.read() == Reply("$", b"")


def test_unknown_command_errors_match_redis(larder, oracle):
    d = Differ(larder.port, oracle.port)
    d.check("NOSUCH")
    d.check("NOSUCH", "a", "b")
    d.check("NOSUCH", "x" * 300, "y")
    d.check("NOSUCH", *["arg%d" % i for i in range(40)])
    d.check("get", "a", "b")
    d.check("GeT", "a")


def test_query_buffer_limit_closes_client():
    s = start_larder("--client-query-buffer-limit", "1mb")
    try:
        c = Conn(s.port)
        c.send_raw(b"*2\r\n$3\r\nSET\r\n$4000000\r\n")
        try:
            c.send_raw(b"x" * (2 * 1024 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.is_closed()
        assert Conn(s.port).call("PING") == Reply("+", b"PONG")
    finally:
        s.stop()


def test_proto_max_bulk_len():
    s = start_larder("--proto-max-bulk-len", "1mb")
    try:
        c = Conn(s.port)
        c.send_raw(b"*2\r\n$3\r\nGET\r\n$2000000\r\n")
        assert c.read() == Reply("-", b"ERR Protocol error: invalid bulk length")
        assert c.is_closed()
        ok = Conn(s.port)
        assert ok.call("SET", "k", "x" * 1000) == Reply("+", b"OK")
        assert ok.call("APPEND", "k", "y" * (1024 * 1024)) == Reply("-", b"ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    finally:
        s.stop()


def test_maxclients():
    s = start_larder("--maxclients", "5")
    try:
        # The start-up probe's connection may not be closed server-side yet: wait until the
        # first client is the only one.
        first = Conn(s.port)
        for _ in range(100):
            if first.call("CLIENT", "LIST").value.count(b"\n") == 1:
                break
            time.sleep(0.02)
        conns = [first] + [Conn(s.port) for _ in range(4)]
        for c in conns:
            assert c.call("PING") == Reply("+", b"PONG")
        extra = Conn(s.port)
        assert extra.read() == Reply("-", b"ERR max number of clients reached")
        assert extra.is_closed()
        conns.pop().close()
        # The server notices the close asynchronously; a slot frees up soon after.
        deadline = time.time() + 5
        while True:
            reply = Conn(s.port).call("PING")
            if reply == Reply("+", b"PONG") or time.time() > deadline:
                break
            time.sleep(0.05)
        assert reply == Reply("+", b"PONG")
    finally:
        s.stop()


def test_idle_timeout_closes_clients():
    s = start_larder("--timeout", "1")
    try:
        c = Conn(s.port)
        assert c.call("PING") == Reply("+", b"PONG")
        assert c.is_closed(timeout=5)
    finally:
        s.stop()


@pytest.mark.parametrize("fixed", [True, False])
def test_random_garbage_never_kills_the_server(larder, fixed):
    import random
    seed = 20261126 if fixed else int(os.environ.get("LARDER_FUZZ_SEED", random.randrange(1 << 30)))
    print("garbage seed", seed)
    rng = random.Random(seed)
    for _ in range(200):
        c = Conn(larder.port, timeout=5)
        kind = rng.randrange(3)
        if kind == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        elif kind == 1:
            data = encode(*[bytes(rng.randrange(256) for _ in range(rng.randrange(0, 10))) for _ in range(rng.randrange(1, 5))])
            cut = rng.randrange(len(data))
            data = data[:cut] + bytes([rng.randrange(256)]) + data[cut + 1:]
        else:
            data = b"*%d\r\n$%d\r\n" % (rng.randrange(-5, 10**6), rng.randrange(-5, 10**10))
        try:
            c.send_raw(data)
        except OSError:
            pass
        c.close()
        if _ % 20 == 0:
            assert Conn(larder.port).call("PING") == Reply("+", b"PONG"), f"seed {seed}"
    assert Conn(larder.port).call("PING") == Reply("+", b"PONG")
    assert larder.alive()


def test_ten_thousand_idle_connections_are_held_and_cheap():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 10300:
        pytest.skip(f"this machine allows only {hard} open files per process")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 10300), hard))
    s = start_larder()
    socks = []
    try:
        probe = Conn(s.port)
        rss_before = int(probe.call("INFO", "memory").value.split(b"used_memory_rss:")[1].split(b"\r\n")[0])
        for _ in range(9990):
            socks.append(socket.create_connection(("127.0.0.1", s.port)))
        deadline = time.time() + 60
        while time.time() < deadline:
            info = probe.call("INFO", "clients").value
            if b"connected_clients:9991" in info:
                break
            time.sleep(0.2)
        assert b"connected_clients:9991" in info
        rss_after = int(probe.call("INFO", "memory").value.split(b"used_memory_rss:")[1].split(b"\r\n")[0])
        per_connection = (rss_after - rss_before) / 9990
        print(f"RSS per idle connection: {per_connection:.0f} bytes")
        assert per_connection < 64 * 1024
        # Fill the default maxclients of 10000; the next one gets Redis's error.
        for _ in range(10000 - 9991):
            socks.append(socket.create_connection(("127.0.0.1", s.port)))
        while b"connected_clients:10000" not in probe.call("INFO", "clients").value and time.time() < deadline:
            time.sleep(0.1)
        extra = Conn(s.port)
        assert extra.read() == Reply("-", b"ERR max number of clients reached")
        assert probe.call("PING") == Reply("+", b"PONG")
    finally:
        for so in socks:
            so.close()
        s.stop()
