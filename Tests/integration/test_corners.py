"""Redis 7.0's behaviour in corners clients and tools rely on, run as the same script of steps
against Larder and redis-server and compared byte for byte: what CLIENT REPLY OFF / SKIP
still sends (subscribe confirmations), what CLIENT PAUSE WRITE holds and how it shows in INFO
and CLIENT LIST, and how BCAST tracking batches a command's invalidations."""
import socket
import time

import pytest

from resp import encode


class Raw:
    """A connection that sends a command and takes whatever arrives within a short wait:
    nothing is a valid answer here (a suppressed reply)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(0.3)

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def take(self, wait=0.15):
        time.sleep(wait)
        out = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                out += chunk
                self.sock.settimeout(0.05)
        except OSError:
            pass
        self.sock.settimeout(0.3)
        return out

    def close(self):
        self.sock.close()


def run_steps(port, steps, names=("a", "b")):
    """Runs (connection, *command) steps; ("PUB", text) publishes on channel ch from b. Returns
    what connection a received after each step."""
    conns = {n: Raw(port) for n in names}
    seen = []
    try:
        for who, *cmd in steps:
            if who == "PUB":
                conns["b"].send("PUBLISH", "ch", cmd[0])
                conns["b"].take()
            else:
                conns[who].send(*cmd)
            seen.append(conns["a"].take())
    finally:
        for c in conns.values():
            c.close()
    return seen


def compare(larder, oracle, steps):
    mine, theirs = run_steps(larder.port, steps), run_steps(oracle.port, steps)
    for step, m, t in zip(steps, mine, theirs):
        assert m == t, (step, m, t)


@pytest.mark.parametrize("resp", ["2", "3"])
def test_client_reply_off_and_skip_still_send_subscribe_confirmations(larder, oracle, resp):
    steps = [("a", "HELLO", resp), ("a", "CLIENT", "REPLY", "OFF"), ("a", "SUBSCRIBE", "ch", "ch2"), ("PUB", "m1"),
             ("a", "PSUBSCRIBE", "c*"), ("PUB", "m2"), ("a", "UNSUBSCRIBE", "ch"), ("a", "PING"),
             ("a", "PUNSUBSCRIBE"), ("a", "UNSUBSCRIBE"), ("a", "CLIENT", "REPLY", "ON"), ("a", "PING"),
             ("a", "CLIENT", "REPLY", "SKIP"), ("a", "SUBSCRIBE", "ch"), ("a", "PING"), ("PUB", "m3"),
             ("a", "CLIENT", "REPLY", "SKIP"), ("a", "RESET"), ("a", "PING")]
    # HELLO's reply carries the connection id: compare from the step after it.
    mine, theirs = run_steps(larder.port, steps), run_steps(oracle.port, steps)
    assert mine[1:] == theirs[1:]


HELD = [("GET", "k"), ("SET", "k", "v"), ("PUBLISH", "c", "m"), ("PING",), ("EVAL_RO", "return 1", "0"),
        ("EVAL", "return 1", "0"), ("INCR", "n"), ("DEL", "nokey"), ("SPUBLISH", "c", "m"), ("FUNCTION", "FLUSH"),
        ("SCRIPT", "FLUSH"), ("PFCOUNT", "hll"), ("FLUSHALL",)]


def held_or_not(port):
    """For each command: whether CLIENT PAUSE WRITE held it, and its reply."""
    admin, out = Raw(port), []
    try:
        admin.send("PFADD", "hll", "a")
        admin.take()
        for cmd in HELD:
            admin.send("CLIENT", "PAUSE", "500", "WRITE")
            admin.take(0.05)
            c = Raw(port)
            c.send(*cmd)
            early = c.take(0.25)
            late = early or c.take(0.5)
            out.append((cmd[0], early == b"", late))
            admin.send("CLIENT", "UNPAUSE")
            admin.take(0.05)
            c.close()
        # EXEC holds when a queued command writes.
        for queued in (("SET", "m", "1"), ("GET", "m")):
            c = Raw(port)
            for step in (("MULTI",), queued):
                c.send(*step)
                c.take(0.05)
            admin.send("CLIENT", "PAUSE", "500", "WRITE")
            admin.take(0.05)
            c.send("EXEC")
            early = c.take(0.25)
            late = early or c.take(0.5)
            out.append(("EXEC " + queued[0], early == b"", late))
            c.close()
    finally:
        admin.close()
    return out


def test_pause_write_holds_what_redis_holds(larder, oracle):
    assert held_or_not(larder.port) == held_or_not(oracle.port)


@pytest.mark.parametrize("which", ["larder", "redis"])
def test_unpause_lets_held_clients_go_at_once(larder, oracle, which):
    """CLIENT UNPAUSE ends a long pause for the clients it holds now, not when it would have ended."""
    port = (larder if which == "larder" else oracle).port
    admin, held = Raw(port), Raw(port)
    try:
        admin.send("CLIENT", "PAUSE", "100000", "WRITE")
        admin.take(0.05)
        held.send("SET", "pk", "1")
        assert held.take(0.3) == b""
        admin.send("CLIENT", "UNPAUSE")
        assert admin.take() == b"+OK\r\n"
        assert held.take(5.0) == b"+OK\r\n"
    finally:
        admin.close()
        held.close()


@pytest.mark.parametrize("which", ["larder", "redis"])
def test_a_paused_client_counts_as_blocked(larder, oracle, which):
    port = (larder if which == "larder" else oracle).port
    admin, held = Raw(port), Raw(port)
    try:
        admin.send("CLIENT", "PAUSE", "800", "WRITE")
        admin.take(0.05)
        held.send("SET", "pk", "1")
        admin.send("INFO", "clients")
        info = admin.take(0.3)
        assert b"blocked_clients:1\r\n" in info
        admin.send("CLIENT", "LIST")
        listing = admin.take()
        line = [l for l in listing.split(b"\n") if b"cmd=set" in l]
        assert line and b" flags=b " in line[0], listing
        assert held.take(1.0) == b"+OK\r\n"
        admin.send("INFO", "clients")
        assert b"blocked_clients:0\r\n" in admin.take()
    finally:
        admin.close()
        held.close()


def test_bcast_tracking_sends_one_message_per_command(larder, oracle):
    steps = [("a", "HELLO", "3"), ("a", "CLIENT", "TRACKING", "ON", "BCAST"), ("b", "MSET", "p", "1", "q", "2", "p", "3"),
             ("b", "DEL", "p", "q"), ("a", "CLIENT", "TRACKING", "OFF"),
             ("a", "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "u:", "PREFIX", "v:"),
             ("b", "MSET", "u:1", "1", "w:1", "1", "v:1", "1"), ("a", "MSET", "u:2", "1", "u:3", "2"),
             ("a", "CLIENT", "TRACKING", "OFF"), ("a", "CLIENT", "TRACKING", "ON"), ("a", "MGET", "x", "y"),
             ("b", "MSET", "x", "1", "y", "2")]
    mine, theirs = run_steps(larder.port, steps), run_steps(oracle.port, steps)
    assert mine[1:] == theirs[1:]


STREAM_GONE = {
    "del": [("DEL", "s")], "flushall": [("FLUSHALL",)], "set": [("DEL", "s"), ("SET", "s", "x")],
    "unlink": [("UNLINK", "s")], "rename-over": [("SET", "t", "x"), ("RENAME", "t", "s")],
    "multi-del": [("MULTI",), ("DEL", "s"), ("EXEC",)],
    "multi-del-readd": [("MULTI",), ("DEL", "s"), ("XADD", "s", "9-0", "f", "v"), ("EXEC",)],
    "xgroup-destroy": [("XGROUP", "DESTROY", "s", "g")],
    "multi-list-then-stream": [("MULTI",), ("DEL", "s"), ("LPUSH", "s", "a"), ("DEL", "s"), ("XADD", "s", "5-0", "f", "v"), ("EXEC",)],
}


def blocked_stream_readers(port, steps):
    """An XREADGROUP and an XREAD client blocked on stream s, then `steps` from a third: what
    each blocked client received (nothing: still blocked)."""
    w, group, plain = Raw(port), Raw(port), Raw(port)
    try:
        for cmd in (("FLUSHALL",), ("XADD", "s", "1-0", "f", "v"), ("XGROUP", "CREATE", "s", "g", "$")):
            w.send(*cmd)
            w.take(0.05)
        group.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "3000", "STREAMS", "s", ">")
        plain.send("XREAD", "BLOCK", "3000", "STREAMS", "s", "$")
        time.sleep(0.1)
        for cmd in steps:
            w.send(*cmd)
            w.take(0.05)
        return group.take(0.3), plain.take(0.1)
    finally:
        for c in (w, group, plain):
            c.close()


@pytest.mark.parametrize("name", list(STREAM_GONE))
def test_blocked_stream_readers_when_the_stream_goes(larder, oracle, name):
    steps = STREAM_GONE[name]
    assert blocked_stream_readers(larder.port, steps) == blocked_stream_readers(oracle.port, steps)


NO_TOUCH = [("TTL",), ("PTTL",), ("EXPIRETIME",), ("TYPE",), ("EXISTS",), ("OBJECT", "ENCODING"), ("OBJECT", "FREQ_OR_IDLE")]
TOUCH = [("GET",), ("TOUCH",), ("STRLEN",), ("SORT",)]


@pytest.mark.parametrize("which", ["larder", "redis"])
def test_which_commands_update_a_keys_access_time(larder, oracle, which):
    r = (larder if which == "larder" else oracle).client()
    r.flushall()
    cases = NO_TOUCH + TOUCH
    for i, _ in enumerate(cases):
        r.set(f"k{i}", "1")
    time.sleep(2.2)
    idle = {}
    for i, cmd in enumerate(cases):
        name = cmd[0] if cmd[-1] != "FREQ_OR_IDLE" else "OBJECT"
        args = [*cmd[:-1], "REFCOUNT"] if cmd[-1] == "FREQ_OR_IDLE" else list(cmd)
        try:
            r.execute_command(*args, f"k{i}")
        except Exception:
            pass   # SORT of a string: the lookup happened before its error
        idle[" ".join(args)] = r.object("idletime", f"k{i}")
    r.close()
    for cmd in NO_TOUCH:
        key = " ".join([*cmd[:-1], "REFCOUNT"] if cmd[-1] == "FREQ_OR_IDLE" else cmd)
        assert idle[key] >= 1, (key, idle)
    for cmd in TOUCH:
        assert idle[" ".join(cmd)] == 0, (cmd, idle)


def hits_misses_and_keymiss(port):
    a, sub = Raw(port), Raw(port)
    out = []
    try:
        for cmd in (("SET", "k", "v"), ("CONFIG", "SET", "notify-keyspace-events", "Em")):
            a.send(*cmd)
            a.take(0.05)
        sub.send("SUBSCRIBE", "__keyevent@0__:keymiss")
        sub.take()
        for cmd in (("EXISTS", "k", "nokey"), ("TYPE", "k"), ("TYPE", "nokey"), ("TTL", "nokey"), ("PTTL", "k"),
                    ("OBJECT", "ENCODING", "nokey"), ("OBJECT", "ENCODING", "k"), ("SORT", "nokey"), ("EXPIRETIME", "nokey")):
            a.send("CONFIG", "RESETSTAT")
            a.take(0.05)
            a.send(*cmd)
            a.take(0.05)
            a.send("INFO", "stats")
            stats = [l for l in a.take(0.05).split(b"\r\n") if l.startswith(b"keyspace_")]
            out.append((cmd, stats, b"keymiss" in sub.take(0.1)))
        a.send("CONFIG", "SET", "notify-keyspace-events", "")
        a.take(0.05)
    finally:
        a.close()
        sub.close()
    return out


def test_lookups_count_hits_and_misses_as_redis(larder, oracle):
    assert hits_misses_and_keymiss(larder.port) == hits_misses_and_keymiss(oracle.port)


def lazyfreed(port):
    """INFO's lazyfreed_objects after each step (the lazy-free thread given a moment)."""
    a, out = Raw(port), []
    try:
        steps = [("FLUSHALL",), ("CONFIG", "RESETSTAT"),
                 ("EVAL", "for i = 1, 1000 do redis.call('sadd', KEYS[1], 'm' .. i) end", "1", "bigset"),
                 ("UNLINK", "bigset"),
                 ("EVAL", "for i = 1, 100 do redis.call('sadd', KEYS[1], i) end", "1", "intset"), ("UNLINK", "intset"),
                 ("EVAL", "for i = 1, 100 do redis.call('hset', KEYS[1], 'f' .. i, i) end", "1", "smallhash"),
                 ("UNLINK", "smallhash"),
                 ("EVAL", "for i = 1, 300 do redis.call('zadd', KEYS[1], i, 'm' .. i) end", "1", "bigzset"),
                 ("DEL", "bigzset"), ("EVAL", "for i = 1, 300 do redis.call('zadd', KEYS[1], i, 'm' .. i) end", "1", "bigzset"),
                 ("UNLINK", "bigzset"), ("MSET", "a", "1", "b", "2", "c", "3"), ("FLUSHALL", "ASYNC"),
                 ("SET", "x", "1"), ("FLUSHDB", "SYNC"), ("CONFIG", "RESETSTAT")]
        for cmd in steps:
            a.send(*cmd)
            a.take(0.05)
            time.sleep(0.1)
            a.send("INFO", "memory")
            info = a.take(0.05)
            out.append((cmd[0], [l for l in info.split(b"\r\n") if l.startswith(b"lazyfree")]))
    finally:
        a.close()
    return out


