"""Client-side caching: CLIENT TRACKING and its invalidation messages, against redis-server."""
import time

from differential import Differ
from resp import Conn, Reply, encode

ERRORS = [
    ("CLIENT", "TRACKING", "ON", "PREFIX", "a"), ("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"),
    ("CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"), ("CLIENT", "TRACKING", "ON", "REDIRECT", "999999"),
    ("CLIENT", "TRACKING", "MAYBE"), ("CLIENT", "TRACKING", "ON", "FOO"), ("CLIENT", "CACHING", "YES"),
    ("CLIENT", "GETREDIR"), ("CLIENT", "TRACKINGINFO"), ("CLIENT", "TRACKING", "ON"), ("CLIENT", "GETREDIR"),
    ("CLIENT", "TRACKINGINFO"), ("CLIENT", "CACHING", "YES"), ("CLIENT", "CACHING", "NO"),
    ("CLIENT", "TRACKING", "ON", "BCAST"), ("CLIENT", "TRACKING", "OFF"),
    ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"), ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:"),
    ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:x"), ("CLIENT", "TRACKINGINFO"), ("CLIENT", "TRACKING", "OFF"),
    ("CLIENT", "TRACKING", "ON", "OPTIN"), ("CLIENT", "CACHING", "NO"), ("CLIENT", "CACHING", "maybe"),
    ("CLIENT", "TRACKING", "ON", "OPTOUT"), ("CLIENT", "TRACKING", "OFF"),
]


def test_tracking_commands_match_redis(diff):
    for cmd in ERRORS:
        diff.check(*cmd)


def scenario(port):
    """A RESP3 tracking client and a writer. Returns the tracker's replies and, in order, the
    invalidations it received. The writer pauses after each write so that its invalidations
    reach the tracker before the tracker's next command, on both servers alike."""
    t, w0 = Conn(port), Conn(port)
    events = []

    def tcall(*args):
        t.send_raw(encode(*args))
        while True:
            r = t.read()
            if r.kind == ">":
                events.append(r)
                continue
            events.append(r)
            return r

    def wcall(*args):
        w0.call(*args)
        time.sleep(0.05)

    tcall("HELLO", "3")
    tcall("FLUSHALL")
    tcall("CLIENT", "TRACKING", "ON")
    wcall("SET", "a", "1")
    wcall("SET", "b", "1")
    tcall("GET", "a")
    tcall("MGET", "a", "b")
    wcall("SET", "a", "2")          # invalidates a
    wcall("SETNX", "b", "x")        # changes nothing: no message
    wcall("INCR", "b")              # invalidates b
    wcall("SET", "a", "3")          # a was not read again: no message
    tcall("GET", "a")
    tcall("SET", "a", "mine")       # own write, no NOLOOP: invalidated too
    tcall("GET", "a")
    wcall("FLUSHALL")               # everything: a null invalidation
    tcall("PING")
    return events[1:]               # HELLO's reply names the server's version


def test_invalidation_messages_match_redis(larder, oracle):
    mine, theirs = scenario(larder.port), scenario(oracle.port)
    assert mine == theirs
    assert Reply(">", (Reply("$", b"invalidate"), Reply("*", (Reply("$", b"a"),)))) in mine


def test_resp2_redirect_and_bcast_noloop(larder):
    listener, tracker, writer = Conn(larder.port), Conn(larder.port), Conn(larder.port)
    lid = listener.call("CLIENT", "ID").value
    listener.send_raw(encode("SUBSCRIBE", "__redis__:invalidate"))
    listener.read()
    assert tracker.call("CLIENT", "TRACKING", "ON", "REDIRECT", lid, "BCAST", "PREFIX", "user:", "NOLOOP") == Reply("+", b"OK")
    assert tracker.call("CLIENT", "GETREDIR") == Reply(":", lid)
    tracker.call("SET", "user:1", "own write")        # NOLOOP: the tracker's own write is not sent
    writer.call("SET", "user:2", "x")                  # BCAST: sent without any read
    writer.call("SET", "other", "x")                   # outside the prefix
    msg = listener.read()
    assert msg == Reply("*", (Reply("$", b"message"), Reply("$", b"__redis__:invalidate"), Reply("*", (Reply("$", b"user:2"),))))
    listener.sock.settimeout(0.5)
    try:
        extra = listener.read()
    except (TimeoutError, OSError):
        extra = None
    assert extra is None


