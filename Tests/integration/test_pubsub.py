"""Pub/sub, keyspace notifications and the subscribed-mode rules, against redis-server."""
import time

import pytest

from conftest import start_larder
from differential import Differ
from resp import Conn, Reply, encode


def read_all(conn, n):
    return [conn.read() for _ in range(n)]


def test_subscribe_publish_and_counts(larder, oracle):
    for port in (larder.port, oracle.port):
        sub, pub = Conn(port), Conn(port)
        sub.send_raw(encode("SUBSCRIBE", "news", "sport"))
        assert read_all(sub, 2) == [
            Reply("*", (Reply("$", b"subscribe"), Reply("$", b"news"), Reply(":", 1))),
            Reply("*", (Reply("$", b"subscribe"), Reply("$", b"sport"), Reply(":", 2))),
        ]
        sub.send_raw(encode("PSUBSCRIBE", "n*"))
        assert sub.read() == Reply("*", (Reply("$", b"psubscribe"), Reply("$", b"n*"), Reply(":", 3)))
        assert pub.call("PUBLISH", "news", "hello") == Reply(":", 2)
        assert sub.read() == Reply("*", (Reply("$", b"message"), Reply("$", b"news"), Reply("$", b"hello")))
        assert sub.read() == Reply("*", (Reply("$", b"pmessage"), Reply("$", b"n*"), Reply("$", b"news"), Reply("$", b"hello")))
        assert pub.call("PUBLISH", "nobody", "x") == Reply(":", 1)      # the pattern matches
        sub.read()
        assert pub.call("PUBLISH", "zzz", "x") == Reply(":", 0)
        assert pub.call("PUBSUB", "NUMSUB", "news", "none") == Reply("*", (Reply("$", b"news"), Reply(":", 1), Reply("$", b"none"), Reply(":", 0)))
        assert pub.call("PUBSUB", "NUMPAT") == Reply(":", 1)
        assert pub.call("PUBSUB", "CHANNELS", "s*") == Reply("*", (Reply("$", b"sport"),))
        sub.send_raw(encode("GET", "x"))
        err = sub.read()
        assert err.kind == "-" and b"only (P|S)SUBSCRIBE" in err.value
        assert sub.call("PING") == Reply("*", (Reply("$", b"pong"), Reply("$", b"")))
        sub.send_raw(encode("UNSUBSCRIBE", "news"))
        assert sub.read() == Reply("*", (Reply("$", b"unsubscribe"), Reply("$", b"news"), Reply(":", 2)))
        sub.send_raw(encode("PUNSUBSCRIBE"))
        assert sub.read() == Reply("*", (Reply("$", b"punsubscribe"), Reply("$", b"n*"), Reply(":", 1)))
        sub.send_raw(encode("UNSUBSCRIBE"))
        assert sub.read() == Reply("*", (Reply("$", b"unsubscribe"), Reply("$", b"sport"), Reply(":", 0)))
        assert sub.call("GET", "x") == Reply("$", None)
        sub.send_raw(encode("UNSUBSCRIBE"))
        assert sub.read() == Reply("*", (Reply("$", b"unsubscribe"), Reply("$", None), Reply(":", 0)))


def test_shard_channels(larder, oracle):
    d = Differ(larder.port, oracle.port)
    sub = [Conn(larder.port), Conn(oracle.port)]
    for s in sub:
        s.send_raw(encode("SSUBSCRIBE", "orders"))
    assert sub[0].read() == sub[1].read()
    d.check("SPUBLISH", "orders", "o1")
    assert sub[0].read() == sub[1].read()
    d.check("PUBSUB", "SHARDCHANNELS")
    d.check("PUBSUB", "SHARDNUMSUB", "orders")
    d.check("PUBLISH", "orders", "not-a-shard-message")
    # A flat array in RESP3 too (redis-py's RESP3 parser expects Redis's shape).
    d.both("HELLO", "3")
    d.check("PUBSUB", "SHARDNUMSUB", "orders", "none")
    d.check("PUBSUB", "NUMSUB", "orders", "none")
    d.check("PUBSUB", "NUMSUB")


def test_resp3_push_messages(larder):
    sub, pub = Conn(larder.port), Conn(larder.port)
    sub.call("HELLO", "3")
    assert sub.call("SUBSCRIBE", "c") == Reply(">", (Reply("$", b"subscribe"), Reply("$", b"c"), Reply(":", 1)))
    assert sub.call("GET", "k") == Reply("_", None)      # RESP3 subscribers may run any command
    pub.call("PUBLISH", "c", "m")
    assert sub.read() == Reply(">", (Reply("$", b"message"), Reply("$", b"c"), Reply("$", b"m")))


