"""Streams against redis-server: random sequences of every stream command (explicit IDs, so
both servers see the same ones), node splits under small stream-node-max-* settings checked
through approximate trimming and radix-tree-keys, replies with clock readings masked."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resp import Reply

EXAMPLES = int(os.environ.get("LARDER_EXAMPLES", "150"))

KEYS = st.sampled_from(["s0", "s1"])
GROUPS = st.sampled_from(["g0", "g1"])
CONSUMERS = st.sampled_from(["alice", "bob", "carol"])
MS = st.integers(min_value=0, max_value=40)
VALID_IDS = st.one_of(st.builds(lambda ms, seq: f"{ms}-{seq}", MS, st.integers(min_value=0, max_value=3)), MS.map(str))
IDS = st.one_of(
    VALID_IDS, VALID_IDS, VALID_IDS, VALID_IDS,
    st.sampled_from(["0-0", "abc", "1-x", "-", "+", "18446744073709551615-18446744073709551615", "18446744073709551616",
                     " 5", "+5", "-5", "05-1"]),
)
ADD_IDS = st.one_of(IDS, st.builds(lambda ms: f"{ms}-*", MS))
BOUNDS = st.one_of(IDS, st.builds(lambda i: f"({i}", IDS))
FIELDS = st.lists(st.tuples(st.sampled_from(["f", "g", "h", "123", "n"]),
                            st.one_of(st.sampled_from(["v", "1", "-7", "x" * 70, ""]), st.integers(-5000, 5000).map(str))),
                  min_size=1, max_size=3)
TRIM = st.one_of(
    st.just(()),
    st.builds(lambda kind, op, n, lim: (kind, *op, n, *lim), st.just("MAXLEN"), st.sampled_from([(), ("=",), ("~",)]),
              st.sampled_from(["0", "1", "3", "5", "20", "-1", "x"]), st.sampled_from([(), ("LIMIT", "2"), ("LIMIT", "0")])),
    st.builds(lambda kind, op, n, lim: (kind, *op, n, *lim), st.just("MINID"), st.sampled_from([(), ("=",), ("~",)]),
              IDS, st.sampled_from([(), ("LIMIT", "3")])),
)
COUNT = st.sampled_from([(), ("COUNT", "1"), ("COUNT", "2"), ("COUNT", "0"), ("COUNT", "-1"), ("COUNT", "x")])

COMMANDS = st.one_of(
    st.builds(lambda k, nomk, trim, i, f: ("XADD", k, *nomk, *trim, i, *[x for p in f for x in p]),
              KEYS, st.sampled_from([(), ("NOMKSTREAM",)]), TRIM, ADD_IDS, FIELDS),
    st.builds(lambda k, a, b, cnt: ("XRANGE", k, a, b, *cnt), KEYS, BOUNDS, BOUNDS, COUNT),
    st.builds(lambda k, a, b, cnt: ("XREVRANGE", k, a, b, *cnt), KEYS, BOUNDS, BOUNDS, COUNT),
    st.tuples(st.just("XLEN"), KEYS),
    st.builds(lambda k, ids: ("XDEL", k, *ids), KEYS, st.lists(IDS, min_size=1, max_size=3)),
    st.builds(lambda k, trim: ("XTRIM", k, *trim), KEYS, TRIM),
    st.builds(lambda k, g, i, opts: ("XGROUP", "CREATE", k, g, i, *opts), KEYS, GROUPS, st.one_of(IDS, st.just("$")),
              st.sampled_from([(), ("MKSTREAM",), ("ENTRIESREAD", "2"), ("MKSTREAM", "ENTRIESREAD", "-1"), ("BOGUS",)])),
    st.builds(lambda k, g, i, opts: ("XGROUP", "SETID", k, g, i, *opts), KEYS, GROUPS, st.one_of(IDS, st.just("$")),
              st.sampled_from([(), ("ENTRIESREAD", "3")])),
    st.builds(lambda k, g: ("XGROUP", "DESTROY", k, g), KEYS, GROUPS),
    st.builds(lambda sub, k, g, c: ("XGROUP", sub, k, g, c), st.sampled_from(["CREATECONSUMER", "DELCONSUMER"]), KEYS, GROUPS, CONSUMERS),
    st.builds(lambda g, c, cnt, noack, ks, i: ("XREADGROUP", "GROUP", g, c, *cnt, *noack, "STREAMS", *ks, *[i] * len(ks)),
              GROUPS, CONSUMERS, COUNT, st.sampled_from([(), ("NOACK",)]), st.lists(KEYS, min_size=1, max_size=2, unique=True),
              st.one_of(st.just(">"), IDS)),
    st.builds(lambda cnt, ks, i: ("XREAD", *cnt, "STREAMS", *ks, *[i] * len(ks)),
              COUNT, st.lists(KEYS, min_size=1, max_size=2, unique=True), st.one_of(IDS, st.just("$"))),
    st.builds(lambda k, g, ids: ("XACK", k, g, *ids), KEYS, GROUPS, st.lists(IDS, min_size=1, max_size=3)),
    st.builds(lambda k, g: ("XPENDING", k, g), KEYS, GROUPS),
    st.builds(lambda k, g, a, b, n, c: ("XPENDING", k, g, a, b, n, *c), KEYS, GROUPS, BOUNDS, BOUNDS,
              st.sampled_from(["1", "10", "10", "0", "-1", "x"]), st.sampled_from([(), (), ("alice",), ("nobody",)])),
    st.builds(lambda k, g, c, ids, opts: ("XCLAIM", k, g, c, "0", *ids, *opts), KEYS, GROUPS, CONSUMERS,
              st.lists(IDS, min_size=1, max_size=2),
              st.sampled_from([("JUSTID",), ("JUSTID", "FORCE"), ("JUSTID", "RETRYCOUNT", "5"), ("JUSTID", "LASTID", "30-0"),
                               ("JUSTID", "BOGUS"), ("JUSTID", "IDLE", "x")])),
    st.builds(lambda k, g, c, s, cnt, j: ("XAUTOCLAIM", k, g, c, "0", s, *cnt, *j), KEYS, GROUPS, CONSUMERS, BOUNDS,
              st.sampled_from([(), ("COUNT", "1"), ("COUNT", "0"), ("COUNT", "x")]), st.sampled_from([(), ("JUSTID",)])),
    st.builds(lambda k, i, opts: ("XSETID", k, i, *opts), KEYS, IDS,
              st.sampled_from([(), ("ENTRIESADDED", "100"), ("ENTRIESADDED", "0"), ("MAXDELETEDID", "3-0"), ("MAXDELETEDID", "99-0")])),
    st.builds(lambda k: ("XINFO", "GROUPS", k), KEYS),
    st.builds(lambda k: ("XINFO", "STREAM", k), KEYS),
    st.builds(lambda k, n: ("XINFO", "STREAM", k, "FULL", "COUNT", n), KEYS, st.sampled_from(["0", "2"])),
    st.builds(lambda k, g: ("XINFO", "CONSUMERS", k, g), KEYS, GROUPS),
    st.tuples(st.just("SET"), KEYS, st.just("x")),
    st.tuples(st.just("DEL"), KEYS),
)
# The same, with the everyday valid forms drawn more often.
SETUP_IDS = st.builds(lambda i: f"{i + 1}-{i % 3}", st.integers(min_value=0, max_value=6))
COMMANDS = st.one_of(
    COMMANDS,
    st.builds(lambda k: ("XRANGE", k, "-", "+", "COUNT", "5"), KEYS),
    st.builds(lambda c, k, n: ("XREADGROUP", "GROUP", "g0", c, "COUNT", n, "STREAMS", k, ">"), CONSUMERS, KEYS,
              st.sampled_from(["1", "3"])),
    st.builds(lambda c, k: ("XREADGROUP", "GROUP", "g0", c, "STREAMS", k, "0"), CONSUMERS, KEYS),
    st.builds(lambda k, ids: ("XACK", k, "g0", *ids), KEYS, st.lists(SETUP_IDS, min_size=1, max_size=3)),
    st.builds(lambda k, ids: ("XDEL", k, *ids), KEYS, st.lists(SETUP_IDS, min_size=1, max_size=2)),
    st.builds(lambda k, c: ("XPENDING", k, "g0", "-", "+", "10", *c), KEYS, st.sampled_from([(), ("alice",)])),
    st.builds(lambda k, idle, c: ("XPENDING", k, "g0", "IDLE", idle, "-", "+", "10", *c), KEYS,
              st.sampled_from(["0", "-5", "3600000", "x"]), st.sampled_from([(), ("bob",)])),
    st.builds(lambda k, c, ids: ("XCLAIM", k, "g0", c, "0", *ids, "JUSTID"), KEYS, CONSUMERS, st.lists(SETUP_IDS, min_size=1, max_size=3)),
    st.builds(lambda k, c, ids: ("XCLAIM", k, "g0", c, "0", *ids), KEYS, CONSUMERS, st.lists(SETUP_IDS, min_size=1, max_size=2)),
    st.builds(lambda k, c, n: ("XAUTOCLAIM", k, "g0", c, "0", "0", "COUNT", n), KEYS, CONSUMERS, st.sampled_from(["1", "2", "5"])),
    st.builds(lambda k, op, n: ("XTRIM", k, "MAXLEN", op, n), KEYS, st.sampled_from(["=", "~"]), st.sampled_from(["2", "5", "10"])),
    st.builds(lambda k, i: ("XADD", k, i, "f", "v"), KEYS, st.builds(lambda ms: f"{ms}-*", st.integers(30, 60))),
)

# Reply parts that read a clock (idle times, delivery and seen times) or a radix tree's
# internal node count.
TIMED = {b"idle", b"seen-time", b"radix-tree-nodes"}


def mask(cmd, reply):
    name = cmd[0].upper()
    if name == "XPENDING" and len(cmd) > 3 and reply.kind == "*" and reply.value:
        return Reply("*", tuple(Reply("*", (r.value[0], r.value[1], Reply(":", 0), r.value[3])) for r in reply.value))
    return scrub(reply, full=name == "XINFO" and "FULL" in [c.upper() for c in cmd])


def scrub(reply, full=False):
    if not isinstance(reply, Reply) or reply.kind not in ("*", "%") or reply.value is None:
        return reply
    items = list(reply.value)
    out = []
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Reply) and item.kind == "$" and item.value in TIMED and i + 1 < len(items):
            out += [item, Reply(":", 0)]
            i += 2
            continue
        if full and isinstance(item, Reply) and item.kind == "$" and item.value == b"pending" and i + 1 < len(items):
            # [id, consumer, delivery time, count] or [id, delivery time, count]
            rows = []
            for row in items[i + 1].value:
                v = list(row.value)
                v[-2] = Reply(":", 0)
                rows.append(Reply("*", tuple(v)))
            out += [item, Reply("*", tuple(rows))]
            i += 2
            continue
        out.append(scrub(item, full))
        i += 1
    return Reply(reply.kind, tuple(out))


def compare(diff, *cmd):
    mine, theirs = diff.both(*cmd)
    mine, theirs = mask(cmd, mine), mask(cmd, theirs)
    assert mine == theirs, f"{cmd!r}: larder {mine!r} != redis {theirs!r}"


@pytest.fixture
def sdiff(diff):
    yield diff
    diff.both("CONFIG", "SET", "stream-node-max-entries", "100")
    diff.both("CONFIG", "SET", "stream-node-max-bytes", "4096")


# Each sequence starts from streams with entries and groups (drawn sizes), so that reads,
# claims and acknowledgements have something to work on.
SETUP = st.tuples(st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=8),
                  st.sampled_from([(), ("g0",), ("g0", "g1")]), st.sampled_from(["0", "$", "5-0"]))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([("100", "4096"), ("3", "4096"), ("100", "120"), ("2", "0")]), SETUP,
       st.lists(COMMANDS, min_size=1, max_size=30))
def test_random_stream_sequences(sdiff, node_limits, setup, commands):
    diff = sdiff
    diff.both("FLUSHALL")
    diff.both("CONFIG", "SET", "stream-node-max-entries", node_limits[0])
    diff.both("CONFIG", "SET", "stream-node-max-bytes", node_limits[1])
    n0, n1, groups, start = setup
    for key, n in (("s0", n0), ("s1", n1)):
        for i in range(n):
            compare(diff, "XADD", key, f"{i + 1}-{i % 3}", "f", str(i), *(("g", "x" * (i * 7)) if i % 4 == 0 else ()))
        for g in groups:
            compare(diff, "XGROUP", "CREATE", key, g, start, "MKSTREAM")
    for cmd in commands:
        compare(diff, *cmd)
    for key in ["s0", "s1"]:
        compare(diff, "XINFO", "STREAM", key, "FULL", "COUNT", "0")
        compare(diff, "TYPE", key)
        compare(diff, "OBJECT", "ENCODING", key)


def test_errors_and_edges(diff):
    cases = [
        ("XADD", "s", "1-1"), ("XADD", "s", "1-1", "f"), ("XADD", "s", "0-0", "f", "v"), ("XADD", "s", "0", "f", "v"),
        ("XADD", "s", "NOMKSTREAM", "1-1", "f", "v"), ("EXISTS", "s"), ("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "f", "v"),
        ("XADD", "s", "LIMIT", "5", "1-1", "f", "v"), ("XADD", "s", "MAXLEN", "=", "1", "LIMIT", "5", "1-1", "f", "v"),
        ("XADD", "s", "5-5", "f", "v"), ("XADD", "s", "5-5", "f", "v"), ("XADD", "s", "5-*", "f", "v"), ("XADD", "s", "4-*", "f", "v"),
        ("XADD", "s", "18446744073709551615-18446744073709551615", "f", "v"), ("XADD", "s", "*", "f", "v"),
        ("XADD", "s", "18446744073709551615-*", "f", "v"),
        ("XLEN", "s"), ("XTRIM", "s"), ("XTRIM", "s", "MAXLEN"), ("XTRIM", "s", "FOO", "1"), ("XTRIM", "s", "MAXLEN", "-1"),
        ("XTRIM", "s", "MAXLEN", "~", "1", "LIMIT", "-1"), ("XTRIM", "missing", "MAXLEN", "0"),
        ("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"), ("XRANGE", "s", "-", "(0-0"),
        ("XRANGE", "s", "-", "+", "COUNT"), ("XRANGE", "s", "-", "+", "FOO", "1"), ("XRANGE", "missing", "-", "+", "COUNT", "0"),
        ("XRANGE", "s", "(-", "+"), ("XRANGE", "s", "(", "+"),
        ("XREAD", "STREAMS", "s"), ("XREAD", "COUNT", "1"), ("XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"),
        ("XREAD", "NOACK", "STREAMS", "s", "0"), ("XREAD", "STREAMS", "s", ">"), ("XREAD", "BLOCK", "-1", "STREAMS", "s", "0"),
        ("XREAD", "BLOCK", "x", "STREAMS", "s", "0"), ("XREAD", "STREAMS", "s", "$"), ("XREAD", "STREAMS", "s", "0"),
        ("XREADGROUP", "STREAMS", "s", ">", "x", "y"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
        ("XGROUP", "CREATE", "s", "g", "$"), ("XGROUP", "CREATE", "s", "g", "$"), ("XGROUP", "CREATE", "nokey", "g", "$"),
        ("XGROUP", "CREATE", "s", "g2", "0", "MKSTREAM", "ENTRIESREAD", "-2"), ("XGROUP", "CREATE", "s", "g2", "0", "FOO"),
        ("XGROUP", "CREATE", "s", "g"), ("XGROUP", "SETID", "s", "nog", "0"), ("XGROUP", "CREATECONSUMER", "s", "nog", "c"),
        ("XGROUP", "HELP"), ("XGROUP", "FOO"), ("XGROUP", "DESTROY", "s", "nog"), ("XGROUP", "DELCONSUMER", "s", "g", "ghost"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"), ("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"),
        ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"),
        ("XACK", "s", "g", "x"), ("XACK", "nokey", "g", "x"), ("XACK", "s", "nog", "x"),
        ("XPENDING", "s", "g", "-"), ("XPENDING", "s", "nog"), ("XPENDING", "s", "g", "IDLE", "x", "-", "+", "1"),
        ("XPENDING", "s", "g", "IDLE", "10", "-", "+"),
        ("XCLAIM", "s", "g", "c", "x", "1-1"), ("XCLAIM", "s", "nog", "c", "0", "1-1"), ("XCLAIM", "s", "g", "c", "0", "1-1", "TIME", "x"),
        ("XAUTOCLAIM", "s", "g", "c", "x", "0"), ("XAUTOCLAIM", "s", "g", "c", "0", "x"), ("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0"),
        ("XAUTOCLAIM", "s", "nog", "c", "0", "0"),
        ("XSETID", "s", "1-1"), ("XSETID", "nokey", "1-1"), ("XSETID", "s", "99999999999999-0", "ENTRIESADDED", "-1"),
        ("XSETID", "s", "99999999999999-0", "MAXDELETEDID", "999999999999999-0"), ("XSETID", "s", "5-5", "FOO", "1"),
        ("XINFO", "STREAM", "nokey"), ("XINFO", "STREAM", "s", "FULL", "COUNT"), ("XINFO", "STREAM", "s", "FOO"),
        ("XINFO", "CONSUMERS", "s", "nog"), ("XINFO", "HELP"), ("XINFO", "GROUPS", "nokey"),
        ("SET", "str", "x"), ("XADD", "str", "1-1", "f", "v"), ("XLEN", "str"), ("XRANGE", "str", "-", "+"),
        ("XREAD", "STREAMS", "str", "0"), ("XGROUP", "CREATE", "str", "g", "0"), ("XINFO", "STREAM", "str"),
        ("XDEL", "str", "1-1"), ("XDEL", "nokey", "bad"), ("XTRIM", "str", "MAXLEN", "0"), ("TYPE", "s"),
    ]
    for cmd in cases:
        if cmd[:3] == ("XADD", "s", "*"):
            diff.both(*cmd)
            continue
        compare(diff, *cmd)


def build_streams(conn, groups=True):
    """Streams of every shape: several nodes, deleted entries, trimmed heads, big and integer
    values, groups with pending entries, consumers with and without any, an empty stream."""
    conn.call("CONFIG", "SET", "stream-node-max-entries", "4")
    for i in range(1, 30):
        conn.call("XADD", "big", f"{i}-{i % 2}", "f", str(i), "g", "x" * (i * 13) if i % 5 == 0 else "short")
    for i in (3, 4, 9, 17):
        conn.call("XDEL", "big", f"{i}-{i % 2}")
    conn.call("XTRIM", "big", "MAXLEN", "~", "20")
    conn.call("XTRIM", "big", "MINID", "6-0")
    conn.call("XADD", "other", "100-5", "a", "1")
    conn.call("XADD", "other", "100-*", "b", "-123456789012", "c", "2")
    conn.call("XADD", "empty", "1-1", "f", "v")
    conn.call("XDEL", "empty", "1-1")
    if not groups:
        conn.call("CONFIG", "SET", "stream-node-max-entries", "100")
        return ["big", "other", "empty"]
    conn.call("XGROUP", "CREATE", "big", "workers", "0")
    conn.call("XGROUP", "CREATE", "big", "late", "$", "ENTRIESREAD", "5")
    conn.call("XREADGROUP", "GROUP", "workers", "alice", "COUNT", "3", "STREAMS", "big", ">")
    conn.call("XREADGROUP", "GROUP", "workers", "bob", "COUNT", "4", "STREAMS", "big", ">")
    conn.call("XACK", "big", "workers", "10-0")
    conn.call("XGROUP", "CREATECONSUMER", "big", "workers", "idle-one")
    conn.call("XCLAIM", "big", "workers", "carol", "0", "12-0", "RETRYCOUNT", "7", "JUSTID")
    conn.call("XGROUP", "CREATE", "empty", "g", "0")
    conn.call("CONFIG", "SET", "stream-node-max-entries", "100")
    return ["big", "other", "empty"]


def info(conn, key):
    """XINFO STREAM FULL with everything, clocks included (they travel with the value)."""
    return scrub_nodes(conn.call("XINFO", "STREAM", key, "FULL", "COUNT", "0"))


def unseen(reply):
    """The reply with consumers' seen-time zeroed."""
    if not isinstance(reply, Reply) or reply.kind not in ("*", "%") or reply.value is None:
        return reply
    items = [unseen(x) for x in reply.value]
    for i in range(len(items) - 1):
        if items[i] in (Reply("$", b"seen-time"), Reply("$", b"radix-tree-keys")):
            items[i + 1] = Reply(":", 0)
    return Reply(reply.kind, tuple(items))


