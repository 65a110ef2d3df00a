"""Blocking list and sorted-set pops: woken by writes from other connections, FIFO, timeouts."""
import threading
import time

import pytest

from resp import Conn, Reply


def start_blocked(port, *cmd):
    """Sends a blocking command on a new connection; returns the connection (reply unread)."""
    c = Conn(port, timeout=10)
    c.send_raw(__import__("resp").encode(*cmd))
    return c


def wait_blocked(r, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if r.info("clients")["blocked_clients"] >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"expected {n} blocked clients")


def test_blpop_woken_by_push_from_another_connection(r, larder):
    c = start_blocked(larder.port, "BLPOP", "q1", "q2", "0")
    wait_blocked(r, 1)
    r.rpush("q2", "hello")
    assert c.read() == Reply("*", (Reply("$", b"q2"), Reply("$", b"hello")))
    assert r.info("clients")["blocked_clients"] == 0
    assert r.exists("q2") == 0


def test_fifo_order_of_blocked_clients(r, larder):
    clients = []
    for i in range(5):
        clients.append(start_blocked(larder.port, "BRPOP", "fifo", "0"))
        wait_blocked(r, i + 1)
    r.rpush("fifo", *[f"v{i}" for i in range(5)])
    got = [c.read().value[1].value for c in clients]
    # BRPOP pops from the right: the first client to block gets the last element pushed.
    assert got == [b"v4", b"v3", b"v2", b"v1", b"v0"]


def test_timeout_fractional_seconds(r, larder):
    c = Conn(larder.port)
    assert c.call("BLPOP", "never", "0.1") == Reply("*", None)
    assert c.call("BLMOVE", "never", "dst", "LEFT", "LEFT", "0.05") == Reply("$", None)
    assert c.call("BZPOPMIN", "never", "0.05") == Reply("*", None)
    assert c.call("PING") == Reply("+", b"PONG")


def test_pipelined_commands_after_a_blocking_one_wait_for_it(r, larder):
    c = Conn(larder.port)
    c.send_raw(b"BLPOP pq 0\r\nPING\r\n")
    wait_blocked(r, 1)
    r.lpush("pq", "x")
    assert c.read() == Reply("*", (Reply("$", b"pq"), Reply("$", b"x")))
    assert c.read() == Reply("+", b"PONG")


def test_key_deleted_or_changed_type_keeps_client_blocked(r, larder):
    c = start_blocked(larder.port, "BLPOP", "dk", "0")
    wait_blocked(r, 1)
    r.rpush("dk", "a")
    assert c.read().value[1] == Reply("$", b"a")
    c2 = start_blocked(larder.port, "BLPOP", "tk", "0")
    wait_blocked(r, 1)
    r.set("tk", "now a string")
    r.delete("tk")
    time.sleep(0.1)
    assert r.info("clients")["blocked_clients"] == 1
    r.rpush("other", "x")
    r.rename("other", "tk")            # a list renamed into the key wakes the client
    assert c2.read() == Reply("*", (Reply("$", b"tk"), Reply("$", b"x")))


def test_blmove_and_brpoplpush_chain(r, larder):
    c1 = start_blocked(larder.port, "BLMOVE", "a", "b", "LEFT", "RIGHT", "0")
    wait_blocked(r, 1)
    c2 = start_blocked(larder.port, "BRPOPLPUSH", "b", "c", "0")
    wait_blocked(r, 2)
    r.rpush("a", "item")
    assert c1.read() == Reply("$", b"item")
    assert c2.read() == Reply("$", b"item")
    assert r.lrange("c", 0, -1) == [b"item"]
    assert r.exists("a", "b") == 0


def test_blmpop_and_bzpop(r, larder):
    c = start_blocked(larder.port, "BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2")
    wait_blocked(r, 1)
    r.rpush("m2", "1", "2", "3")
    assert c.read() == Reply("*", (Reply("$", b"m2"), Reply("*", (Reply("$", b"3"), Reply("$", b"2")))))
    z = start_blocked(larder.port, "BZPOPMAX", "zq", "0")
    wait_blocked(r, 1)
    r.zadd("zq", {"low": 1, "high": 2})
    assert z.read() == Reply("*", (Reply("$", b"zq"), Reply("$", b"high"), Reply("$", b"2")))
    zm = start_blocked(larder.port, "BZMPOP", "0", "1", "zq2", "MIN")
    wait_blocked(r, 1)
    r.zadd("zq2", {"x": 5})
    assert zm.read() == Reply("*", (Reply("$", b"zq2"), Reply("*", (Reply("*", (Reply("$", b"x"), Reply("$", b"5"))),))))


