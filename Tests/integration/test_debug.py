"""DEBUG behind enable-debug-command, side by side with redis-server 7.0: POPULATE (names,
values, sizes, keys already there, errors), SET-ACTIVE-EXPIRE, RELOAD and its options,
CHANGE-REPL-ID, LOG, and the errors of the rest."""
import socket
import time

from conftest import start_larder, start_redis
from differential import Differ
from resp import encode


def test_debug_as_redis():
    mine, theirs = start_larder("--enable-debug-command", "yes"), start_redis("--enable-debug-command", "yes")
    d = Differ(mine.port, theirs.port)
    try:
        d.check("SET", "key:1", "mine")
        for cmd in (("DEBUG", "POPULATE", "3"), ("GET", "key:0"), ("GET", "key:1"), ("GET", "key:2"),
                    ("DEBUG", "POPULATE", "2", "p", "20"), ("GET", "p:1"), ("STRLEN", "p:1"),
                    ("DEBUG", "POPULATE", "2", "q", "3"), ("GET", "q:0"), ("DEBUG", "POPULATE", "2", "key", "0"),
                    ("DEBUG", "POPULATE", "-1"), ("DEBUG", "POPULATE", "abc"), ("DEBUG", "POPULATE", "1", "a", "-2"),
                    ("DEBUG", "POPULATE"), ("DEBUG", "POPULATE", "1", "a", "b", "c"), ("DBSIZE",),
                    ("DEBUG", "SET-ACTIVE-EXPIRE"), ("DEBUG", "NOPE"), ("DEBUG", "LOG", "hello"),
                    ("DEBUG", "RELOAD", "BADOPTION")):
            d.check(*cmd)
        # With active expiry off, a key past its time stays until something reads it.
        d.check("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        d.check("SET", "short", "v", "PX", "50")
        time.sleep(0.5)
        d.check("DBSIZE")
        d.check("GET", "short")
        d.check("DBSIZE")
        d.check("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        # RELOAD: saved, flushed, loaded back; NOSAVE NOFLUSH without MERGE meets the same keys.
        d.check("HSET", "h", "f", "v")
        d.check("DEBUG", "RELOAD")
        d.check("DBSIZE")
        d.check("HGETALL", "h")
        d.check("GET", "p:0")
        d.check("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE")
        d.check("DBSIZE")
        ids = [c.call("INFO", "replication").value for c in (d.larder, d.redis)]
        d.check("DEBUG", "CHANGE-REPL-ID")
        assert [c.call("INFO", "replication").value for c in (d.larder, d.redis)] != ids
        d.check("CONFIG", "SET", "enable-debug-command", "no")   # immutable: refused on both
    finally:
        d.close()
        mine.stop()
        theirs.stop()
    with open(mine.log.name) as f:
        assert "DEBUG LOG: hello" in f.read()


def test_debug_refused_unless_enabled():
    mine, theirs = start_larder("--enable-debug-command", "no"), start_redis("--enable-debug-command", "no")
    d = Differ(mine.port, theirs.port)
    try:
        d.check("DEBUG", "POPULATE", "1")
        d.check("DEBUG", "HELP")
    finally:
        d.close()
        mine.stop()
        theirs.stop()


def test_debug_protocol_as_redis():
    """Every reply type DEBUG PROTOCOL gives, in RESP2 and RESP3, byte for byte (read raw:
    attributes and pushes come with the reply that follows them)."""
    mine, theirs = start_larder("--enable-debug-command", "yes"), start_redis("--enable-debug-command", "yes")
    try:
        for resp in ("2", "3"):
            conns = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for s in (mine, theirs)]
            for t in ("string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
                      "verbatim", "true", "false", "nope", "STRING"):
                replies = []
                for conn in conns:
                    conn.sendall(encode("HELLO", resp) if t == "string" else b"")
                    if t == "string":
                        time.sleep(0.1)
                        conn.recv(65536)
                    conn.sendall(encode("DEBUG", "PROTOCOL", t))
                    time.sleep(0.1)
                    replies.append(conn.recv(65536))
                assert replies[0] == replies[1], (resp, t, replies)
            for conn in conns:
                conn.close()
    finally:
        mine.stop()
        theirs.stop()


def test_digests_as_redis():
    """DEBUG DIGEST and DIGEST-VALUE give redis-server's digests for the same data, every type
    (streams aside) in its small and large encodings, TTLs and databases included."""
    mine, theirs = start_larder("--enable-debug-command", "yes"), start_redis("--enable-debug-command", "yes")
    d = Differ(mine.port, theirs.port)
    try:
        d.check("DEBUG", "DIGEST")
        setup = [("SET", "s", "hello"), ("SET", "n", "12345"), ("SET", "neg", "-7"), ("SET", "big", "x" * 100),
                 ("RPUSH", "l", "a", "1", "bb"), ("SADD", "ints", "1", "2", "300"), ("SADD", "set", "x", "2", "yy"),
                 ("ZADD", "z", "1.5", "a", "2", "b", "-3.25", "c", "0.1", "d", "inf", "e", "-inf", "f"),
                 ("HSET", "h", "f", "v", "g", "1"), ("SET", "ttl", "v", "EX", "1000"), ("SELECT", "3"),
                 ("SET", "elsewhere", "1"), ("SELECT", "0")]
        setup += [("RPUSH", "biglist", *[str(i) for i in range(300)]),
                  ("SADD", "bigset", *[f"m{i}" for i in range(300)]),
                  ("SADD", "bigints", *[str(i) for i in range(600)]),
                  ("ZADD", "bigz", *[x for i in range(300) for x in (str(i / 7), f"m{i}")]),
                  ("HSET", "bigh", *[x for i in range(300) for x in (f"f{i}", "v" * (i % 90))])]
        for cmd in setup:
            d.both(*cmd)
        keys = ["s", "n", "neg", "big", "l", "ints", "set", "z", "h", "ttl", "missing", "biglist", "bigset",
                "bigints", "bigz", "bigh"]
        d.check("DEBUG", "DIGEST-VALUE", *keys)
        d.check("DEBUG", "DIGEST")
        d.check("DEL", "ttl")
        d.check("DEBUG", "DIGEST")
        d.check("FLUSHALL")
        d.check("DEBUG", "DIGEST")
    finally:
        d.close()
        mine.stop()
        theirs.stop()


def test_debug_object_and_the_test_switches_as_redis():
    mine, theirs = start_larder("--enable-debug-command", "yes"), start_redis("--enable-debug-command", "yes")
    d = Differ(mine.port, theirs.port)
    try:
        for cmd in [("SET", "s", "hello"), ("RPUSH", "l", "a", "b", "ccc"), ("HSET", "hh", "a", "1"), ("SET", "i", "123"),
                    ("SET", "big", "x" * 100)]:
            d.both(*cmd)
        for key in ["s", "l", "hh", "i", "big"]:
            mine_line, theirs_line = (dict(f.split(":", 1) for f in r.value.decode().split(" ")[1:])
                                      for r in d.both("DEBUG", "OBJECT", key))
            assert mine_line.keys() == theirs_line.keys(), key
            for field in ("refcount", "encoding", "lru_seconds_idle", "ql_nodes", "ql_avg_node", "ql_listpack_max",
                          "ql_compressed", "ql_uncompressed_size"):
                assert mine_line.get(field) == theirs_line.get(field), (key, field)
            # RDB sizes agree for plain strings (compressed ones and collections are written
            # in Larder's own ways: its LZF coder, plain forms).
            if key in ("s", "i"):
                assert mine_line["serializedlength"] == theirs_line["serializedlength"], key
        for cmd in [("DEBUG", "OBJECT", "nosuch"), ("DEBUG", "LISTPACK", "hh"), ("DEBUG", "LISTPACK", "s"),
                    ("DEBUG", "QUICKLIST", "l"), ("DEBUG", "QUICKLIST", "s"), ("DEBUG", "STRINGMATCH-TEST"),
                    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"), ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"),
                    ("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "abc"), ("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "never"),
                    ("DEBUG", "REPLYBUFFER", "RESIZING", "1"), ("DEBUG", "REPLYBUFFER", "x", "1"), ("DEBUG", "JMAP"),
                    ("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1"), ("EVAL", "return redis.call('save')", "0"),
                    ("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0"), ("EVAL", "return redis.call('save')", "0")]:
            d.check(*cmd)
    finally:
        d.close()
        mine.stop()
        theirs.stop()
