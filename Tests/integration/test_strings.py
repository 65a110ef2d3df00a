"""String commands, checked against redis-server reply by reply."""
import time

import pytest

SETUP = [
    ("SET", "s", "hello"), ("SET", "n", "10"), ("SET", "neg", "-5"), ("SET", "f", "3.5"),
    ("SET", "big", "9223372036854775807"), ("SET", "small", "-9223372036854775808"),
    ("SET", "zero", "0"), ("SET", "lead", "007"), ("SET", "sp", " 1"),
    ("SET", "longstr", "x" * 60),
]

CASES = [
    ("GET", "s"), ("GET", "missing"), ("GET",), ("GET", "a", "b"),
    ("SET", "k", "v"), ("SET", "k", "v", "NX"), ("SET", "k", "v2", "XX"), ("GET", "k"),
    ("SET", "k", "v", "NX", "XX"), ("SET", "k", "v", "XX", "NX"), ("SET", "k", "v", "nx", "nx"),
    ("SET", "k", "v", "EX", "10"), ("TTL", "k"), ("SET", "k", "v", "PX", "10000"), ("TTL", "k"),
    ("SET", "k", "v", "EX", "0"), ("SET", "k", "v", "EX", "-1"), ("SET", "k", "v", "EX", "abc"),
    ("SET", "k", "v", "EX"), ("SET", "k", "v", "EX", "10", "PX", "100"), ("SET", "k", "v", "KEEPTTL", "EX", "1"),
    ("SET", "k", "v", "EX", "9223372036854775807"), ("SET", "k", "v", "PX", "9223372036854775807"),
    ("SET", "k", "v", "EX", "1", "EX", "100"), ("TTL", "k"),
    ("SET", "k", "v3", "KEEPTTL"), ("TTL", "k"), ("SET", "k", "v4"), ("TTL", "k"),
    ("SET", "k", "v5", "GET"), ("SET", "nokey", "v", "GET"), ("SET", "nokey2", "v", "NX", "GET"),
    ("SET", "k", "v6", "NX", "GET"), ("SET", "k", "v", "BOGUS"),
    ("SET", "k", "v", "EXAT", "1"), ("GET", "k"), ("SET", "k", "v", "PXAT", "99999999999999"), ("TTL", "k"),
    ("SETNX", "s", "x"), ("SETNX", "newnx", "x"), ("GET", "newnx"),
    ("SETEX", "se", "100", "v"), ("TTL", "se"), ("SETEX", "se", "0", "v"), ("SETEX", "se", "-3", "v"), ("SETEX", "se", "x", "v"),
    ("PSETEX", "pse", "100000", "v"), ("PSETEX", "pse", "0", "v"),
    ("MGET", "s", "n", "missing", "k"), ("MSET", "a", "1", "b", "2"), ("MSET", "a", "1", "b"), ("MGET", "a", "b"),
    ("MSETNX", "a", "1", "c", "3"), ("MSETNX", "c", "3", "d", "4"), ("MGET", "c", "d"),
    ("GETSET", "s", "world"), ("GETSET", "gs-new", "v"), ("GETDEL", "s"), ("GETDEL", "s"), ("EXISTS", "s"),
    ("GETEX", "n"), ("GETEX", "n", "EX", "100"), ("TTL", "n"), ("GETEX", "n", "PERSIST"), ("TTL", "n"),
    ("GETEX", "n", "EX", "0"), ("GETEX", "n", "KEEPTTL"), ("GETEX", "n", "PX", "1", "EX", "1"), ("GETEX", "missing", "EX", "10"),
    ("GETEX", "n", "PXAT", "1"), ("EXISTS", "n"), ("GETEX", "n", "NX"),
    ("APPEND", "ap", "abc"), ("APPEND", "ap", "def"), ("GET", "ap"), ("APPEND", "zero", "1"), ("GET", "zero"),
    ("STRLEN", "ap"), ("STRLEN", "missing"), ("STRLEN", "big"),
    ("INCR", "cnt"), ("INCR", "cnt"), ("INCRBY", "cnt", "10"), ("DECR", "cnt"), ("DECRBY", "cnt", "3"),
    ("INCRBY", "cnt", "abc"), ("INCRBY", "cnt", ""), ("INCRBY", "cnt", " 1"), ("INCRBY", "cnt", "1.5"),
    ("INCR", "big"), ("DECR", "small"), ("DECRBY", "cnt", "-9223372036854775808"), ("INCRBY", "cnt", "9223372036854775807"),
    ("INCR", "lead"), ("INCR", "sp"), ("INCR", "f"), ("INCR", "longstr"),
    ("INCRBYFLOAT", "fl", "0.1"), ("INCRBYFLOAT", "fl", "0.2"), ("INCRBYFLOAT", "fl", "1e3"), ("INCRBYFLOAT", "fl", "-1000.3"),
    ("INCRBYFLOAT", "fl", "abc"), ("INCRBYFLOAT", "fl", "inf"), ("INCRBYFLOAT", "fl", "nan"), ("INCRBYFLOAT", "f", "1.25"),
    ("INCRBYFLOAT", "n2", "5"), ("INCRBYFLOAT", "big", "1"), ("INCRBYFLOAT", "fl2", "1.5e300"),
    ("INCRBYFLOAT", "fl", " 1"), ("INCRBYFLOAT", "fl", "1 "), ("INCRBYFLOAT", "fl3", "-0"), ("INCRBYFLOAT", "fl4", "3.0"),
    ("GETRANGE", "longstr", "0", "4"), ("GETRANGE", "ap", "0", "-1"), ("GETRANGE", "ap", "-3", "-1"), ("GETRANGE", "ap", "5", "2"),
    ("GETRANGE", "ap", "-1", "-5"), ("GETRANGE", "ap", "100", "200"), ("GETRANGE", "ap", "-100", "100"), ("GETRANGE", "missing", "0", "1"),
    ("GETRANGE", "ap", "a", "1"), ("GETRANGE", "big", "0", "3"), ("SUBSTR", "ap", "1", "2"),
    ("SETRANGE", "sr", "5", "hi"), ("GET", "sr"), ("SETRANGE", "sr", "0", "HE"), ("GET", "sr"), ("SETRANGE", "sr", "-1", "x"),
    ("SETRANGE", "sr2", "3", ""), ("EXISTS", "sr2"), ("SETRANGE", "sr", "1", ""), ("SETRANGE", "big", "0", "1"), ("GET", "big"),
    ("SETRANGE", "sr", "536870912", "x"), ("SETRANGE", "sr", "x", "y"),
    ("SET", "l1", "ohmytext"), ("SET", "l2", "mynewtext"), ("LCS", "l1", "l2"), ("LCS", "l1", "l2", "LEN"),
    ("LCS", "l1", "l2", "IDX"), ("LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4"), ("LCS", "l1", "l2", "IDX", "WITHMATCHLEN"),
    ("LCS", "l1", "l2", "IDX", "LEN"), ("LCS", "l1", "missing"), ("LCS", "l1", "l2", "FOO"), ("LCS", "l1", "l2", "MINMATCHLEN", "x"),
    ("OBJECT", "ENCODING", "n"), ("OBJECT", "ENCODING", "lead"), ("OBJECT", "ENCODING", "ap"), ("OBJECT", "ENCODING", "longstr"),
    ("OBJECT", "ENCODING", "s"), ("OBJECT", "ENCODING", "sr"), ("OBJECT", "ENCODING", "fl"), ("OBJECT", "ENCODING", "big"),
    ("OBJECT", "ENCODING", "cnt"), ("OBJECT", "REFCOUNT", "cnt"), ("OBJECT", "REFCOUNT", "ap"), ("OBJECT", "ENCODING", "missing"),
]


