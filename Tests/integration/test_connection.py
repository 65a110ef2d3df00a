"""Connection commands: PING, ECHO, HELLO, AUTH, CLIENT, QUIT, RESET, and RESP3."""
import socket
import time

import pytest
import redis

from conftest import start_larder, start_redis
from differential import Differ
from resp import Conn, Reply

CASES = [
    ("PING",), ("PING", "hi"), ("PING", "a", "b"), ("ECHO", "x"), ("ECHO",),
    ("HELLO", "4"), ("HELLO", "x"), ("HELLO", "2", "FOO"), ("HELLO", "2", "AUTH", "default"),
    ("HELLO", "2", "SETNAME", "bad name"), ("AUTH", "pw"), ("AUTH", "a", "b", "c"),
    ("CLIENT", "SETNAME", "bad name"), ("CLIENT", "SETNAME", "good"), ("CLIENT", "GETNAME"),
    ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "FOO"), ("CLIENT",),
    ("CLIENT", "KILL", "1.2.3.4:5"), ("CLIENT", "KILL", "ID", "abc"), ("CLIENT", "KILL", "FOO", "bar"),
    ("CLIENT", "KILL", "ID", "999999"), ("CLIENT", "REPLY", "FOO"), ("CLIENT", "NO-EVICT", "maybe"),
    ("CLIENT", "NO-EVICT", "on"), ("CLIENT", "PAUSE", "abc"), ("CLIENT", "PAUSE", "-1"), ("CLIENT", "PAUSE", "10", "FOO"),
    ("CLIENT", "LIST", "TYPE", "foo"), ("CLIENT", "LIST", "FOO"),
    ("CLIENT", "KILL", "USER", "nosuchuser"), ("CLIENT", "KILL", "USER", "default", "SKIPME", "yes", "ID", "999999"),
    ("LOLWUT", "VERSION", "1"), ("LOLWUT", "VERSION", "x"), ("LOLWUT", "VERSION", "2"),
]


def test_connection_commands_match_redis(diff):
    for cmd in CASES:
        diff.check(*cmd)


def test_hello_and_resp3(larder):
    c = Conn(larder.port)
    reply = c.call("HELLO", "3")
    assert reply.kind == "%"
    fields = {k.value: v for k, v in reply.value}
    assert fields[b"proto"] == Reply(":", 3)
    assert fields[b"server"].value == b"redis"
    assert c.call("GET", "nothing-here") == Reply("_", None)
    c.call("CONFIG", "GET", "port")
    assert c.call("CONFIG", "GET", "port").kind == "%"
    back = c.call("HELLO", "2")
    assert back.kind == "*"
    assert c.call("GET", "nothing-here") == Reply("$", None)


def test_redis_py_resp3(larder):
    r = larder.client(protocol=3)
    r.set("k", "v")
    assert r.get("k") == b"v"
    assert r.config_get("maxclients") == {"maxclients": "10000"}
    r.close()


def test_client_id_list_info_kill(larder):
    a = larder.client()
    b = larder.client()
    a.client_setname("alpha")
    b.client_setname("beta")
    ida, idb = a.client_id(), b.client_id()
    assert ida != idb
    names = {c["name"] for c in a.client_list()}
    assert {"alpha", "beta"} <= names
    info = a.client_info()
    assert info["name"] == "alpha" and int(info["id"]) == ida
    assert a.client_list(client_id=[idb])[0]["name"] == "beta"
    assert a.client_kill_filter(_id=idb) == 1
    assert idb not in {int(c["id"]) for c in a.client_list()}
    me = Conn(larder.port)
    my_id = me.call("CLIENT", "ID").value
    assert me.call("CLIENT", "KILL", "ID", my_id) == Reply(":", 0)       # SKIPME yes by default
    assert me.call("CLIENT", "KILL", "ID", my_id, "SKIPME", "no") == Reply(":", 1)
    assert me.is_closed()
    a.close()