def test_optin_tracks_only_after_caching_yes(larder):
    t, w = Conn(larder.port), Conn(larder.port)
    t.call("HELLO", "3")
    t.call("CLIENT", "TRACKING", "ON", "OPTIN")
    w.call("SET", "x", "1")
    w.call("SET", "y", "1")
    t.call("GET", "x")                                  # not tracked
    t.call("CLIENT", "CACHING", "YES")
    t.call("GET", "y")                                  # tracked
    w.call("SET", "x", "2")
    w.call("SET", "y", "2")
    assert t.read() == Reply(">", (Reply("$", b"invalidate"), Reply("*", (Reply("$", b"y"),))))


def test_expiry_invalidates(larder):
    t, w = Conn(larder.port), Conn(larder.port)
    t.call("HELLO", "3")
    t.call("CLIENT", "TRACKING", "ON")
    w.call("SET", "soon", "v", "PX", "50")
    t.call("GET", "soon")
    t.sock.settimeout(5)
    assert t.read() == Reply(">", (Reply("$", b"invalidate"), Reply("*", (Reply("$", b"soon"),))))


def served_blmove_invalidations(port):
    """A tracker that read both lists, a client blocked in BLMOVE, and a push that serves it:
    the served move changes both lists, so the tracker hears about both keys."""
    t, blocked, pusher = Conn(port), Conn(port), Conn(port)
    t.call("HELLO", "3")
    t.call("FLUSHALL")
    pusher.call("RPUSH", "dst", "old")
    t.call("CLIENT", "TRACKING", "ON")
    t.call("LRANGE", "src", "0", "-1")
    t.call("LRANGE", "dst", "0", "-1")
    blocked.send_raw(encode("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"))
    time.sleep(0.1)
    pusher.call("RPUSH", "src", "x")
    assert blocked.read() == Reply("$", b"x")
    time.sleep(0.1)
    keys = set()
    while True:
        t.sock.settimeout(0.5)
        try:
            r = t.read()
        except (TimeoutError, OSError):
            break
        assert r.kind == ">", r
        keys.update(k.value for k in r.value[1].value)
    for c in (t, blocked, pusher):
        c.close()
    return keys


def test_served_blocked_move_invalidates_like_redis(larder, oracle):
    mine, theirs = served_blmove_invalidations(larder.port), served_blmove_invalidations(oracle.port)
    assert mine == theirs == {b"src", b"dst"}


def test_tracking_table_is_bounded(larder):
    """Past tracking-table-max-keys keys leave the table, and the client that read each one is
    told (an invalidation), as Redis does; INFO counts the table."""
    admin = larder.client()
    admin.config_set("tracking-table-max-keys", "2")
    c = Conn(larder.port)
    try:
        c.call("HELLO", "3")
        assert c.call("CLIENT", "TRACKING", "ON") == Reply("+", b"OK")
        keys = [f"bound{i}" for i in range(5)]
        for k in keys:
            c.send_raw(encode("GET", k))
        seen, invalidated = 0, set()
        c.sock.settimeout(2)
        while seen < len(keys):
            reply = c.read()
            if reply.kind == ">":
                invalidated.update(k.value.decode() for k in reply.value[1].value)
            else:
                seen += 1
        c.sock.settimeout(0.3)
        try:
            while True:
                reply = c.read()
                if reply.kind == ">":
                    invalidated.update(k.value.decode() for k in reply.value[1].value)
        except OSError:
            pass
        assert len(invalidated) == 3 and invalidated <= set(keys)
        stats = admin.info("stats")
        assert stats["tracking_total_keys"] == 2 and stats["tracking_total_items"] == 2
    finally:
        c.close()
        admin.config_set("tracking-table-max-keys", "1000000")
        admin.close()
