"""Larder's memcached listener driven by pymemcache, memccapable and raw meta commands; the
items are the same keys Redis clients see."""
import os
import random
import socket
import subprocess
import shutil
import time

import pytest
import redis
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheServerError, MemcacheClientError
from pymemcache import serde

from conftest import start_larder_memcached
from mcraw import MC


@pytest.fixture
def mc(mc_larder):
    c = Client(("127.0.0.1", mc_larder.mc_port), default_noreply=False, timeout=5)
    c.flush_all()
    yield c
    c.close()


def test_common_api(mc):
    assert mc.set("a", b"1") is True
    assert mc.get("a") == b"1"
    assert mc.get("missing") is None
    assert mc.add("a", b"2") is False
    assert mc.add("b", b"2") is True
    assert mc.replace("a", b"3") is True
    assert mc.replace("nope", b"3") is False
    assert mc.append("a", b"4") is True
    assert mc.prepend("a", b"0") is True
    assert mc.get("a") == b"034"
    assert mc.get_many(["a", "b", "nope"]) == {"a": b"034", "b": b"2"}
    assert mc.set_many({"x": b"1", "y": b"2"}) == []
    assert mc.incr("x", 5) == 6
    assert mc.decr("x", 10) == 0
    assert mc.incr("nope", 1) is None
    assert mc.delete("y") is True
    assert mc.delete("y") is False
    assert mc.delete_many(["a", "b"]) is True
    assert mc.get_many(["a", "b"]) == {}
    assert mc.version().startswith(b"1.6")


def test_cas(mc):
    mc.set("c", b"v1")
    value, token = mc.gets("c")
    assert value == b"v1"
    assert mc.cas("c", b"v2", token) is True
    assert mc.cas("c", b"v3", token) is False      # the token is stale now
    assert mc.get("c") == b"v2"
    assert mc.cas("nope", b"x", b"1") is None
    _, t1 = mc.gets("c")
    mc.touch("c", 100)
    _, t2 = mc.gets("c")
    assert t1 == t2                                # TTL changes keep the CAS


def test_flags_round_trip_through_serde(mc_larder):
    c = Client(("127.0.0.1", mc_larder.mc_port), serde=serde.pickle_serde, default_noreply=False)
    c.set("obj", {"n": 1, "l": [1, 2]})
    c.set("num", 42)
    c.set("text", "héllo")
    assert c.get("obj") == {"n": 1, "l": [1, 2]}
    assert c.get("num") == 42
    assert c.get("text") == "héllo"
    c.close()


def test_noreply_pipeline(mc_larder):
    c = Client(("127.0.0.1", mc_larder.mc_port), default_noreply=True)
    for i in range(200):
        c.set(f"k{i}", str(i).encode())
    assert c.get("k199") == b"199"
    assert len(c.get_many([f"k{i}" for i in range(200)])) == 200
    c.close()


def test_expiry(mc):
    mc.set("short", b"x", expire=1)
    mc.set("absolute", b"x", expire=int(time.time()) + 1)
    mc.set("long", b"x", expire=100)
    mc.set("past", b"x", expire=int(time.time()) - 10)
    assert mc.get("past") is None
    assert mc.get("short") == b"x"
    time.sleep(2.5)
    assert mc.get("short") is None
    assert mc.get("absolute") is None
    assert mc.get("long") == b"x"
    assert mc.touch("long", 1) is True
    assert mc.touch("nope", 1) is False
    time.sleep(2.2)
    assert mc.get("long") is None


def test_delayed_flush_all(mc):
    mc.set("a", b"1")
    assert mc.flush_all(delay=1) is True
    assert mc.get("a") == b"1"
    time.sleep(2.2)
    assert mc.get("a") is None


def test_too_large_is_refused_and_drops_the_old_value(mc):
    mc.set("big", b"small")
    with pytest.raises(MemcacheServerError, match="object too large"):
        mc.set("big", b"x" * (2 * 1024 * 1024))
    assert mc.get("big") is None
    mc.set("ok", b"x" * 1_000_000)
    assert len(mc.get("ok")) == 1_000_000