def test_client_kill_by_addr(larder):
    victim = Conn(larder.port)
    victim.call("CLIENT", "SETNAME", "victim")
    r = larder.client()
    addr = next(c["addr"] for c in r.client_list() if c["name"] == "victim")
    assert r.client_kill(addr) is True
    assert victim.is_closed()
    r.close()


def test_quit_closes_after_ok(larder):
    c = Conn(larder.port)
    assert c.call("QUIT") == Reply("+", b"OK")
    assert c.is_closed()


def test_reset(larder):
    c = Conn(larder.port)
    c.call("HELLO", "3")
    c.call("SELECT", "5")
    c.call("CLIENT", "SETNAME", "n")
    assert c.call("RESET") == Reply("+", b"RESET")
    assert c.call("CLIENT", "GETNAME") == Reply("$", None)
    assert c.call("SET", "where", "db0") == Reply("+", b"OK")
    c2 = larder.client()
    assert c2.get("where") == b"db0"
    c2.delete("where")


def test_client_reply_off_skip_on(larder):
    c = Conn(larder.port)
    c.send_raw(b"CLIENT REPLY SKIP\r\nSET a 1\r\nGET a\r\n")
    assert c.read() == Reply("$", b"1")
    c.send_raw(b"CLIENT REPLY OFF\r\nSET a 2\r\nGET a\r\nCLIENT REPLY ON\r\nGET a\r\n")
    assert c.read() == Reply("+", b"OK")
    assert c.read() == Reply("$", b"2")


def test_client_pause_delays_writes_not_reads(larder):
    r = larder.client()
    other = larder.client()
    r.set("p", "1")
    assert r.client_pause(500, all=False)
    start = time.time()
    assert other.get("p") == b"1"
    assert time.time() - start < 0.4
    other.set("p", "2")
    assert time.time() - start >= 0.4
    assert r.client_unpause()
    # A pipeline: the held write keeps the reads behind it waiting, in order, and runs once.
    r.execute_command("CONFIG", "RESETSTAT")
    assert r.client_pause(300, all=False)
    c = Conn(larder.port)
    start = time.time()
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\n3\r\n*2\r\n$3\r\nGET\r\n$1\r\np\r\n")
    assert c.read() == Reply("+", b"OK")
    assert time.time() - start >= 0.25
    assert c.read() == Reply("$", b"3")
    assert r.info("commandstats")["cmdstat_set"]["calls"] == 1
    c.close()
    r.close()
    other.close()


@pytest.fixture(scope="module")
def secured():
    s = start_larder("--requirepass", "s3cret")
    yield s
    s.stop()


def test_requirepass(secured):
    c = Conn(secured.port)
    assert c.call("GET", "x") == Reply("-", b"NOAUTH Authentication required.")
    assert c.call("AUTH", "wrong") == Reply("-", b"WRONGPASS invalid username-password pair or user is disabled.")
    assert c.call("AUTH", "s3cret") == Reply("+", b"OK")
    assert c.call("PING") == Reply("+", b"PONG")
    d = Conn(secured.port)
    assert d.call("HELLO", "3").value.startswith(b"NOAUTH HELLO must be called")
    assert d.call("HELLO", "3", "AUTH", "default", "s3cret").kind == "%"
    r = secured.client(password="s3cret")
    assert r.set("k", "v")
    # Before AUTH, big multibulk requests are refused as by Redis.
    e = Conn(secured.port)
    e.send_raw(b"*100\r\n")
    assert e.read() == Reply("-", b"ERR Protocol error: unauthenticated multibulk length")
    assert e.is_closed()


def test_requirepass_matches_redis(secured):
    red = start_redis("--requirepass", "s3cret")
    try:
        d = Differ(secured.port, red.port)
        for cmd in [("GET", "x"), ("AUTH", "nope"), ("AUTH", "default", "nope"), ("AUTH", "other", "s3cret"),
                    ("HELLO", "3", "AUTH", "default", "x"), ("PING",), ("AUTH", "s3cret"), ("PING",), ("AUTH", "default", "s3cret")]:
            d.check(*cmd)
    finally:
        red.stop()