def test_client_unblock(r, larder):
    c = start_blocked(larder.port, "BLPOP", "u", "0")
    wait_blocked(r, 1)
    cid = next(int(x["id"]) for x in r.client_list() if x["cmd"] == "blpop")
    assert r.client_unblock(cid) == 1
    assert c.read() == Reply("*", None)
    c = start_blocked(larder.port, "BLPOP", "u", "0")
    wait_blocked(r, 1)
    cid = next(int(x["id"]) for x in r.client_list() if x["cmd"] == "blpop")
    assert r.client_unblock(cid, error=True) == 1
    assert c.read() == Reply("-", b"UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert r.client_unblock(cid) == 0


def test_disconnected_blocked_client_is_forgotten(r, larder):
    c = start_blocked(larder.port, "BLPOP", "gone", "0")
    wait_blocked(r, 1)
    c.close()
    deadline = time.time() + 5
    while r.info("clients")["blocked_clients"] and time.time() < deadline:
        time.sleep(0.02)
    r.rpush("gone", "kept")
    assert r.lrange("gone", 0, -1) == [b"kept"]


def test_many_producers_and_consumers_lose_nothing(r, larder):
    import redis
    n_items, n_consumers = 2000, 6
    got = []
    lock = threading.Lock()

    def consume():
        cl = redis.Redis(port=larder.port)
        while True:
            item = cl.blpop("work", timeout=2)
            if item is None:
                return
            with lock:
                got.append(item[1])

    threads = [threading.Thread(target=consume) for _ in range(n_consumers)]
    for t in threads:
        t.start()

    def produce(k):
        cl = redis.Redis(port=larder.port)
        for i in range(n_items // 4):
            cl.rpush("work", f"{k}:{i}")

    producers = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
    for t in producers:
        t.start()
    for t in producers + threads:
        t.join(30)
    assert sorted(got) == sorted(f"{k}:{i}".encode() for k in range(4) for i in range(n_items // 4))


def blocked_calls(port):
    """INFO commandstats' calls for BLPOP after one served later, one timed out and one
    answered at once, as each server counts them."""
    c, pusher = Conn(port), Conn(port)
    c.call("FLUSHALL")
    c.call("CONFIG", "RESETSTAT")
    c.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    pusher.call("RPUSH", "q", "a")
    c.read()
    c.call("BLPOP", "q", "0.05")
    pusher.call("RPUSH", "q", "b")
    c.call("BLPOP", "q", "0")
    info = c.call("INFO", "commandstats").value.decode()
    c.close()
    pusher.close()
    line = next(l for l in info.splitlines() if l.startswith("cmdstat_blpop:"))
    return line.split(",")[0]


def test_a_blocked_command_counts_once_as_redis(larder, oracle):
    assert blocked_calls(larder.port) == blocked_calls(oracle.port) == "cmdstat_blpop:calls=3"


def blocked_move_into_wrong_type(port):
    """A client blocked in BLMOVE (and one in BRPOPLPUSH) whose destination is then made a
    string: the push that wakes it gets it WRONGTYPE, and the element stays for the next."""
    c, b1, b2 = Conn(port), Conn(port), Conn(port)
    c.call("FLUSHALL")
    b1.send_raw(b"*6\r\n$6\r\nBLMOVE\r\n$3\r\nsrc\r\n$3\r\ndst\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    b2.send_raw(b"*4\r\n$10\r\nBRPOPLPUSH\r\n$3\r\nsrc\r\n$4\r\ndst2\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    c.call("SET", "dst", "string")
    c.call("RPUSH", "src", "a")
    b1.sock.settimeout(5)
    first = b1.read()
    second = b2.read()
    rest = c.call("LRANGE", "src", "0", "-1"), c.call("LRANGE", "dst2", "0", "-1")
    for x in (c, b1, b2):
        x.close()
    return first, second, rest


def test_blocked_move_into_a_wrong_type_answers_wrongtype(larder, oracle):
    mine, theirs = blocked_move_into_wrong_type(larder.port), blocked_move_into_wrong_type(oracle.port)
    assert mine == theirs
    assert mine[0].kind == "-" and mine[0].value.startswith(b"WRONGTYPE")
