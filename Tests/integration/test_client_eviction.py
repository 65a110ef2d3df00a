"""maxmemory-clients (Redis 7.0's client eviction), side by side with redis-server: a client
whose unsent replies or unparsed input push the clients' total over the limit is closed,
biggest first, and counted in INFO's evicted_clients; CLIENT NO-EVICT ON protects one; the
limit as a percentage of maxmemory."""
import socket
import time

import pytest
import redis

from conftest import start_larder, start_redis


@pytest.fixture(scope="module")
def servers():
    both = [start_larder(), start_redis()]
    yield both
    for s in both:
        s.stop()


def evicted(c):
    return int(c.info("stats")["evicted_clients"])


def wait_closed(sock, timeout=20):
    """True once the server closed the socket (reads drain what was sent)."""
    sock.settimeout(0.2)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if sock.recv(1 << 20) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def slow_subscriber(port, first=b""):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(first + b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n")
    time.sleep(0.2)
    return s


NO_EVICT = b"*3\r\n$6\r\nCLIENT\r\n$8\r\nNO-EVICT\r\n$2\r\non\r\n"


@pytest.mark.parametrize("limit,maxmemory,protected", [("2mb", "0", False), ("2%", "100mb", False), ("2mb", "0", True)],
                         ids=["bytes", "percent-of-maxmemory", "no-evict"])
def test_a_subscriber_that_does_not_read(servers, limit, maxmemory, protected):
    """Its unsent messages pass the limit: it is closed (the publisher is not), unless it
    said CLIENT NO-EVICT ON."""
    for server in servers:
        c = server.client()
        c.config_set("client-output-buffer-limit", "pubsub 0 0 0")
        c.config_set("maxmemory", maxmemory)
        c.config_set("maxmemory-clients", limit)
        before = evicted(c)
        sub = slow_subscriber(server.port, first=NO_EVICT if protected else b"")
        if protected:
            # The protected subscriber stays; its buffers still count, so the clients that
            # publish to it may be closed instead (on redis-server too, as timing has it).
            publisher = server.conn()
            try:
                for _ in range(200):
                    publisher.call("PUBLISH", "ch", b"x" * 50_000)
            except (ConnectionError, OSError):
                pass
            publisher.close()
            assert not wait_closed(sub, timeout=1)
            sub.close()
            c = server.client()
        else:
            for _ in range(200):
                c.publish("ch", b"x" * 50_000)
            assert wait_closed(sub), f"subscriber not evicted on port {server.port}"
            assert evicted(c) == before + 1
            assert c.ping()
        c.config_set("maxmemory-clients", "0")
        c.config_set("maxmemory", "0")
        c.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
        c.close()


def test_a_client_with_a_big_unfinished_command_is_evicted(servers):
    for server in servers:
        c = server.client()
        c.config_set("maxmemory-clients", "2mb")
        before = evicted(c)
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\n")
        chunk = b"y" * 65536
        try:
            for _ in range(60):   # ~4 MB of the 10 MB argument, never finished
                s.sendall(chunk)
                time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert wait_closed(s), f"client not evicted on port {server.port}"
        assert evicted(c) == before + 1
        assert c.get("k") is None
        c.config_set("maxmemory-clients", "0")
        c.close()