def _client_info(host, port):
    """CLIENT INFO's fields, with the connection's own (ip, port) ends."""
    c = Conn(port, host=host)
    fields = dict(f.split("=", 1) for f in c.call("CLIENT", "INFO").value.decode().split())
    ends = (c.sock.getsockname()[:2], c.sock.getpeername()[:2])
    c.close()
    return fields, ends


@pytest.mark.parametrize("start", [start_larder, start_redis], ids=["larder", "redis"])
def test_client_addresses_are_the_sockets_ends(start):
    # As Redis writes them: ip:port for IPv4, [ip]:port for IPv6 (Larder writes IPv4 by hand).
    s = start("--bind", "127.0.0.1 ::1")
    try:
        for host, fmt in (("127.0.0.1", "{}:{}"), ("::1", "[{}]:{}")):
            fields, (mine, theirs) = _client_info(host, s.port)
            assert fields["addr"] == fmt.format(*mine)
            assert fields["laddr"] == fmt.format(*theirs)
    finally:
        s.stop()


def _outside_address():
    """This machine's address on its default route, if it has one that is not loopback."""
    import socket
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.connect(("192.0.2.1", 9))   # no packet is sent for a UDP connect
            ip = u.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


@pytest.mark.parametrize("start", [start_larder, start_redis], ids=["larder", "redis"])
def test_protected_mode_refuses_only_outside_clients(start):
    ip = _outside_address()
    if ip is None:
        pytest.skip("no address other than loopback on this machine")
    s = start("--bind", f"127.0.0.1 {ip} ::1", "--protected-mode", "yes")
    try:
        outside = Conn(s.port, host=ip)
        reply = outside.read()
        assert reply.kind == "-" and reply.value.startswith(b"DENIED Redis is running in protected mode")
        assert outside.is_closed()
        assert Conn(s.port).call("PING") == Reply("+", b"PONG")
        assert Conn(s.port, host="::1").call("PING") == Reply("+", b"PONG")
    finally:
        s.stop()


def test_serves_when_run_by_an_ordinary_user():
    # Accepted connections used to get SO_DEBUG (TCP_NODELAY's number at the socket level),
    # which only root may set: run by any other user, Larder closed every connection.
    import os
    import shutil
    import tempfile
    from conftest import Server, free_port, larder_binary
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to start the server as another user (as any other user, every test runs so)")
    work = tempfile.mkdtemp(prefix="larder-nobody-")   # pytest's tmp_path is root's alone
    os.chmod(work, 0o777)
    port = free_port()
    argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
            larder_binary(), "--port", str(port), "--dir", os.path.join(work, "data"), "--save", ""]
    s = Server(argv, port, work, open(os.path.join(work, "larder.log"), "ab"))
    try:
        c = Conn(port)
        assert c.call("PING") == Reply("+", b"PONG")
        assert c.call("SET", "k", "v") == Reply("+", b"OK")
        assert Conn(port, host="::1").call("GET", "k") == Reply("$", b"v")
    finally:
        s.stop()


def _keepalive_timer(server_port, client_port):
    """Seconds left on the server side's keepalive timer of one connection (ss), or None."""
    import re
    import subprocess
    out = subprocess.run(["ss", "-tnoH", "state", "established",
                          f"( sport = :{server_port} and dport = :{client_port} )"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)ms)?", out)
    if not m:
        return None
    minutes, seconds, ms = (int(g) if g else 0 for g in m.groups())
    return minutes * 60 + seconds + ms / 1000