def test_lazy_freeing_is_counted_as_redis(larder, oracle):
    assert lazyfreed(larder.port) == lazyfreed(oracle.port)


def command_table(port):
    """name -> (arity, flags, first, last, step, ACL categories) of COMMAND, subcommands too."""
    import redis as redis_py
    client = redis_py.Redis(port=port, protocol=2)
    conn = client.connection_pool.get_connection()
    try:
        conn.send_command("COMMAND")
        entries = conn.read_response()
    finally:
        client.connection_pool.release(conn)
        client.close()
    text = lambda v: v.decode() if isinstance(v, bytes) else v
    out = {}

    def add(entries):
        for e in entries:
            out[text(e[0])] = (e[1], [text(f) for f in e[2]], e[3], e[4], e[5], [text(c) for c in e[6]])
            if len(e) > 9 and e[9]:
                add(e[9])
    add(entries)
    return out


def test_command_reports_flags_and_acl_categories_as_redis(larder, oracle):
    mine, theirs = command_table(larder.port), command_table(oracle.port)
    # ZRANK / ZREVRANK take Redis 7.2's WITHSCORE (arity -3 where 7.0 has 3).
    differing = {name for name in set(mine) & set(theirs)
                 if mine[name] != theirs[name] and name not in ("zrank", "zrevrank")}
    assert not differing, {n: (mine[n], theirs[n]) for n in sorted(differing)}
    assert len(set(mine) & set(theirs)) > 200