def scrub_nodes(reply):
    items = list(reply.value)
    i = items.index(Reply("$", b"radix-tree-nodes"))
    items[i + 1] = Reply(":", 0)
    return Reply(reply.kind, tuple(items))


def test_dump_restore_both_ways_byte_for_byte(diff):
    # Built alike on both (no groups: their clocks differ), the values are the same bytes:
    # without LZF a payload is the listpacks themselves, so Larder's nodes are Redis's.
    keys = build_streams(diff.larder, groups=False)
    build_streams(diff.redis, groups=False)
    diff.both("CONFIG", "SET", "rdbcompression", "no")
    try:
        for key in keys:
            mine, theirs = diff.both("DUMP", key)
            assert mine == theirs, key
    finally:
        diff.both("CONFIG", "SET", "rdbcompression", "yes")
    diff.both("FLUSHALL")
    keys = build_streams(diff.larder)
    build_streams(diff.redis)
    for key in keys:
        compare(diff, "XINFO", "STREAM", key, "FULL")
        mine, theirs = diff.both("DUMP", key)
        assert diff.redis.call("RESTORE", key + ":from-larder", "0", mine.value) == Reply("+", b"OK")
        assert diff.larder.call("RESTORE", key + ":from-redis", "0", theirs.value) == Reply("+", b"OK")
        assert info(diff.redis, key + ":from-larder") == info(diff.larder, key)
        assert info(diff.larder, key + ":from-redis") == info(diff.redis, key)
    # What Larder restored from Redis's bytes it writes back as the same bytes.
    diff.both("CONFIG", "SET", "rdbcompression", "no")
    try:
        for key in keys:
            assert diff.larder.call("DUMP", key + ":from-redis") == diff.redis.call("DUMP", key)
    finally:
        diff.both("CONFIG", "SET", "rdbcompression", "yes")