@pytest.mark.parametrize("start", [start_larder, start_redis], ids=["larder", "redis"])
def test_tcp_keepalive_probes_after_its_seconds(start):
    # As Redis: the first probe after tcp-keepalive idle seconds, not the kernel's two hours;
    # with 0, no keepalive at all. `ss` shows the accepted socket's timer.
    import shutil
    if not shutil.which("ss"):
        pytest.fail("ss is missing (Debian package iproute2; scripts/test.sh installs it)")
    for seconds in (120, 0):
        s = start("--tcp-keepalive", str(seconds))
        try:
            c = Conn(s.port)
            assert c.call("PING") == Reply("+", b"PONG")
            left = _keepalive_timer(s.port, c.sock.getsockname()[1])
            if seconds:
                assert left is not None and seconds - 10 <= left <= seconds
            else:
                assert left is None
        finally:
            s.stop()


def client_fields(conn, name):
    """One client's CLIENT LIST fields, by its name."""
    for line in conn.call("CLIENT", "LIST").value.decode().strip().split("\n"):
        fields = dict(kv.split("=", 1) for kv in line.split(" "))
        if fields["name"] == name:
            return fields
    raise AssertionError(f"no client named {name}")


def test_client_list_memory_figures_as_redis(larder, oracle):
    """CLIENT LIST's buffer figures mean what they mean on redis-server: the asking client's
    command is in its qbuf and its arguments in argv-mem, replies of earlier pipelined commands
    in obl; a blocked client holds its arguments; a transaction its queued commands (each
    argument's bytes and a pointer, multi-mem); a partial command waits in qbuf; a subscriber
    that does not read holds its messages in omem (events rw). Sizes of buffers themselves
    (qbuf-free, tot-mem) are each server's own."""
    seen = {}
    for server in (larder, oracle):
        conns = [Conn(server.port) for _ in range(6)]
        asker, multi, blocked, partial, sub, pub = conns
        multi.call("CLIENT", "SETNAME", "multi")
        multi.call("MULTI")
        multi.call("SET", "key", "value")
        multi.call("GET", "key")
        blocked.call("CLIENT", "SETNAME", "blocked")
        blocked.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nlist\r\n$1\r\n0\r\n")
        partial.call("CLIENT", "SETNAME", "partial")
        partial.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk")
        sub.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.call("CLIENT", "SETNAME", "sub")
        sub.call("SUBSCRIBE", "ch")
        payload = "x" * 100_000
        for _ in range(40):
            pub.call("PUBLISH", "ch", payload)
        asker.call("CLIENT", "SETNAME", "asker")
        time.sleep(0.3)
        asker.send_raw(b"*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n")
        assert asker.read() == Reply("+", b"PONG")
        lines = asker.read().value.decode().strip().split("\n")
        fields = {f["name"]: f for f in (dict(kv.split("=", 1) for kv in line.split(" ")) for line in lines)}
        seen[server] = fields
        one = client_fields(asker, "asker")   # the asker alone, not pipelined
        assert one["qbuf"] == "26" and one["argv-mem"] == "10" and one["obl"] == "0"
        assert fields["asker"]["argv-mem"] == "10" and fields["asker"]["obl"] == "7"
        assert fields["multi"]["multi-mem"] == "57"   # (3+3+5 + 3*8) + (3+3 + 2*8)
        assert fields["blocked"]["argv-mem"] == "10" and fields["blocked"]["flags"] == "b"
        assert int(fields["partial"]["qbuf"]) > 0
        assert int(fields["sub"]["omem"]) > 0 and int(fields["sub"]["oll"]) > 0
        assert fields["sub"]["events"] == "rw"
        for name in ("multi", "blocked", "partial"):
            assert fields[name]["omem"] == "0" and fields[name]["oll"] == "0" and fields[name]["events"] == "r"
        for f in fields.values():
            assert int(f["tot-mem"]) >= int(f["qbuf"]) + int(f["argv-mem"]) + int(f["multi-mem"]) + int(f["omem"])
        multi.call("DISCARD")
        assert client_fields(asker, "multi")["multi-mem"] == "0"
        pub.call("LPUSH", "list", "a")
        assert blocked.read() == Reply("*", (Reply("$", b"list"), Reply("$", b"a")))
        assert client_fields(asker, "blocked")["argv-mem"] == "0"
        for c in conns:
            c.close()
    assert seen[larder].keys() == seen[oracle].keys()
