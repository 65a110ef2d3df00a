"""MULTI / EXEC / DISCARD / WATCH, against redis-server and under concurrency."""
import threading
import time

import redis

from differential import Differ
from resp import Conn, Reply

CASES = [
    ("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("LPUSH", "a", "x"), ("GET", "a"),
    ("EXEC",), ("MULTI",), ("SET", "b", "1"), ("NOSUCH",), ("EXEC",), ("GET", "b"), ("MULTI",), ("GET",), ("EXEC",),
    ("MULTI",), ("WATCH", "a"), ("SET", "c", "1"), ("EXEC",), ("MULTI",), ("SHUTDOWN",), ("EXEC",),
    ("MULTI",), ("DISCARD",), ("GET", "c"), ("MULTI",), ("EXEC",), ("MULTI",), ("BLPOP", "nolist", "0"), ("EXEC",),
    ("MULTI",), ("SELECT", "2"), ("SET", "in2", "x"), ("EXEC",), ("GET", "in2"), ("SELECT", "0"), ("GET", "in2"),
    ("WATCH", "w"), ("MULTI",), ("SET", "w", "mine"), ("EXEC",), ("UNWATCH",), ("WATCH",),
]


def test_transaction_replies_match_redis(diff):
    for cmd in CASES:
        diff.check(*cmd)


def test_watch_aborts_when_another_client_writes(larder, oracle):
    for port in (larder.port, oracle.port):
        a, b = Conn(port), Conn(port)
        a.call("SET", "k", "1")
        assert a.call("WATCH", "k") == Reply("+", b"OK")
        b.call("SET", "k", "2")
        a.call("MULTI")
        a.call("SET", "k", "3")
        assert a.call("EXEC") == Reply("*", None)
        assert a.call("GET", "k") == Reply("$", b"2")
        # Unchanged watched key: EXEC goes through.
        a.call("WATCH", "k")
        a.call("MULTI")
        a.call("SET", "k", "4")
        assert a.call("EXEC") == Reply("*", (Reply("+", b"OK"),))


def test_watch_invalidation_causes(larder, oracle):
    scenarios = [
        ("expire", [("SET", "k", "v", "PX", "50")], None, 0.15),
        ("flushdb", [("SET", "k", "v")], ("FLUSHDB",), 0),
        ("flushall", [("SET", "k", "v")], ("FLUSHALL",), 0),
        ("swapdb", [("SET", "k", "v")], ("SWAPDB", "0", "1"), 0),
        ("del", [("SET", "k", "v")], ("DEL", "k"), 0),
        ("expire-cmd", [("SET", "k", "v")], ("EXPIRE", "k", "100"), 0),
        ("failed-setnx", [("SET", "k", "v")], ("SETNX", "k", "other"), 0),
        ("missing-flush", [], ("FLUSHDB",), 0),
        ("lpush", [("RPUSH", "k", "v")], ("LPUSH", "k", "w"), 0),
    ]
    for name, setup, other, sleep in scenarios:
        outcomes = []
        for port in (larder.port, oracle.port):
            a, b = Conn(port), Conn(port)
            a.call("FLUSHALL")
            b.call("SELECT", "0")
            for cmd in setup:
                a.call(*cmd)
            a.call("WATCH", "k")
            if other:
                b.call(*other)
            time.sleep(sleep)
            a.call("MULTI")
            a.call("PING")
            outcomes.append(a.call("EXEC"))
        assert outcomes[0] == outcomes[1], (name, outcomes)


def test_multi_exec_is_atomic_across_shards(larder):
    """Two clients move money between many keys in transactions; the total never changes."""
    r = larder.client()
    keys = [f"acct:{i}" for i in range(20)]
    for k in keys:
        r.set(k, 100)
    stop = time.time() + 3
    errors = []

    def mover(seed):
        import random
        rng = random.Random(seed)
        c = larder.client()
        while time.time() < stop:
            a, b = rng.sample(keys, 2)
            p = c.pipeline(transaction=True)
            p.decrby(a, 1)
            p.incrby(b, 1)
            p.execute()

    def auditor():
        c = larder.client()
        while time.time() < stop:
            p = c.pipeline(transaction=True)
            for k in keys:
                p.get(k)
            total = sum(int(v) for v in p.execute())
            if total != 2000:
                errors.append(total)

    threads = [threading.Thread(target=mover, args=(s,)) for s in range(3)] + [threading.Thread(target=auditor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(int(r.get(k)) for k in keys) == 2000


def test_optimistic_increments_are_never_lost_or_doubled(larder):
    n_clients, per_client = 8, 60

    def worker():
        c = larder.client()
        done = 0
        while done < per_client:
            with c.pipeline() as p:
                try:
                    p.watch("counter")
                    v = int(p.get("counter") or 0)
                    p.multi()
                    p.set("counter", v + 1)
                    p.execute()
                    done += 1
                except redis.WatchError:
                    continue

    larder.client().delete("counter")
    threads = [threading.Thread(target=worker) for _ in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert int(larder.client().get("counter")) == n_clients * per_client


def test_lock_and_rate_limiter_patterns(larder):
    r = larder.client()
    # A lock: SET NX EX, released only by its owner through WATCH/MULTI.
    assert r.set("lock:job", "token-a", nx=True, ex=30)
    assert not r.set("lock:job", "token-b", nx=True, ex=30)

    def release(token):
        with r.pipeline() as p:
            p.watch("lock:job")
            if p.get("lock:job") != token.encode():
                p.unwatch()
                return False
            p.multi()
            p.delete("lock:job")
            p.execute()
            return True

    assert not release("token-b")
    assert release("token-a")
    assert r.set("lock:job", "token-b", nx=True, ex=30)
    # A fixed-window rate limiter: INCR + EXPIRE in one transaction.
    allowed = 0
    for _ in range(15):
        p = r.pipeline(transaction=True)
        p.incr("rl:user1")
        p.expire("rl:user1", 60)
        count, _ = p.execute()
        allowed += count <= 10
    assert allowed == 10
    assert 0 < r.ttl("rl:user1") <= 60


def test_exec_wakes_blocked_client(larder):
    r = larder.client()
    c = Conn(larder.port)
    c.send_raw(b"BLPOP txq 0\r\n")
    deadline = time.time() + 5
    while r.info("clients")["blocked_clients"] < 1 and time.time() < deadline:
        time.sleep(0.01)
    p = r.pipeline(transaction=True)
    p.rpush("txq", "a", "b")
    p.rpush("txq", "c")
    p.execute()
    assert c.read() == Reply("*", (Reply("$", b"txq"), Reply("$", b"a")))
    assert r.lrange("txq", 0, -1) == [b"b", b"c"]