def test_rdb_files_both_ways(tmp_path):
    import shutil
    from test_rdb import check_rdb, larder_on, redis_on
    from resp import Conn
    a = larder_on(str(tmp_path / "a"))
    try:
        conn = Conn(a.port)
        keys = build_streams(conn)
        expected = {k: info(conn, k) for k in keys}
        assert conn.call("SAVE") == Reply("+", b"OK")
    finally:
        a.stop()
    check_rdb(str(tmp_path / "a" / "dump.rdb"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    b = redis_on(str(tmp_path / "b"))
    try:
        conn = Conn(b.port)
        assert {k: info(conn, k) for k in keys} == expected
        assert conn.call("SAVE") == Reply("+", b"OK")
    finally:
        b.stop()
    shutil.copytree(tmp_path / "b", tmp_path / "c")
    c = larder_on(str(tmp_path / "c"))
    try:
        conn = Conn(c.port)
        assert {k: info(conn, k) for k in keys} == expected
    finally:
        c.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_aof_replays_streams_and_groups(preamble, tmp_path):
    from conftest import start_larder, start_redis
    from resp import Conn
    args = ("--dir", str(tmp_path), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--aof-use-rdb-preamble", preamble)
    s = start_larder(*args)
    try:
        conn = Conn(s.port)
        keys = build_streams(conn)
        conn.call("XAUTOCLAIM", "big", "workers", "dave", "0", "0", "COUNT", "2")
        conn.call("XADD", "big", "MAXLEN", "~", "25", "90-0", "f", "v")
        # Half the history goes into the base file, the rest is replayed on top of it.
        assert conn.call("BGREWRITEAOF").kind == "+"
        import time
        time.sleep(1)
        conn.call("XREADGROUP", "GROUP", "workers", "erin", "NOACK", "STREAMS", "big", ">")
        conn.call("XGROUP", "SETID", "big", "late", "12-0")
        conn.call("XGROUP", "DELCONSUMER", "big", "workers", "bob")
        # A consumer created by a replayed command is seen at replay time, and replayed XADDs
        # fill fresh nodes (both as in Redis).
        expected = {k: unseen(info(conn, k)) for k in keys}
    finally:
        s.stop()
    s = start_larder(*args)
    try:
        conn = Conn(s.port)
        assert {k: unseen(info(conn, k)) for k in keys} == expected
    finally:
        s.stop()
    o = start_redis("--dir", str(tmp_path), "--appendonly", "yes")
    try:
        conn = Conn(o.port)
        got = {k: unseen(info(conn, k)) for k in keys}
        assert got == expected
    finally:
        o.stop()


# Blocking reads and a work queue, with redis-py against the Larder binary.

def _later(fn, delay=0.2):
    import threading
    t = threading.Timer(delay, fn)
    t.start()
    return t


def test_xread_block_is_woken_by_xadd_from_another_connection(larder):
    import threading
    r = larder.client()
    r.flushall()
    r.xadd("s", {"f": "old"}, id="1-0")
    got = {}

    def reader(name, last, **kw):
        got[name] = larder.client().xread({"s": last}, block=5000, **kw)

    threads = [threading.Thread(target=reader, args=("dollar", "$")),
               threading.Thread(target=reader, args=("zero", "1-0")),
               threading.Thread(target=reader, args=("future", "50-0"))]
    for t in threads:
        t.start()
    _later(lambda: r.xadd("s", {"f": "new"}, id="2-0")).join()
    threads[0].join(5)
    threads[1].join(5)
    assert got["dollar"] == [[b"s", [(b"2-0", {b"f": b"new"})]]]
    assert got["zero"] == [[b"s", [(b"2-0", {b"f": b"new"})]]]
    assert "future" not in got           # still waiting for an ID past 50-0
    r.xadd("s", {"f": "later"}, id="60-0")
    threads[2].join(5)
    assert got["future"] == [[b"s", [(b"60-0", {b"f": b"later"})]]]
    # A timeout answers null; inside MULTI a blocking read answers at once.
    assert r.xread({"s": "$"}, block=100) == []
    p = r.pipeline()
    p.xread({"s": "$"}, block=0)
    assert p.execute() == [[]]


def test_xreadgroup_block_hands_each_entry_to_one_consumer(larder):
    import threading
    r = larder.client()
    r.flushall()
    r.xgroup_create("q", "g", id="$", mkstream=True)
    got = []

    def consumer(name):
        reply = larder.client().xreadgroup("g", name, {"q": ">"}, count=1, block=5000)
        got.append((name, reply[0][1][0][0]))

    threads = [threading.Thread(target=consumer, args=(n,)) for n in ("c1", "c2")]
    for t in threads:
        t.start()
    _later(lambda: r.xadd("q", {"job": "1"}, id="1-0")).join()
    import time
    time.sleep(0.3)
    assert len(got) == 1
    r.xadd("q", {"job": "2"}, id="2-0")
    for t in threads:
        t.join(5)
    assert sorted(i for _, i in got) == [b"1-0", b"2-0"]
    assert {n for n, _ in got} == {"c1", "c2"}
    assert r.xpending("q", "g")["pending"] == 2
    # Destroying the group wakes a blocked reader with NOGROUP.
    errors = []

    def doomed():
        try:
            larder.client().xreadgroup("g", "c3", {"q": ">"}, block=5000)
        except Exception as e:
            errors.append(str(e))

    t = threading.Thread(target=doomed)
    t.start()
    _later(lambda: r.xgroup_destroy("q", "g")).join()
    t.join(5)
    assert errors and "NOGROUP" in errors[0]


def _worker(port, name, die_after=None):
    """A worker process: reads jobs with XREADGROUP, records and acknowledges each; with
    `die_after`, takes that many and exits without acknowledging (a crash)."""
    import os
    import redis
    r = redis.Redis(port=port)
    while True:
        reply = r.xreadgroup("workers", name, {"jobs": ">"}, count=die_after or 5, block=300)
        if not reply:
            return
        if die_after:
            os._exit(0)
        for entry_id, fields in reply[0][1]:
            r.sadd("done", fields[b"n"])
            r.hincrby("by", name, 1)
            r.xack("jobs", "workers", entry_id)


def test_work_queue_across_processes_with_reclaim(larder):
    import multiprocessing
    import time
    r = larder.client()
    r.flushall()
    r.xgroup_create("jobs", "workers", id="0", mkstream=True)
    for n in range(200):
        r.xadd("jobs", {"n": str(n)})
    ctx = multiprocessing.get_context("fork")
    crasher = ctx.Process(target=_worker, args=(larder.port, "crasher", 7))
    crasher.start()
    crasher.join(10)
    assert crasher.exitcode == 0
    workers = [ctx.Process(target=_worker, args=(larder.port, f"w{i}")) for i in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    # The crashed worker's 7 jobs are still pending, owned by it.
    summary = r.xpending("jobs", "workers")
    assert summary["pending"] == 7
    assert summary["consumers"] == [{"name": b"crasher", "pending": 7}]
    assert r.scard("done") == 193
    # A rescuer claims what has been idle long enough, processes and acknowledges it.
    time.sleep(0.2)
    cursor = "0-0"
    while True:
        cursor, claimed, deleted = r.xautoclaim("jobs", "workers", "rescuer", min_idle_time=100, start_id=cursor, count=3)
        for entry_id, fields in claimed:
            r.sadd("done", fields[b"n"])
            r.xack("jobs", "workers", entry_id)
        if cursor == b"0-0":
            break
    assert r.scard("done") == 200
    assert r.xpending("jobs", "workers")["pending"] == 0
    by = {k.decode(): int(v) for k, v in r.hgetall("by").items()}
    assert sum(by.values()) == 193 and len(by) >= 1
    info = {c["name"]: c for c in r.xinfo_consumers("jobs", "workers")}
    assert info[b"crasher"]["pending"] == 0 and info[b"rescuer"]["pending"] == 0


def test_generic_commands_on_streams(diff):
    build_streams(diff.larder, groups=False)
    build_streams(diff.redis, groups=False)
    for cmd in [("SORT", "big"), ("SORT_RO", "other"), ("COPY", "big", "big2"), ("RENAME", "other", "other2"),
                ("TYPE", "other2"), ("OBJECT", "ENCODING", "big2"), ("GET", "big"), ("LPUSH", "big", "x"),
                ("MOVE", "big2", "3"), ("EXISTS", "big2"), ("EXPIRE", "big", "100"), ("TTL", "big"),
                ("SCAN", "0", "TYPE", "stream", "COUNT", "100"), ("XLEN", "empty"), ("DEL", "empty"),
                ("XRANGE", "other2", "-", "+")]:
        if cmd[0] == "SCAN":
            diff.check(*cmd, unordered=True)
            continue
        compare(diff, *cmd)
    compare(diff, "XINFO", "STREAM", "big", "FULL")
    diff.both("SELECT", "3")
    compare(diff, "XINFO", "STREAM", "big2", "FULL")
    diff.both("SELECT", "0")