def test_own_pushes_come_before_the_reply(larder, oracle):
    """A RESP3 client's own message (PUBLISH to a channel it listens on, a keyspace event of
    its own write, inside MULTI too) is written ahead of the command's reply, as Redis adds it
    to the client's buffer while the command runs; a pipeline's replies keep their order."""
    pipelines = [
        encode("PUBLISH", "me", "x") + encode("PING"),
        encode("SET", "k", "v") + encode("PING"),
        encode("MULTI") + encode("SET", "k", "w") + encode("DEL", "k") + encode("EXEC") + encode("PING"),
    ]
    seen = {}
    for port in (larder.port, oracle.port):
        c = Conn(port)
        c.call("HELLO", "3")
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        c.send_raw(encode("SUBSCRIBE", "me", "__keyspace@0__:k"))
        read_all(c, 2)
        replies = []
        for p, n in zip(pipelines, (3, 3, 7)):
            c.send_raw(p)
            replies.append(read_all(c, n))
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        seen[port] = replies
    assert seen[larder.port] == seen[oracle.port]
    assert seen[larder.port][0][0].kind == ">"      # the message, then :1, then PONG


def test_publish_fan_in_arrives_whole_and_in_order(larder):
    """Many publishers pipelining into one subscriber (messages of one loop iteration leave in
    one write): every message arrives once, each publisher's in the order it sent them, and a
    RESP3 subscriber's own replies stay in order among them."""
    sub = Conn(larder.port)
    sub.call("HELLO", "3")
    sub.call("SUBSCRIBE", "fan")
    pubs = [Conn(larder.port) for _ in range(5)]
    for i, p in enumerate(pubs):
        p.send_raw(b"".join(encode("PUBLISH", "fan", f"{i}:{n}") for n in range(200)))
    sub.send_raw(b"".join(encode("ECHO", str(n)) for n in range(50)))
    last = {i: -1 for i in range(5)}
    echoes = []
    while len(echoes) < 50 or any(v < 199 for v in last.values()):
        r = sub.read()
        if r.kind == ">":
            i, n = map(int, r.value[2].value.split(b":"))
            assert n == last[i] + 1
            last[i] = n
        else:
            echoes.append(int(r.value))
    assert echoes == list(range(50))
    for p in pubs:
        assert read_all(p, 200) == [Reply(":", 1)] * 200


def test_redis_py_pubsub_feature_flag(larder):
    r = larder.client()
    ps = r.pubsub()
    ps.subscribe("flags")
    ps.psubscribe("flags.*")
    assert ps.get_message(timeout=2)["type"] == "subscribe"
    assert ps.get_message(timeout=2)["type"] == "psubscribe"
    assert r.publish("flags", "dark-mode=on") == 1
    assert r.publish("flags.beta", "on") == 1
    m1 = ps.get_message(timeout=2)
    m2 = ps.get_message(timeout=2)
    assert (m1["type"], m1["data"]) == ("message", b"dark-mode=on")
    assert (m2["type"], m2["channel"], m2["pattern"]) == ("pmessage", b"flags.beta", b"flags.*")
    ps.close()


