"""Generic key commands against redis-server."""
import pytest

SETUP = [
    ("SET", "a", "1"), ("SET", "b", "2"), ("SET", "c", "3"), ("SET", "hello", "x"), ("SET", "hallo", "x"),
    ("SET", "hxllo", "x"), ("SET", "hllo", "x"), ("SET", "heeeello", "x"), ("SET", "h[e]llo", "x"), ("SET", "ttl", "x", "EX", "100"),
]

CASES = [
    ("DEL", "a", "a", "missing"), ("EXISTS", "b", "b", "missing"), ("UNLINK", "b"), ("DEL",), ("TYPE", "c"), ("TYPE", "missing"),
    ("EXPIRE", "c", "100"), ("TTL", "c"), ("EXPIRE", "c", "100", "NX"), ("EXPIRE", "c", "200", "XX"), ("TTL", "c"),
    ("EXPIRE", "c", "50", "GT"), ("EXPIRE", "c", "500", "GT"), ("TTL", "c"), ("EXPIRE", "c", "1000", "LT"), ("EXPIRE", "c", "10", "LT"),
    ("TTL", "c"), ("EXPIRE", "c", "10", "NX", "XX"), ("EXPIRE", "c", "10", "GT", "LT"), ("EXPIRE", "c", "10", "FOO"),
    ("EXPIRE", "c", "abc"), ("EXPIRE", "c", "9223372036854775807"), ("PEXPIRE", "c", "9223372036854775807"),
    ("EXPIRE", "missing", "10"), ("PERSIST", "c"), ("TTL", "c"), ("PERSIST", "c"), ("EXPIRE", "c", "10", "XX"),
    ("EXPIRE", "c", "10", "GT"), ("EXPIRE", "c", "10", "LT"), ("TTL", "c"), ("PERSIST", "c"),
    ("PEXPIRE", "c", "100000"), ("TTL", "c"), ("EXPIREAT", "c", "99999999999"), ("EXPIRETIME", "c"), ("PEXPIRETIME", "c"),
    ("PEXPIREAT", "c", "99999999999999"), ("PEXPIRETIME", "c"), ("EXPIRETIME", "missing"), ("EXPIRETIME", "hello"),
    ("TTL", "missing"), ("PTTL", "missing"), ("TTL", "hello"),
    ("EXPIRE", "hllo", "-1"), ("EXISTS", "hllo"), ("EXPIREAT", "hxllo", "1"), ("EXISTS", "hxllo"),
    ("RENAME", "c", "c2"), ("GET", "c2"), ("RENAME", "missing", "x"), ("RENAME", "c2", "c2"), ("RENAMENX", "c2", "c2"),
    ("RENAMENX", "c2", "hello"), ("RENAMENX", "c2", "c3"), ("EXPIRETIME", "c3"), ("RENAME", "ttl", "ttl2"), ("TTL", "ttl2"),
    ("DBSIZE",), ("SELECT", "1"), ("SELECT", "16"), ("SELECT", "-1"), ("SELECT", "x"), ("SELECT", "0"),
    ("MOVE", "c3", "1"), ("MOVE", "c3", "1"), ("MOVE", "hello", "0"), ("MOVE", "hello", "99"), ("MOVE", "hello", "x"),
    ("SET", "c3", "again"), ("MOVE", "c3", "1"),
    ("COPY", "hello", "hello2"), ("GET", "hello2"), ("COPY", "hello", "hello2"), ("COPY", "hello", "hello2", "REPLACE"),
    ("COPY", "hello", "hello"), ("COPY", "hello", "x", "DB", "2"), ("COPY", "hello", "x", "DB", "99"), ("COPY", "hello", "x", "FOO"),
    ("COPY", "missing", "x"), ("COPY", "ttl2", "ttl3"), ("TTL", "ttl3"),
    ("SWAPDB", "0", "2"), ("GET", "x"), ("SWAPDB", "0", "2"), ("SWAPDB", "0", "x"), ("SWAPDB", "x", "0"), ("SWAPDB", "0", "99"),
    ("TOUCH", "hello", "missing", "hallo"),
    ("FLUSHDB", "FOO"), ("FLUSHALL", "SYNC", "ASYNC"),
    ("OBJECT", "FREQ", "hello"), ("OBJECT", "FOO", "hello"), ("OBJECT", "ENCODING"),
]


def test_key_commands_match_redis(diff):
    for cmd in SETUP:
        diff.both(*cmd)
    for cmd in CASES:
        diff.check(*cmd)


@pytest.mark.parametrize("pattern", ["*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h\\[e\\]llo",
                                     "h[e]llo", "*ll*", "[", "h[", "\\", "a*", "*o", "h*[e]*o", "?"])
def test_keys_glob_matches_redis(diff, pattern):
    for cmd in SETUP:
        diff.both(*cmd)
    diff.check("KEYS", pattern, unordered=True)


def test_scan_visits_every_key_once_per_full_iteration(r):
    keys = {f"key:{i}".encode() for i in range(5000)}
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, "v")
    pipe.execute()
    seen = []
    cursor = 0
    while True:
        cursor, batch = r.scan(cursor, count=100)
        seen.extend(batch)
        if cursor == 0:
            break
    assert set(seen) == keys


def test_scan_survives_growth_during_iteration(r):
    for i in range(200):
        r.set(f"old:{i}", "v")
    seen = set()
    cursor, n = 0, 0
    while True:
        cursor, batch = r.scan(cursor, count=10)
        seen.update(batch)
        for j in range(20):          # grow the table while scanning
            r.set(f"new:{n}:{j}", "v")
        n += 1
        if cursor == 0:
            break
    assert {f"old:{i}".encode() for i in range(200)} <= seen


def test_scan_options(r, diff):
    for i in range(30):
        r.set(f"user:{i}", "v")
        r.set(f"other:{i}", "v")
    cursor, found = 0, []
    while True:
        cursor, batch = r.scan(cursor, match="user:*", count=7)
        found.extend(batch)
        if cursor == 0:
            break
    assert sorted(found) == sorted(f"user:{i}".encode() for i in range(30))
    assert r.scan(0, _type="string", count=1000)[1]
    assert r.scan(0, _type="hash", count=1000)[1] == []
    diff.check("SCAN", "0", "COUNT", "0")
    diff.check("SCAN", "0", "COUNT", "x")
    diff.check("SCAN", "x")
    diff.check("SCAN", "-1")
    diff.check("SCAN", "0", "FOO", "bar")
    diff.check("SCAN", "0", "MATCH")


def test_randomkey(r):
    assert r.randomkey() is None
    r.set("only", "1")
    assert r.randomkey() == b"only"
    for i in range(50):
        r.set(f"k{i}", i)
    assert r.randomkey() is not None


def test_flush_and_select_isolation(r, larder):
    r.set("db0", "x")
    other = larder.client(db=3)
    other.set("db3", "y")
    assert r.get("db3") is None
    assert other.dbsize() == 1
    r.flushdb()
    assert r.dbsize() == 0 and other.dbsize() == 1
    r.flushall(asynchronous=True)
    assert other.dbsize() == 0
    other.close()


def test_object_idletime(r):
    r.set("idle", "v")
    assert r.object("idletime", "idle") <= 1
