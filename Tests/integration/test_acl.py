"""ACL users, compared with redis-server 7.0: rules and how they are described, what each user
may run (commands, keys read or written, channels), the ACL log, transactions and scripts,
logging in, the ACL file and the configuration file, and what happens to connections when
their user changes."""
import os
import subprocess
import time

import pytest
import redis

from conftest import start_larder, start_redis
from differential import Differ
from resp import Conn, Reply

USERS_TO_DROP = ["alice", "bob", "carol", "t", "u1", "dave", "erin"]


@pytest.fixture
def d(larder, oracle):
    d = Differ(larder.port, oracle.port)
    d.both("ACL", "DELUSER", *USERS_TO_DROP)
    d.both("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
    d.both("CONFIG", "SET", "requirepass", "")
    d.both("ACL", "SETUSER", "default", "nopass")
    d.both("ACL", "LOG", "RESET")
    d.both("FLUSHALL")
    yield d
    d.close()
    # Fresh connections: a test may have left its own logged in as a user it deletes.
    d = Differ(larder.port, oracle.port)
    d.both("AUTH", "default", "other")
    d.both("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
    d.both("CONFIG", "SET", "requirepass", "")
    d.both("ACL", "SETUSER", "default", "nopass")
    d.both("ACL", "DELUSER", *USERS_TO_DROP)
    d.close()


def split_rules(text):
    """A command-rules description: its categories in order, and the single commands as a set
    (Redis lists those in its command dictionary's order, which a random seed decides)."""
    words = text.split()
    cats = [w for w in words if w[1:2] == "@"]
    single = {w for w in words if w[1:2] != "@" and not w.endswith("client|setinfo")}
    return cats, single


def normalized(reply):
    """GETUSER / ACL LIST replies with command rules split as above."""
    if not isinstance(reply, Reply):
        return reply
    if reply.kind == "$" and isinstance(reply.value, bytes):
        text = reply.value.decode()
        if text.startswith("user ") or "@all" in text:
            return ("rules", tuple(split_rules(text)[0]), frozenset(split_rules(text)[1]))
        return reply
    if reply.kind in ("*", "%", "~") and reply.value is not None:
        return Reply(reply.kind, tuple(normalized(v) for v in reply.value))
    return reply


def check_norm(d, *args):
    mine, theirs = d.both(*args)
    assert normalized(mine) == normalized(theirs), f"{args}: larder {mine!r} != redis {theirs!r}"
    return mine


RULE_SETS = [
    ("on", ">p1", "~cache:*", "%R~ro:*", "%W~wo:*", "&chan*", "+get", "+set", "+@hash", "-hdel", "+config|get", "+select|0"),
    ("on", "nopass", "+@all", "-@dangerous", "allkeys"),
    ("(+get ~x*)", "(+set ~y*)"),
    ("(+get", "~x*", "&c)", "on"),
    ("+config|nosuch",), ("-select|0",), ("+@all|x",), ("+select", "+select|0"), ("+select|0", "+select|1"),
    ("-@all", "+select|0", "-select"), ("!aaaa",), ("!" + "a" * 64,), ("#" + "b" * 64, "#" + "c" * 64, "!" + "b" * 64),
    ("on", "off", "sanitize-payload"), ("skip-sanitize-payload",), ("reset",), ("%R~*",), ("~*",), ("allkeys", "~*"),
    ("allchannels", "&x"), ("&*",), ("(+get ~x) (+set)",), ("(+get ~x)", "clearselectors"), ("(on)",), ("(>pw)",),
    ("+@hash", "-hget"), ("+@all", "-@dangerous", "+config|get"), (">a", ">a", ">b", "<a"), ("nopass", ">x"),
    (">x", "nopass"), (">x", "resetpass"), ("%RW~k",), ("%~k",), ("%RWX~k",), ("%R~k", "%W~k"), ("+get", "+@all"),
    ("+get|x", "+get"), ("allcommands", "-get|x"), ("+client|list", "-client"), ("+client", "-client|kill"),
    ("+@dangerous",), ("+debug|x",), ("+@pubsub",), ("+PING",), ("-@all", "+@read", "-@write"), ("&a", "allchannels"),
    ("resetchannels", "&a", "&b*"), ("+@all", "-@keyspace", "-@read"), ("+@all", "-@slow"), ("+@fast", "+@write"),
    ("+@all", "-@fast", "-@write"), ("+@all", "-@admin"), ("-@all", "+@admin", "+@dangerous"),
    ("+@read", "+@write", "-@keyspace"), ("+@all", "-@scripting", "-@connection"), ("+@all", "-cluster"),
    ("+cluster|info", "+latency", "-latency|reset"), ("+migrate",), ("nocommands", "+@string", "resetkeys", "~a", "~b"),
    ("(+get",), ("badrule",), ("+nosuch",), ("+@nosuch",), ("#abc",), ("<nopw",), ("%X~a",), ("allkeys", "~a"),
    ("ON", "NOPASS", "ALLKEYS", "ALLCHANNELS", "ALLCOMMANDS"), ("on", ">p", "(+@read ~r:*)", "(+@write %W~w:*)", "-@all"),
]


def test_rules_are_kept_and_described_as_redis_does(d):
    for rules in RULE_SETS:
        d.both("ACL", "DELUSER", "t")
        d.check("ACL", "SETUSER", "t", *rules)
        check_norm(d, "ACL", "GETUSER", "t")
    # Rules applied over an existing user, and a failed SETUSER changes nothing.
    d.check("ACL", "SETUSER", "t", "reset", "on", ">p", "~a*", "+get")
    d.check("ACL", "SETUSER", "t", "+set", "+nosuch", "~b*")
    check_norm(d, "ACL", "GETUSER", "t")
    check_norm(d, "ACL", "LIST")
    d.check("ACL", "USERS")
    # RESP3: flags as a set, the rest as maps.
    d.larder.call("HELLO", "3")
    d.redis.call("HELLO", "3")
    check_norm(d, "ACL", "GETUSER", "t")
    d.check("ACL", "LOG")


def test_acl_subcommands_and_their_errors(d):
    d.check("ACL", "SETUSER", "alice", "on", ">p1", "~cache:*", "%R~ro:*", "&chan*", "+get", "+set", "+@hash", "-hdel",
            "+publish")
    for args in [
        ("ACL", "DRYRUN", "alice", "hdel", "cache:1", "f"), ("ACL", "DRYRUN", "alice", "get", "other"),
        ("ACL", "DRYRUN", "alice", "get", "cache:1"), ("ACL", "DRYRUN", "alice", "get", "ro:1"),
        ("ACL", "DRYRUN", "alice", "set", "ro:1", "x"), ("ACL", "DRYRUN", "alice", "publish", "chan1", "x"),
        ("ACL", "DRYRUN", "alice", "publish", "other", "x"), ("ACL", "DRYRUN", "nosuch", "get", "x"),
        ("ACL", "DRYRUN", "alice", "nosuchcmd"), ("ACL", "DRYRUN", "alice", "get"),
        ("ACL", "DRYRUN", "alice", "config", "get", "x"), ("ACL", "DRYRUN", "alice", "config", "set", "x", "y"),
        ("ACL", "DELUSER", "default"), ("ACL", "DELUSER", "nosuch", "alice"), ("ACL", "USERS"), ("ACL", "WHOAMI"),
        ("ACL", "CAT"), ("ACL", "CAT", "nosuch"), ("ACL", "CAT", "a", "b"), ("ACL", "HELP"), ("ACL", "SAVE"),
        ("ACL", "LOAD"), ("ACL", "LOG", "x"), ("ACL", "LOG", "-1"), ("ACL", "LOG", "1", "2"), ("ACL", "GENPASS", "0"),
        ("ACL", "GENPASS", "4097"), ("ACL", "GENPASS", "x"), ("ACL", "SETUSER", "a b", "on"),
        ("ACL", "SETUSER", "x\x00y"), ("ACL", "GETUSER", "nosuch"), ("ACL", "NOSUCH"), ("ACL",), ("ACL", "WHOAMI", "x"),
    ]:
        d.check(*args)
    for cat in ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
                "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction",
                "scripting"]:
        mine, theirs = d.both("ACL", "CAT", cat)
        names = lambda r: {v.value for v in r.value} - {b"client|setinfo"}
        assert names(mine) == names(theirs), cat
    for bits, length in [(None, 64), ("1", 1), ("5", 2), ("128", 32), ("4096", 1024)]:
        r = d.larder.call("ACL", "GENPASS", *([bits] if bits else []))
        assert len(r.value) == length and all(c in b"0123456789abcdef" for c in r.value)
    assert d.larder.call("ACL", "GENPASS") != d.larder.call("ACL", "GENPASS")


def login(port, user, password, protocol=2):
    c = Conn(port)
    r = c.call("HELLO", protocol, "AUTH", user, password) if protocol == 3 else c.call("AUTH", user, password)
    assert r.kind != "-", r
    return c


class Pair:
    """One connection to each server, logged in as the same user."""

    def __init__(self, d, user, password, protocol=2):
        self.l = login(d.larder.sock.getpeername()[1], user, password, protocol)
        self.r = login(d.redis.sock.getpeername()[1], user, password, protocol)

    def check(self, *args):
        mine, theirs = self.l.call(*args), self.r.call(*args)
        assert mine == theirs, f"{args}: larder {mine!r} != redis {theirs!r}"
        return mine


def log_view(reply):
    """ACL LOG entries without what differs between two servers (ids, addresses, buffers, age)."""
    out = []
    for e in reply.value:
        f = e.value
        fields = {f[i].value: f[i + 1].value for i in range(0, len(f), 2)}
        info = dict(kv.split("=", 1) for kv in fields[b"client-info"].decode().split(" "))
        assert float(fields[b"age-seconds"]) < 60
        out.append((fields[b"count"], fields[b"reason"], fields[b"context"], fields[b"object"], fields[b"username"],
                    info["cmd"], info["user"], info["db"]))
    return out


def test_what_a_restricted_user_may_run(d):
    d.check("ACL", "SETUSER", "alice", "on", ">p1", "~cache:*", "%R~ro:*", "%W~wo:*", "&chan*", "+@all", "-@dangerous",
            "-hdel", "+config|get")
    for k in ["cache:1", "ro:1", "wo:1", "other"]:
        d.both("SET", k, "v")
    d.both("RPUSH", "cache:l", "3", "1", "2")
    a = Pair(d, "alice", "p1")
    for args in [
        ("GET", "cache:1"), ("GET", "other"), ("GET", "ro:1"), ("GET", "wo:1"), ("SET", "ro:1", "x"),
        ("SET", "wo:1", "x"), ("SET", "wo:1", "x", "GET"), ("INCR", "wo:1"), ("APPEND", "wo:1", "x"),
        ("EXISTS", "ro:1", "wo:1"), ("EXISTS", "other"), ("TYPE", "wo:1"), ("STRLEN", "wo:1"), ("TTL", "wo:1"),
        ("DEL", "ro:1"), ("DEL", "wo:2"), ("LPUSH", "wo:l", "a"), ("LPOP", "wo:l"), ("HDEL", "cache:h", "f"),
        ("HSET", "cache:h", "f", "v"), ("MSET", "cache:2", "a", "other", "b"), ("MGET", "cache:1", "ro:1"),
        ("MGET", "cache:1", "wo:1"), ("COPY", "ro:1", "wo:3"), ("COPY", "wo:1", "ro:2"), ("RENAME", "ro:1", "cache:9"),
        ("RENAME", "cache:1", "wo:9"), ("RENAME", "wo:9", "cache:1"), ("SINTERSTORE", "wo:s", "ro:s"),
        ("SINTERSTORE", "ro:s", "wo:s"), ("LMOVE", "cache:l", "wo:l", "LEFT", "LEFT"),
        ("LMOVE", "cache:l", "ro:l", "LEFT", "LEFT"), ("SORT", "cache:l"), ("SORT", "cache:l", "BY", "nosort"),
        ("SORT", "cache:l", "BY", "ro:*"), ("SORT", "cache:l", "GET", "#"), ("SORT", "cache:l", "STORE", "wo:sorted"),
        ("SORT", "cache:l", "STORE", "ro:sorted"), ("SORT_RO", "cache:l", "GET", "cache:*"),
        ("PUBLISH", "chan1", "m"), ("PUBLISH", "other", "m"), ("SPUBLISH", "chan1", "m"), ("SPUBLISH", "x", "m"),
        ("CONFIG", "GET", "maxmemory"), ("CONFIG", "SET", "dir", "/tmp"), ("SLAVEOF", "127.0.0.1", "1"),
        ("DEBUG", "SLEEP", "0"), ("SHUTDOWN",), ("FLUSHALL",), ("KEYS", "*"), ("ACL", "WHOAMI"), ("ACL", "LIST"),
        ("GET", "{cache:}1"), ("GET", "x{cache:1}"), ("OBJECT", "ENCODING", "wo:1"), ("WATCH", "wo:1"),
        ("PFCOUNT", "wo:1"), ("EVAL", "return 1", "1", "ro:1"), ("EVAL_RO", "return 1", "1", "ro:1"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "cache:1"),
        ("EVAL", "return redis.call('get', 'other')", "0"), ("EVAL", "return redis.pcall('hdel', 'cache:h', 'f')", "0"),
        ("EVAL", "return redis.call('publish', 'other', 'm')", "0"),
        ("EVAL", "return {redis.acl_check_cmd('get', 'other'), redis.acl_check_cmd('get', 'cache:x'),"
                 " redis.acl_check_cmd('hdel', 'cache:h', 'f'), redis.acl_check_cmd('get')}", "0"),
        ("EVAL", "return redis.acl_check_cmd('nosuch')", "0"),
        ("FCALL", "nosuch", "1", "other"), ("AUTH", "alice", "wrong"), ("ACL", "WHOAMI"),
    ]:
        a.check(*args)
    assert log_view(d.larder.call("ACL", "LOG", "100")) == log_view(d.redis.call("ACL", "LOG", "100"))
    d.check("ACL", "LOG", "RESET")
    d.check("ACL", "LOG")


def test_channels_and_patterns(d):
    d.check("ACL", "SETUSER", "bob", "on", ">b", "+@all", "~*", "resetchannels", "&news.*", "&alerts")
    b = Pair(d, "bob", "b")
    b.check("SUBSCRIBE", "news.1")
    b.check("UNSUBSCRIBE", "news.1")
    # One channel not allowed: none of them is subscribed.
    b.check("SUBSCRIBE", "news.1", "secret")
    b.check("PSUBSCRIBE", "news.*")
    b.check("PUNSUBSCRIBE")
    b.check("PSUBSCRIBE", "news.1*")
    b.check("PSUBSCRIBE", "*")
    b.check("SSUBSCRIBE", "alerts")
    b.check("SUNSUBSCRIBE")
    b.check("SSUBSCRIBE", "other")
    b.check("PUBLISH", "alerts", "m")
    b.check("PUBLISH", "other", "m")
    assert log_view(d.larder.call("ACL", "LOG")) == log_view(d.redis.call("ACL", "LOG"))
    # acl-pubsub-default allchannels: new users may use every channel.
    d.check("CONFIG", "SET", "acl-pubsub-default", "allchannels")
    try:
        d.check("ACL", "SETUSER", "carol", "on")
        check_norm(d, "ACL", "GETUSER", "carol")
        d.check("ACL", "SETUSER", "carol", "reset")
        check_norm(d, "ACL", "GETUSER", "carol")
    finally:
        d.check("CONFIG", "SET", "acl-pubsub-default", "resetchannels")


def test_transactions_are_checked_when_queued_and_at_exec(d):
    d.check("ACL", "SETUSER", "u1", "on", ">pw", "~k*", "+@all", "&ch")
    u = Pair(d, "u1", "pw")
    u.check("MULTI")
    u.check("GET", "x")
    u.check("GET", "k1")
    u.check("EXEC")
    u.check("MULTI")
    u.check("GET", "k1")
    u.check("SET", "k2", "v")
    u.check("PUBLISH", "ch", "m")
    d.check("ACL", "SETUSER", "u1", "resetkeys", "~z*", "-publish")
    u.check("EXEC")
    assert log_view(d.larder.call("ACL", "LOG")) == log_view(d.redis.call("ACL", "LOG"))


def test_changing_or_deleting_a_user_closes_its_connections(d):
    d.check("ACL", "SETUSER", "u1", "on", ">pw", "~*", "+@all", "&ch")
    for server in (d.larder, d.redis):
        port = server.sock.getpeername()[1]
        plain = login(port, "u1", "pw")
        sub = login(port, "u1", "pw")
        assert sub.call("SUBSCRIBE", "ch").kind == "*"
        other = login(port, "default", "x") if False else Conn(port)
        # Turned off: its connections go on.
        assert server.call("ACL", "SETUSER", "u1", "off").value == b"OK"
        assert plain.call("PING").value == b"PONG"
        # Channels narrowed: the subscriber that no longer may listen is closed, the others not.
        assert server.call("ACL", "SETUSER", "u1", "on", "resetchannels", "&other").value == b"OK"
        assert sub.is_closed(2.0)
        assert plain.call("PING").value == b"PONG"
        # Deleted: closed.
        assert server.call("ACL", "DELUSER", "u1").value == 1
        assert plain.is_closed(2.0)
        assert other.call("PING").value == b"PONG"
        r = Conn(port).call("AUTH", "u1", "pw")
        assert r.value.startswith(b"WRONGPASS")
        server.call("ACL", "SETUSER", "u1", "on", ">pw", "~*", "+@all", "&ch")
        # Deleting one's own user: the reply, then the connection closes.
        me = login(port, "u1", "pw")
        assert me.call("ACL", "DELUSER", "u1").value == 1
        assert me.is_closed(2.0)
        server.call("ACL", "SETUSER", "u1", "on", ">pw", "~*", "+@all", "&ch")


def test_logging_in(d):
    d.check("AUTH", "nopass")
    d.check("AUTH", "a", "b", "c")
    d.check("ACL", "SETUSER", "alice", "on", ">p1", ">p2", "+@all", "~*")
    d.check("ACL", "SETUSER", "dave", "off", ">p", "+@all", "~*")
    d.check("ACL", "SETUSER", "erin", "on", "nopass", "+@all", "~*")
    for args in [("AUTH", "alice", "wrong"), ("AUTH", "alice", "p2"), ("ACL", "WHOAMI"), ("AUTH", "dave", "p"),
                 ("AUTH", "nosuch", "p"), ("AUTH", "erin", "anything"), ("ACL", "WHOAMI"),
                 ("HELLO", "2", "AUTH", "alice", "bad"), ("ACL", "WHOAMI"), ("RESET",), ("ACL", "WHOAMI")]:
        d.check(*args)
    mine, theirs = d.both("HELLO", "2", "AUTH", "alice", "p1")
    assert mine.value[:7] == theirs.value[:7] and mine.value[8:] == theirs.value[8:]   # all but the client id
    d.check("ACL", "WHOAMI")
    # requirepass is the default user's password.
    d.check("CONFIG", "SET", "requirepass", "secret")
    check_norm(d, "ACL", "LIST")
    lp, rp = d.larder.sock.getpeername()[1], d.redis.sock.getpeername()[1]
    for port in (lp, rp):
        c = Conn(port)
        assert c.call("GET", "x").value == b"NOAUTH Authentication required."
        assert c.call("AUTH", "wrong").value.startswith(b"WRONGPASS")
        assert c.call("AUTH", "secret").value == b"OK"
        assert c.call("ACL", "WHOAMI").value == b"default"
        assert c.call("RESET").value == b"RESET"
        assert c.call("GET", "x").value == b"NOAUTH Authentication required."
    d.check("ACL", "SETUSER", "default", "resetpass", ">other")
    d.check("CONFIG", "GET", "requirepass")
    d.check("CONFIG", "SET", "requirepass", "")
    check_norm(d, "ACL", "LIST")
    assert log_view(d.larder.call("ACL", "LOG")) == log_view(d.redis.call("ACL", "LOG"))


def test_brute_force_is_logged_and_others_are_served(d):
    d.check("ACL", "SETUSER", "alice", "on", ">right", "+@all", "~*")
    lp = d.larder.sock.getpeername()[1]
    attacker = Conn(lp)
    bystander = Conn(lp)
    for i in range(300):
        assert attacker.call("AUTH", "alice", f"guess{i}").value.startswith(b"WRONGPASS")
        if i % 50 == 0:
            assert bystander.call("PING").value == b"PONG"
    entries = log_view(d.larder.call("ACL", "LOG"))
    assert entries[0][:5] == (300, b"auth", b"toplevel", b"AUTH", b"alice")
    assert attacker.call("AUTH", "alice", "right").value == b"OK"


def test_redis_py_and_redis_cli_log_in_as_a_user(larder, d):
    d.check("ACL", "SETUSER", "alice", "on", ">p1", "~app:*", "+@all", "-@dangerous")
    r = redis.Redis(port=larder.port, username="alice", password="p1")
    assert r.set("app:1", "v") and r.get("app:1") == b"v"
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.flushall()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=larder.port, username="alice", password="bad").ping()
    out = subprocess.run(["redis-cli", "-p", str(larder.port), "--user", "alice", "--pass", "p1", "--no-auth-warning",
                          "ACL", "WHOAMI"], capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "alice"
    # CLIENT LIST shows the user; CLIENT KILL USER closes its connections.
    lines = [l for l in d.larder.call("CLIENT", "LIST").value.decode().splitlines() if "user=alice" in l]
    assert len(lines) == 1 and "cmd=get" in lines[0] or "cmd=" in lines[0]
    d.check("CLIENT", "KILL", "USER", "nosuch")
    assert d.larder.call("CLIENT", "KILL", "USER", "alice").value == 1
    r.close()


def test_aclfile_load_save_and_errors(tmp_path):
    acl = tmp_path / "users.acl"
    acl.write_text("user alice on >a ~* +@all\nuser default on >pw +@all ~*\n")
    servers = [start_larder("--aclfile", str(acl)), start_redis("--aclfile", str(acl))]
    try:
        l, r = (Conn(s.port) for s in servers)
        for c in (l, r):
            assert c.call("AUTH", "pw").value == b"OK"
        assert l.call("ACL", "LIST") == r.call("ACL", "LIST")
        # A bad file: nothing changes, and Redis's message.
        acl.write_text("user alice on >a ~* +@all\nuser bob on +nosuch\nuser bob on\nbad line\n")
        assert l.call("ACL", "LOAD") == r.call("ACL", "LOAD")
        assert l.call("ACL", "LIST") == r.call("ACL", "LIST")
        # A good one: users replaced, the default one reset when the file does not name it, and
        # the connections of other users closed.
        acl.write_text("user alice on >a ~* +@all\n\nuser carol on nopass ~c:* +get\n")
        alice = [login(s.port, "alice", "a") for s in servers]
        assert l.call("ACL", "LOAD") == r.call("ACL", "LOAD")
        assert all(c.is_closed(2.0) for c in alice)
        assert l.call("ACL", "LIST") == r.call("ACL", "LIST")
        assert l.call("ACL", "SETUSER", "zed", "on", "+ping") == r.call("ACL", "SETUSER", "zed", "on", "+ping")
        assert l.call("ACL", "SAVE").value == b"OK"
        saved = acl.read_text()
        assert r.call("ACL", "SAVE").value == b"OK"
        assert saved == acl.read_text()
        assert "user zed on resetchannels -@all +ping" in saved
        # Users and an aclfile together in the configuration: refused at start, as Redis.
        bad = start_larder_expecting_failure("--aclfile", str(acl), "--user", "x", "on")
        assert "not both" in bad
    finally:
        for s in servers:
            s.stop()


def start_larder_expecting_failure(*args):
    from conftest import larder_binary, free_port
    out = subprocess.run([larder_binary(), "--port", str(free_port()), "--save", "", *args], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode != 0
    return out.stdout + out.stderr


def test_user_lines_in_the_config_file_and_config_rewrite(tmp_path):
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    text = "save \"\"\nuser bob on >x +get ~*\n# c\nuser carol off\n"
    from test_config import start_with_file
    results = []
    for is_larder in (True, False):
        path = conf_dir / f"{is_larder}.conf"
        path.write_text(text)
        s = start_with_file(str(path), is_larder)
        try:
            c = Conn(s.port)
            results.append(c.call("ACL", "LIST"))
            c.call("ACL", "DELUSER", "carol")
            c.call("ACL", "SETUSER", "zed", "on")
            assert c.call("CONFIG", "REWRITE").value == b"OK"
            results.append([l for l in path.read_text().splitlines() if l.startswith("user ") or l == "# c"])
        finally:
            s.stop()
    assert results[0] == results[2]
    assert results[1] == results[3]
    assert results[1] == ["user bob on #2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 ~* resetchannels -@all +get",
                          "# c", "user default on nopass ~* &* +@all", "user zed on resetchannels -@all"]
    bad = start_larder_expecting_failure("--user", "x", "+nosuch")
    assert "Unknown command or category name in ACL" in bad


def test_key_patterns_are_globs(d):
    d.check("ACL", "SETUSER", "t", "on", ">p", "+@all", "~app:*", "~a?c*", "~x[ab]*", "~lit\\*", "~exact", "%R~r*",
            "~{tag}*")
    t = Pair(d, "t", "p")
    for key in ["app:", "app:1", "ap", "abc", "abcd", "ac", "xa1", "xc1", "lit*", "litx", "exact", "exactly", "r1",
                "{tag}x", "tag", "APP:1", ""]:
        t.check("GET", key)
        t.check("SET", key, "v")
    d.check("CONFIG", "SET", "acllog-max-len", "3")
    try:
        # The log is cut to its new length at its next entry, as Redis does.
        t.check("GET", "nope")
        assert len(d.larder.call("ACL", "LOG").value) == 3
        assert log_view(d.larder.call("ACL", "LOG")) == log_view(d.redis.call("ACL", "LOG"))
    finally:
        d.check("CONFIG", "SET", "acllog-max-len", "128")


def test_replicas_log_in_as_an_acl_user(tmp_path):
    """A primary whose default user is locked, and a replication user with only what a replica
    needs: a Larder replica and a redis-server replica of a Larder primary both sync."""
    primary = start_larder()
    replicas = []
    try:
        p = Conn(primary.port)
        assert p.call("ACL", "SETUSER", "repl", "on", ">rp", "-@all", "+psync", "+replconf", "+ping").value == b"OK"
        assert p.call("ACL", "SETUSER", "default", "resetpass", ">admin").value == b"OK"
        p = Conn(primary.port)
        assert p.call("AUTH", "admin").value == b"OK"
        p.call("SET", "k", "v")
        flags = ["--replicaof", "127.0.0.1", str(primary.port), "--masteruser", "repl", "--masterauth", "rp"]
        replicas = [start_larder(*flags), start_redis(*flags)]

        def arrives(key, value):
            for r in replicas:
                c = Conn(r.port)
                deadline = time.time() + 20
                while c.call("GET", key).value != value and time.time() < deadline:
                    time.sleep(0.1)
                assert c.call("GET", key).value == value

        arrives("k", b"v")
        p.call("SET", "k2", "v2")
        arrives("k2", b"v2")
        # The replication user may do nothing else.
        assert login(primary.port, "repl", "rp").call("GET", "k").value.startswith(b"NOPERM")
    finally:
        for s in replicas + [primary]:
            s.stop()