def test_keyspace_notifications_match_redis(larder, oracle):
    commands = [("SET", "k", "v"), ("SET", "k", "v", "EX", "100"), ("EXPIRE", "k", "200"), ("PERSIST", "k"),
                ("APPEND", "k", "x"), ("INCR", "n"), ("INCRBYFLOAT", "n", "1.5"), ("SETRANGE", "k", "0", "a"),
                ("RENAME", "k", "k2"), ("DEL", "k2", "nope"), ("RPUSH", "l", "a", "b"), ("LPOP", "l"), ("RPOP", "l"),
                ("HSET", "h", "f", "v"), ("HDEL", "h", "f"), ("SADD", "s", "m"), ("SREM", "s", "m"),
                ("ZADD", "z", "1", "a"), ("ZINCRBY", "z", "1", "a"), ("ZREM", "z", "a"), ("SET", "g", "1"), ("GETDEL", "g"),
                ("MSET", "m1", "1", "m2", "2"), ("LPUSH", "q", "1"), ("LMOVE", "q", "q2", "LEFT", "RIGHT"),
                ("SADD", "a", "1"), ("SINTERSTORE", "dst", "a", "a"), ("EXPIRE", "m1", "0"), ("COPY", "m2", "m3"),
                ("PFADD", "hll", "a"), ("PFADD", "hll", "a"), ("PFMERGE", "hll2", "hll"), ("PFCOUNT", "hll"),
                ("XADD", "x", "1-0", "f", "v"), ("XADD", "x", "MAXLEN", "1", "2-0", "f", "v"), ("XDEL", "x", "2-0", "9-9"),
                ("XADD", "x", "3-0", "f", "v"), ("XTRIM", "x", "MAXLEN", "0"), ("XGROUP", "CREATE", "x", "g", "0"),
                ("XGROUP", "CREATECONSUMER", "x", "g", "c"), ("XADD", "x", "4-0", "f", "v"),
                ("XREADGROUP", "GROUP", "g", "d", "STREAMS", "x", ">"), ("XGROUP", "SETID", "x", "g", "0"),
                ("XCLAIM", "x", "g", "e", "0", "4-0"), ("XSETID", "x", "10-0"), ("XGROUP", "DELCONSUMER", "x", "g", "c"),
                ("XGROUP", "DESTROY", "x", "g"), ("XGROUP", "CREATE", "y", "g", "$", "MKSTREAM"),
                # SMOVE: 'sadd' on the destination only when the member was not there.
                ("SADD", "s1", "a", "b"), ("SADD", "s2", "a"), ("SMOVE", "s1", "s2", "a"), ("SMOVE", "s1", "s2", "b"),
                ("SMOVE", "s2", "s3", "zz")]
    streams = []
    for port in (larder.port, oracle.port):
        c = Conn(port)
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub = Conn(port)
        sub.send_raw(encode("PSUBSCRIBE", "__key*__:*"))
        sub.read()
        for cmd in commands:
            c.call(*cmd)
        c.call("PUBLISH", "end", "x")
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        got = []
        sub.sock.settimeout(2)
        try:
            while True:
                got.append(sub.read())
        except (TimeoutError, OSError):
            pass
        streams.append(got)
    assert streams[0] == streams[1]


def test_expired_events_from_lazy_and_active_expiry(larder):
    c = Conn(larder.port)
    c.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
    sub = Conn(larder.port)
    sub.send_raw(encode("SUBSCRIBE", "__keyevent@0__:expired"))
    sub.read()
    c.call("SET", "lazy", "v", "PX", "20")
    c.call("SET", "active", "v", "PX", "20")
    time.sleep(0.1)
    c.call("GET", "lazy")
    got = set()
    sub.sock.settimeout(5)
    while len(got) < 2:
        got.add(sub.read().value[2].value)
    assert got == {b"lazy", b"active"}
    c.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_notify_config_letters(larder, oracle):
    d = Differ(larder.port, oracle.port)
    for v in ["KEA", "Kg$", "AKE", "Elshz", "KEAm", "xe", "bogus!", ""]:
        d.check("CONFIG", "SET", "notify-keyspace-events", v)
        d.check("CONFIG", "GET", "notify-keyspace-events")


def test_slow_subscriber_is_disconnected():
    s = start_larder("--client-output-buffer-limit", "pubsub 256kb 128kb 1")
    try:
        sub = Conn(s.port)
        sub.sock.setsockopt(__import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096)
        sub.send_raw(encode("SUBSCRIBE", "firehose"))
        sub.read()
        pub = Conn(s.port)
        payload = "x" * 16384
        for _ in range(400):        # ~6.5 MB that the subscriber never reads
            pub.call("PUBLISH", "firehose", payload)
        time.sleep(0.5)
        deadline = time.time() + 5
        while pub.call("PUBSUB", "NUMSUB", "firehose").value[1].value != 0 and time.time() < deadline:
            pub.call("PUBLISH", "firehose", payload)
            time.sleep(0.05)
        assert pub.call("PUBSUB", "NUMSUB", "firehose").value[1] == Reply(":", 0)
        assert s.alive()
    finally:
        s.stop()


def new_key_events(port):
    """The 'new' events a SET of a new key, a SET over it, a RENAME to a new name and an
    HSET creating a hash send, with notify-keyspace-events En turned on and then off."""
    c, sub = Conn(port), Conn(port)
    c.call("FLUSHALL")
    c.call("CONFIG", "SET", "notify-keyspace-events", "En")
    sub.send_raw(encode("SUBSCRIBE", "__keyevent@0__:new"))
    sub.read()
    c.call("SET", "a", "1")
    c.call("SET", "a", "2")
    c.call("RENAME", "a", "b")
    c.call("HSET", "h", "f", "v")
    c.call("CONFIG", "SET", "notify-keyspace-events", "")
    c.call("SET", "after", "1")
    got = []
    sub.sock.settimeout(0.5)
    try:
        while True:
            got.append(sub.read().value[2].value)
    except (TimeoutError, OSError):
        pass
    c.close()
    sub.close()
    return got


def test_new_key_events_as_redis(larder, oracle):
    assert new_key_events(larder.port) == new_key_events(oracle.port) == [b"a", b"b", b"h"]