def test_string_commands_match_redis(diff):
    for cmd in SETUP:
        diff.both(*cmd)
    for cmd in CASES:
        diff.check(*cmd)


def test_integers_are_stored_as_integers(r):
    r.set("i", "12345")
    assert r.object("encoding", "i") == b"int"
    r.set("e", "1" * 30)
    assert r.object("encoding", "e") == b"embstr"
    r.append("e", "x")
    assert r.object("encoding", "e") == b"raw"


def test_binary_values_round_trip(r):
    value = bytes(range(256)) * 40
    r.set(b"bin\x00key", value)
    assert r.get(b"bin\x00key") == value
    assert r.strlen(b"bin\x00key") == len(value)


def test_set_expiry_lazy_and_active(r):
    r.set("lazy", "v", px=50)
    r.set("active", "v", px=50)
    for i in range(100):
        r.set(f"bulk{i}", "v", px=50)
    time.sleep(0.3)
    assert r.get("lazy") is None
    # Nobody reads "bulk*": active expiry must remove them by itself.
    deadline = time.time() + 5
    while time.time() < deadline and r.dbsize() > 0:
        time.sleep(0.1)
    assert r.dbsize() == 0
    assert r.info("stats")["expired_keys"] >= 101


def test_large_value(r):
    v = b"z" * (8 * 1024 * 1024)
    r.set("large", v)
    assert r.get("large") == v