def test_items_are_redis_strings(mc, mc_larder):
    r = redis.Redis(port=mc_larder.port)
    mc.set("shared", b"from-memcached")
    assert r.get("shared") == b"from-memcached"
    assert r.ttl("shared") == -1
    mc.set("ttl", b"x", expire=100)
    assert 95 <= r.ttl("ttl") <= 100
    r.set("from-redis", "hello")
    assert mc.get("from-redis") == b"hello"
    # A Redis write changes the CAS unique: a memcached cas after it fails.
    _, token = mc.gets("shared")
    r.append("shared", "!")
    assert mc.cas("shared", b"lost", token) is False
    assert mc.get("shared") == b"from-memcached!"
    # A key of another type is no item: reads miss, set replaces it.
    r.rpush("list", "a")
    assert mc.get("list") is None
    assert mc.set("list", b"now a string") is True
    assert r.type("list") == b"string"
    r.close()


def test_memcached_write_breaks_a_redis_watch(mc, mc_larder):
    r = redis.Redis(port=mc_larder.port)
    r.set("watched", "1")
    p = r.pipeline()
    p.watch("watched")
    mc.set("watched", b"2")
    p.multi()
    p.set("watched", "3")
    with pytest.raises(redis.WatchError):
        p.execute()
    assert r.get("watched") == b"2"
    r.close()


def test_memcached_db_option():
    s = start_larder_memcached("--memcached-db", "3")
    try:
        c = Client(("127.0.0.1", s.mc_port), default_noreply=False)
        c.set("k", b"v")
        r0 = redis.Redis(port=s.port, db=0)
        r3 = redis.Redis(port=s.port, db=3)
        assert r0.get("k") is None
        assert r3.get("k") == b"v"
        c.flush_all()
        assert r3.dbsize() == 0
        c.close()
    finally:
        s.stop()


def test_stale_while_revalidate():
    """One client invalidates; the next reader gets the stale value and the right to recache
    it (W), the others the stale value and word that someone is on it (Z); the fresh value
    ends the episode."""
    s = start_larder_memcached()
    try:
        a, b = MC(s.mc_port), MC(s.mc_port)
        assert a.exchange(b"ms page 3 T60\r\nold\r\n") == b"HD\r\n"
        original_cas = a.exchange(b"mg page c\r\n").split()[1][1:]
        assert a.exchange(b"md page I T30\r\n") == b"HD\r\n"
        first = a.exchange(b"mg page v c\r\n")
        header = first.split(b"\r\n")[0]
        assert header.startswith(b"VA 3 c") and header.endswith(b" X W")
        token = header.split()[2][1:]
        assert b.exchange(b"mg page v\r\n") == b"VA 3 Z X\r\nold\r\n"
        # The winner stores the fresh value with the CAS it was handed: the episode ends.
        assert a.exchange(b"ms page 5 C" + token + b" T60\r\nfresh\r\n") == b"HD\r\n"
        assert b.exchange(b"mg page v\r\n") == b"VA 5\r\nfresh\r\n"
        # A late writer holding a CAS older than the item's may still store with I, but the
        # value stays marked stale, and a plain CAS mismatch is refused.
        assert b.exchange(b"ms page 4 C" + original_cas + b"\r\nlate\r\n") == b"EX\r\n"
        assert b.exchange(b"ms page 4 I C" + original_cas + b"\r\nlate\r\n") == b"HD\r\n"
        assert b.exchange(b"mg page v\r\n").split(b"\r\n")[0].endswith(b"X W")
        a.close()
        b.close()
    finally:
        s.stop()


def test_memccapable_ascii(mc_larder):
    tool = shutil.which("memccapable")
    if not tool:
        pytest.fail("memccapable missing (Debian package libmemcached-tools)")
    out = subprocess.run([tool, "-h", "127.0.0.1", "-p", str(mc_larder.mc_port), "-a"],
                         capture_output=True, text=True, timeout=120)
    assert "All tests passed" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("policy", ["allkeys-lru", "noeviction"])
def test_maxmemory_applies(policy):
    s = start_larder_memcached("--maxmemory", "8mb", "--maxmemory-policy", policy)
    try:
        c = Client(("127.0.0.1", s.mc_port), default_noreply=False)
        r = redis.Redis(port=s.port)
        value = b"x" * 1000
        refused = 0
        for i in range(20000):
            try:
                c.set(f"key:{i}", value)
            except MemcacheServerError as e:
                assert "out of memory storing object" in str(e)
                refused += 1
        info = r.info("memory")
        assert info["used_memory"] <= 8 * 1024 * 1024 * 1.1
        if policy == "noeviction":
            assert refused > 0
            assert c.get("key:0") == value          # reads still served
        else:
            assert refused == 0
            assert r.info("stats")["evicted_keys"] > 0
            assert c.get("key:19999") == value
        c.close()
        r.close()
    finally:
        s.stop()


