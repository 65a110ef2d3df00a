"""DUMP and RESTORE in Redis's serialization: values move between Larder and redis-server in
both directions, and bad payloads get Redis's errors."""
import pytest

from rdbtools import payload, snapshot

BIG = "x" * 20000


def fill(r):
    """One key per type and encoding Redis 7.0 has."""
    r.set("s:short", "hello")
    r.set("s:int", "12345")
    r.set("s:negative", "-7")
    r.set("s:int64", str(2 ** 63 - 1))
    r.set("s:leading-zero", "007")
    r.set("s:binary", bytes(range(256)))
    r.set("s:compressible", "abc" * 1000)
    r.set("s:empty", "")
    r.rpush("l:small", "a", "b", "1", "-2", "300000", "x" * 100)
    r.rpush("l:large", *[str(i) for i in range(2000)])
    r.rpush("l:plain-nodes", BIG, "small", BIG + "y")
    r.hset("h:small", mapping={"f1": "v1", "n": "42"})
    r.hset("h:large", mapping={f"f{i}": f"v{i}" for i in range(300)})
    r.hset("h:long-value", mapping={"f": "v" * 100})
    r.sadd("set:intset", 1, 2, 3, -5, 2 ** 40)
    r.sadd("set:strings", "a", "b", "c")
    r.sadd("set:large-ints", *range(1000))
    r.zadd("z:small", {"a": 1, "b": 2.5, "c": -3})
    r.zadd("z:large", {f"m{i}": i / 3 for i in range(500)})
    r.zadd("z:inf", {"lo": float("-inf"), "hi": float("inf"), "mid": 0})
    r.zadd("z:long-member", {"m" * 100: 1})
    r.set("ttl:key", "v", ex=1000)


def encodings(r):
    return {k: r.object("encoding", k) for k in r.scan_iter()}


@pytest.mark.parametrize("direction", ["redis-to-larder", "larder-to-redis"])
def test_values_move_both_ways(direction, larder, oracle):
    a, b = larder.client(), oracle.client()
    a.flushall()
    b.flushall()
    src, dst = (b, a) if direction == "redis-to-larder" else (a, b)
    fill(src)
    for key in src.scan_iter():
        data = src.dump(key)
        pttl = max(src.pttl(key), 0)
        assert dst.restore(key, pttl, data) in (True, b"OK")
    assert snapshot(dst) == snapshot(src)
    # Loading re-encodes by the same thresholds Redis uses.
    assert encodings(dst) == encodings(src)


def test_dump_is_a_valid_payload_for_both(larder, oracle):
    a, b = larder.client(), oracle.client()
    a.flushall()
    b.flushall()
    fill(a)
    for key in a.scan_iter():
        data = a.dump(key)
        # Larder's payload restores in Larder and in Redis, under another name.
        assert a.restore(b"copy:" + key, 0, data) in (True, b"OK")
        assert b.restore(b"copy:" + key, 0, data) in (True, b"OK")
    assert a.dump("missing") is None


def test_restore_options_and_errors(diff):
    diff.both("SET", "src", "value")
    good = diff.larder.call("DUMP", "src").value
    cases = [
        ("RESTORE", "k", "0", good),
        ("RESTORE", "k", "0", good),                       # BUSYKEY
        ("RESTORE", "k", "0", good, "REPLACE"),
        ("RESTORE", "k", "-1", good, "REPLACE"),
        ("RESTORE", "k", "abc", good, "REPLACE"),
        ("RESTORE", "k", "0", good[:-1] + bytes([good[-1] ^ 1]), "REPLACE"),
        ("RESTORE", "k", "0", payload(b"\x00\x05hel"), "REPLACE"),          # truncated string
        ("RESTORE", "k", "0", payload(b"\x10\x07\xff\xff\xff\xff\x00\x00\xff"), "REPLACE"),
        ("RESTORE", "k", "0", payload(b"\x00\x01x", version=11), "REPLACE"),
        ("RESTORE", "k", "0", payload(b"\x63\x01x"), "REPLACE"),            # unknown type
        ("RESTORE", "k", "0", b"short"),
        ("RESTORE", "k", "0", good, "REPLACE", "IDLETIME", "-1"),
        ("RESTORE", "k", "0", good, "REPLACE", "FREQ", "256"),
        ("RESTORE", "k", "0", good, "REPLACE", "IDLETIME", "10", "FREQ", "5"),
        ("RESTORE", "k", "0", good, "REPLACE", "BOGUS"),
        ("RESTORE", "k", "0", good, "REPLACE", "IDLETIME", "100"),
        ("OBJECT", "IDLETIME", "k"),
        ("RESTORE", "gone", "1000", good, "ABSTTL"),                        # already expired
        ("EXISTS", "gone"),
        ("RESTORE", "t", "100000", good),
        ("RESTORE", "big", "0", b"\x00" * 100000),
    ]
    for args in cases:
        diff.check(*args)
    assert 99 <= int(diff.larder.call("TTL", "t").value) <= 100


def test_restore_never_crashes_on_garbage(larder):
    import random
    r = larder.client()
    rng = random.Random(7)
    bodies = [bytes([t]) + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
              for t in [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 16, 17, 18, 20] for _ in range(20)]
    for body in bodies:
        try:
            r.restore("g", 0, payload(body), replace=True)
        except Exception as e:
            assert "Bad data format" in str(e)
    assert r.ping()