def test_garbage_never_kills_the_listener(mc_larder):
    seed = int(os.environ.get("LARDER_MC_SEED", random.randrange(1 << 30)))
    print(f"memcached garbage: seed {seed}")
    rng = random.Random(seed)
    pieces = [b"set ", b"get ", b"mg ", b"ms ", b"ma ", b"md ", b"\r\n", b"\n", b" ", b"999999999999",
              b"-1", b"noreply", b"k", b"b", b"q", b"\x00", b"\xff", b"gat ", b"cas ", b"incr ", b"me "]
    for _ in range(300):
        data = b"".join(rng.choice(pieces) if rng.random() < 0.8 else bytes([rng.randrange(256)])
                        for _ in range(rng.randrange(1, 60)))
        with socket.create_connection(("127.0.0.1", mc_larder.mc_port), timeout=5) as sock:
            sock.sendall(data)
            sock.settimeout(0.05)
            try:
                sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                pass
    assert MC(mc_larder.mc_port).exchange(b"version\r\n") == b"VERSION 1.6.18\r\n"
    assert mc_larder.alive()


def test_stats_and_connections(mc, mc_larder):
    mc.set("a", b"1")
    mc.get("a")
    stats = mc.stats()
    assert stats[b"curr_items"] >= 1
    assert stats[b"get_hits"] >= 1
    assert stats[b"curr_connections"] >= 1
    assert stats[b"version"] == b"1.6.18"
    settings = mc.stats("settings")
    assert settings[b"item_size_max"] == 1048576
    items = mc.stats("items")
    assert any(k.endswith(b":number") for k in items)


def test_memcached_requests_go_through_call(mc, mc_larder):
    """memcached requests run on the Redis commands' path: their effects reach the replication
    stream (the item as it now is), a Redis client tracking a key hears of a memcached write,
    and keyspace events fire."""
    from replstream import StreamTap, mask
    from resp import Conn, encode
    tap = StreamTap(mc_larder.port)
    tracker, events = Conn(mc_larder.port), Conn(mc_larder.port)
    tracker.call("HELLO", "3")
    tracker.call("CLIENT", "TRACKING", "ON")
    mc.set("t", b"1")
    tracker.call("GET", "t")
    events.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    events.send_raw(encode("SUBSCRIBE", "__keyspace@0__:t"))
    events.read()
    mc.set("t", b"2", expire=100)
    push = tracker.read()
    assert push.kind == ">" and push.value[1].value[0].value == b"t"
    assert events.read().value[2].value == b"set"
    mc.touch("t", 200)
    mc.delete("t")
    mc.set("a", b"1")
    mc.set("b", b"2")
    with socket.create_connection(("127.0.0.1", mc_larder.mc_port), timeout=5) as s:
        s.sendall(b"gat 300 a b\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            reply += s.recv(4096)
    mc.flush_all()
    r = mc_larder.client()
    r.set("__end__", "1")
    got = [mask(c) for c in tap.commands_until(b"__end__")]
    events.call("CONFIG", "SET", "notify-keyspace-events", "")
    for c in (tap, tracker, events):
        c.close()
    # The SETs of the module's earlier items may come first; from the first write of t on:
    got = got[next(i for i, c in enumerate(got) if c[:2] == [b"SET", b"t"]):]
    assert got == [
        [b"SET", b"t", b"1"], [b"SET", b"t", b"2", b"PXAT", b"<time>"], [b"SET", b"t", b"2", b"PXAT", b"<time>"],
        [b"DEL", b"t"], [b"SET", b"a", b"1"], [b"SET", b"b", b"2"],
        [b"MULTI"], [b"SET", b"a", b"1", b"PXAT", b"<time>"], [b"SET", b"b", b"2", b"PXAT", b"<time>"], [b"EXEC"],
        [b"FLUSHDB"],
    ], got
