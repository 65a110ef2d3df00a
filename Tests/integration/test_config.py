"""CONFIG GET / SET / REWRITE / RESETSTAT against redis-server 7.0: patterns, types and bounds,
the error texts for unknown, invalid, immutable, protected and duplicate parameters, CONFIG SET
of several parameters at once (all or nothing), and what CONFIG REWRITE writes."""
import os
import subprocess
import tempfile

import pytest
import redis

from conftest import Server, free_port, larder_binary, start_larder, start_redis
from differential import Differ

# Parameters both servers know, with a value each accepts and its canonical form.
SETTABLE = [
    ("maxmemory", "10mb", "10485760"), ("maxmemory", "1G", "1000000000"), ("maxmemory", "0", "0"),
    ("maxmemory-policy", "ALLKEYS-LRU", "allkeys-lru"), ("maxmemory-samples", "7", "7"),
    ("timeout", "30", "30"), ("hz", "20", "20"), ("appendfsync", "EVERYSEC", "everysec"),
    ("notify-keyspace-events", "KEA", "AKE"), ("notify-keyspace-events", "", ""),
    ("hash-max-listpack-entries", "100", "100"), ("hash-max-ziplist-entries", "64", "64"),
    ("lazyfree-lazy-user-del", "YES", "yes"), ("lazyfree-lazy-user-del", "no", "no"),
    ("client-output-buffer-limit", "pubsub 1mb 512kb 30", None),
    ("client-output-buffer-limit", "normal 0 0 0 replica 256mb 64mb 60", None),
    ("proto-max-bulk-len", "1mb", "1048576"), ("save", "100 10 20 30", "100 10 20 30"), ("save", "", ""),
]

BAD_SETS = [
    ("nosuchparam", "1"), ("maxmemory", "abc"), ("maxmemory", "-1"), ("maxmemory-samples", "0"),
    ("maxmemory-samples", "x"), ("maxmemory-policy", "sometimes"), ("appendfsync", "often"),
    ("hz", "-5"), ("timeout", "1.5"), ("lazyfree-lazy-user-del", "maybe"),
    ("databases", "4"), ("notify-keyspace-events", "Q"), ("client-output-buffer-limit", "normal 1 2"),
    ("client-output-buffer-limit", "other 1 2 3"), ("save", "100"), ("save", "a b"),
    ("dir", "/tmp"), ("dbfilename", "x.rdb"),
]


@pytest.fixture(scope="module")
def pair():
    larder, redis = start_larder(), start_redis()
    yield larder, redis
    larder.stop()
    redis.stop()


@pytest.fixture
def d(pair):
    differ = Differ(pair[0].port, pair[1].port)
    yield differ
    differ.close()


@pytest.mark.parametrize("name,value,canonical", SETTABLE)
def test_set_then_get(d, name, value, canonical):
    d.check("CONFIG", "SET", name, value)
    got = d.check("CONFIG", "GET", name)
    if canonical is not None:
        assert got.value[1].value == canonical.encode()


@pytest.mark.parametrize("name,value", BAD_SETS)
def test_set_errors(d, name, value):
    d.check("CONFIG", "SET", name, value)


def test_arity_and_help(d):
    d.check("CONFIG", "SET", "maxmemory")
    d.check("CONFIG", "SET", "maxmemory", "1", "hz")
    d.check("CONFIG", "GET")
    d.check("CONFIG", "NOSUCH")
    d.check("CONFIG", "RESETSTAT", "x")


def test_get_patterns_and_several(d):
    for pattern in ["maxmemory-policy", "MAXMEMORY-POLICY", "lazyfree-lazy-user-*", "hash-max-*-entries",
                    "no-such-*", "active-expire-effort"]:
        d.check("CONFIG", "GET", pattern, unordered=True)
    d.check("CONFIG", "GET", "timeout", "hz", "timeout", unordered=True)


def test_set_several_is_all_or_nothing(d):
    d.both("CONFIG", "SET", "maxmemory", "0", "maxmemory-samples", "5")
    # The second parameter is bad: neither changes.
    d.check("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-samples", "0")
    d.check("CONFIG", "GET", "maxmemory")
    d.check("CONFIG", "SET", "maxmemory", "10mb", "nosuch", "1")
    d.check("CONFIG", "GET", "maxmemory")
    d.check("CONFIG", "SET", "maxmemory", "10mb", "databases", "1")
    d.check("CONFIG", "GET", "maxmemory")
    d.check("CONFIG", "SET", "maxmemory", "10mb", "MAXMEMORY", "20mb")
    d.check("CONFIG", "SET", "hash-max-listpack-entries", "10", "hash-max-ziplist-entries", "20")
    # All good: both change.
    d.check("CONFIG", "SET", "maxmemory", "12mb", "maxmemory-samples", "9", "timeout", "3")
    d.check("CONFIG", "GET", "maxmemory", "maxmemory-samples", "timeout", unordered=True)
    d.both("CONFIG", "SET", "maxmemory", "0", "maxmemory-samples", "5", "timeout", "0")


def test_apply_failure_restores_every_value(tmp_path):
    # appendonly yes where the AOF's folder cannot be made: the whole CONFIG SET fails and the
    # other parameter given with it goes back, as Redis restores and re-applies the old values.
    larder = start_larder("--appenddirname", "blocked")
    try:
        data = os.path.join(larder.workdir, "data")
        open(os.path.join(data, "blocked"), "w").close()   # a file where the folder should go
        r = larder.client()
        with pytest.raises(Exception) as e:
            r.execute_command("CONFIG", "SET", "maxmemory-samples", "9", "appendonly", "yes")
        assert "CONFIG SET failed (possibly related to argument 'appendonly')" in str(e.value)
        assert r.config_get("maxmemory-samples") == {"maxmemory-samples": "5"}
        assert r.config_get("appendonly") == {"appendonly": "no"}
        assert r.ping()
    finally:
        larder.stop()


def test_rewrite_writes_the_changes(tmp_path):
    servers = []
    for start in (start_larder, start_redis):
        conf = tempfile.mktemp(suffix=".conf", dir=tmp_path)
        with open(conf, "w") as f:
            f.write("# kept comment\nmaxmemory 5mb\nhz 10\n")
        servers.append((start_with_file(conf, start is start_larder), conf))
    try:
        for s, conf in servers:
            r = s.client()
            r.config_set("maxmemory", "7mb")
            r.config_set("maxmemory-policy", "allkeys-lfu")
            r.config_set("hz", "10")
            r.execute_command("CONFIG", "REWRITE")
        texts = []
        for s, conf in servers:
            with open(conf) as f:
                lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
            texts.append(lines)
            assert "# kept comment" in open(conf).read()
        wanted = ["maxmemory 7mb", "maxmemory-policy allkeys-lfu"]
        for lines in texts:
            for w in wanted:
                assert w in lines, lines
        # hz is back at its default: the file had it, so its line stays (as Redis keeps it).
        assert [l for l in texts[0] if l.startswith("hz")] == [l for l in texts[1] if l.startswith("hz")]
    finally:
        for s, _ in servers:
            s.stop()


def start_with_file(conf, larder):
    """A server started with a config file (first, as redis-server takes it) and the test's
    flags after it."""
    import shutil
    from conftest import Server, free_port, larder_binary
    workdir = tempfile.mkdtemp(prefix="conf-")
    port = free_port()
    log = open(os.path.join(workdir, "server.log"), "ab")
    exe = larder_binary() if larder else shutil.which("redis-server")
    argv = [exe, conf, "--port", str(port), "--dir", workdir, "--save", ""]
    return Server(argv, port, workdir, log)


def test_resetstat(d):
    d.both("SET", "a", "1")
    d.both("GET", "a")
    d.check("CONFIG", "RESETSTAT")
    for side in (d.larder, d.redis):
        info = side.call("INFO", "commandstats").value.decode()
        assert "cmdstat_get" not in info and "cmdstat_set" not in info


def test_commandstats_fields_as_redis(d):
    d.check("CONFIG", "RESETSTAT")
    for i in range(200):
        d.both("SET", f"k{i}", "v")
    d.both("GET")                      # an arity error: rejected, not failed
    d.both("INCR", "k0")               # not an integer: failed
    for side in (d.larder, d.redis):
        stats = {}
        for line in side.call("INFO", "commandstats").value.decode().splitlines():
            if line.startswith("cmdstat_"):
                name, fields = line.split(":", 1)
                stats[name] = dict(f.split("=") for f in fields.split(","))
        s = stats["cmdstat_set"]
        assert list(s) == ["calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"]
        assert s["calls"] == "200" and int(s["usec"]) > 0
        # Two decimals; Redis divides in float, so the last digit may round either way.
        assert len(s["usec_per_call"].split(".")[1]) == 2
        assert abs(float(s["usec_per_call"]) - int(s["usec"]) / 200) <= 0.011
        assert stats["cmdstat_incr"]["failed_calls"] == "1"
        assert stats["cmdstat_get"]["rejected_calls"] == "1" and stats["cmdstat_get"]["calls"] == "0"


def test_every_directive_redis_lists_is_known(pair):
    larder, redis_server = pair
    mine = set(larder.client().config_get("*"))
    theirs = set(redis_server.client().config_get("*"))
    assert theirs <= mine, sorted(theirs - mine)


# Directives Larder keeps without acting on them: their defaults, types, bounds and errors.
KEPT = [("activedefrag", "yes"), ("repl-diskless-sync-delay", "3"), ("repl-diskless-load", "swapdb"),
        ("repl-diskless-load", "sometimes"), ("tracking-table-max-keys", "10"), ("oom-score-adj", "relative"),
        ("oom-score-adj", "maybe"), ("shutdown-timeout", "5"), ("acllog-max-len", "64"), ("acllog-max-len", "-1"),
        ("active-defrag-cycle-min", "0"), ("active-defrag-cycle-min", "30"), ("jemalloc-bg-thread", "maybe"),
        ("jemalloc-bg-thread", "no"), ("supervised", "systemd"), ("shutdown-on-sigterm", "nosave"),
        ("shutdown-on-sigterm", "later"), ("maxmemory-clients", "10mb"), ("replica-priority", "7"),
        ("slave-priority", "8"), ("cluster-node-timeout", "abc"), ("latency-tracking", "no"),
        ("tls-port", "0"), ("min-replicas-to-write", "0"), ("min-slaves-max-lag", "20")]


@pytest.mark.parametrize("name,value", KEPT)
def test_kept_directives_as_redis(d, name, value):
    d.check("CONFIG", "GET", name)
    d.check("CONFIG", "SET", name, value)
    d.check("CONFIG", "GET", name)


def test_what_larder_cannot_do_is_refused_not_ignored(pair, tmp_path):
    # tls-port without certificates: refused as Redis refuses it, nothing bound.
    for server in pair:
        c = server.client()
        with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
            c.config_set("tls-port", str(free_port()))
        assert c.config_get("tls-port")["tls-port"] == "0"
        c.close()
    # replicaof takes a host and a port, as Redis's.
    proc = subprocess.run([larder_binary(), "--port", "0", "--dir", str(tmp_path), "--replicaof", "127.0.0.1"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0 and "wrong number of arguments" in proc.stdout + proc.stderr


def run_redis_conf(source_lines, tmp_path):
    """Starts Larder with a redis.conf whose port and paths only are changed, daemonized as
    the file says when it says so (Debian's does); answers after checking it serves, stops it
    with SIGTERM and waits for its exit."""
    import signal
    import time
    port = free_port()
    pidfile = tmp_path / "larder.pid"
    logfile = tmp_path / "larder.log"
    lines = []
    for line in source_lines:
        word = line.split(None, 1)[0] if line.strip() else ""
        if word == "port":
            line = f"port {port}\n"
        elif word == "dir":
            line = f"dir {tmp_path}\n"
        elif word == "logfile":
            line = f"logfile {logfile}\n"
        elif word == "pidfile":
            line = f"pidfile {pidfile}\n"
        lines.append(line)
    conf = tmp_path / "redis.conf"
    conf.write_text("".join(lines))
    daemonized = any(l.split()[:2] == ["daemonize", "yes"] for l in lines if l.strip())
    proc = subprocess.Popen([larder_binary(), str(conf)], stdout=open(tmp_path / "out", "ab"), stderr=subprocess.STDOUT,
                            cwd=str(tmp_path))
    if daemonized:
        assert proc.wait(30) == 0, open(tmp_path / "out").read()
    deadline = time.time() + 30
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    assert pid != proc.pid or not daemonized
    c = redis.Redis(port=port, decode_responses=True)
    while time.time() < deadline:
        try:
            c.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    c.set("k", "v")
    assert c.get("k") == "v"
    values = c.config_get("*")
    c.close()
    os.kill(pid, signal.SIGTERM)
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
            time.sleep(0.05)
        except ProcessLookupError:
            break
    if not daemonized:
        assert proc.wait(10) == 0
    assert not pidfile.exists()
    assert "Ready to accept connections" in logfile.read_text()
    return values


def test_debians_redis_conf_starts_larder(tmp_path):
    """/etc/redis/redis.conf as Debian ships it (daemonize yes, supervised auto ...); only the
    port and the paths changed."""
    source = "/etc/redis/redis.conf"
    assert os.path.exists(source), "redis-server's Debian package is not installed"
    values = run_redis_conf(open(source).readlines(), tmp_path)
    assert values["repl-diskless-sync"] == "yes" and values["daemonize"] == "yes"


def upstream_redis_conf():
    """redis.conf of Redis 7.0.15's own source tree, from Debian's source archive of the
    redis-server package (fetched once, kept in /tmp)."""
    import tarfile
    import urllib.request
    cache = "/tmp/larder-test-cache/redis-7.0.15.conf"
    if not os.path.exists(cache):
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tarball = cache + ".tar.gz"
        urllib.request.urlretrieve("http://deb.debian.org/debian/pool/main/r/redis/redis_7.0.15.orig.tar.gz", tarball)
        with tarfile.open(tarball) as t:
            member = next(m for m in t.getmembers() if m.name.endswith("/redis.conf") and m.name.count("/") == 1)
            data = t.extractfile(member).read()
        with open(cache + ".tmp", "wb") as f:
            f.write(data)
        os.rename(cache + ".tmp", cache)
        os.unlink(tarball)
    return open(cache).readlines()


def test_redis_source_trees_redis_conf_starts_larder(tmp_path):
    values = run_redis_conf(upstream_redis_conf(), tmp_path)
    assert values["daemonize"] == "no" and values["bind"] == "127.0.0.1 -::1"


def start_from_text(tmp_path, text, name="larder.conf"):
    port = free_port()
    conf = tmp_path / name
    conf.write_text(text.replace("{port}", str(port)).replace("{dir}", str(tmp_path)))
    return Server([larder_binary(), str(conf)], port, str(tmp_path), open(tmp_path / "larder.log", "ab"))


def test_include_and_rename_command(tmp_path):
    (tmp_path / "included.conf").write_text("maxmemory 5mb\nhz 20\n")
    text = ("port {port}\ndir {dir}\nsave \"\"\nappendonly yes\nmaxmemory 1mb\ninclude {dir}/included.conf\nhz 30\n"
            "rename-command FLUSHALL \"\"\nrename-command CONFIG MYCONFIG\nrename-command DEL MYDEL\n")
    server = start_from_text(tmp_path, text)
    try:
        c = server.client()
        # The include stands where it is: its maxmemory over the line before, hz under the line after.
        assert c.execute_command("MYCONFIG", "GET", "maxmemory") == {b"maxmemory": b"5242880"}
        assert c.execute_command("MYCONFIG", "GET", "hz") == {b"hz": b"30"}
        for gone in (("FLUSHALL",), ("CONFIG", "GET", "hz"), ("DEL", "k")):
            with pytest.raises(Exception, match="unknown command"):
                c.execute_command(*gone)
        c.set("k", "v")
        c.set("j", "w")
        assert c.execute_command("MYDEL", "k") == 1
        c.close()
    finally:
        server.stop()
    # The AOF is read back under the same renames (its commands under either name).
    server = start_from_text(tmp_path, text)
    try:
        c = server.client()
        assert c.get("k") is None and c.get("j") == b"w"
        c.close()
    finally:
        server.stop()


@pytest.mark.parametrize("line,message", [("rename-command NOSUCH x", "No such command in rename-command"),
                                          ("rename-command GET SET", "Target command name already exists"),
                                          ("include /nonexistent/larder.conf", "can't open config file")])
def test_bad_include_and_rename_lines_are_fatal(tmp_path, line, message):
    conf = tmp_path / "bad.conf"
    conf.write_text(line + "\n")
    proc = subprocess.run([larder_binary(), str(conf)], capture_output=True, text=True, timeout=20, cwd=str(tmp_path))
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr


def test_pidfile_logfile_and_version(tmp_path):
    port = free_port()
    log, pid = tmp_path / "larder.log", tmp_path / "larder.pid"
    server = Server([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "",
                     "--logfile", str(log), "--pidfile", str(pid)], port, str(tmp_path), open(tmp_path / "out", "ab"))
    try:
        assert int(pid.read_text()) == server.proc.pid
        assert server.client().ping()
    finally:
        server.stop()
    assert server.proc.returncode == 0
    assert not pid.exists()
    assert "Ready to accept connections tcp" in log.read_text()
    version = subprocess.run([larder_binary(), "--version"], capture_output=True, text=True, timeout=20)
    assert version.returncode == 0 and "redis=7.0.15" in version.stdout


def test_unix_socket(tmp_path):
    import stat
    import redis as redis_py
    port, path = free_port(), str(tmp_path / "larder.sock")
    server = Server([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "",
                     "--unixsocket", path, "--unixsocketperm", "700"], port, str(tmp_path), open(tmp_path / "out", "ab"))
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
        c = redis_py.Redis(unix_socket_path=path)
        c.set("k", "v")
        assert c.get("k") == b"v"
        info = c.client_info()
        assert info["addr"] == path + ":0" and info["laddr"] == path + ":0"
        c.close()
        cli = subprocess.run(["redis-cli", "-s", path, "PING"], capture_output=True, text=True, timeout=20)
        assert cli.stdout.strip() == "PONG"
    finally:
        server.stop()
    assert not os.path.exists(path)


# Parameters the sweeps leave alone: they move the server, its files or its clients.
SWEEP_SKIP = {"port", "bind", "dir", "requirepass", "unixsocket", "logfile", "pidfile", "dbfilename", "appendfilename",
              "appenddirname", "tls-port", "daemonize", "masterauth", "masteruser", "aclfile", "replicaof", "slaveof",
              "enable-protected-configs", "enable-debug-command", "enable-module-command", "maxclients"}
SWEEP_VALUES = ["abc", "mb", "b", "-1", "0", "1", "yes", "no", "10%", "100%", "150%", "2147483648", "-2147483649",
                "99999999999999999999", "1k", "1kb", "5mb", "1.5", "", "a b", "default", "nosave now", "save nosave",
                "force save", "1 2", "1 2 3", "-2001 0 0", "50.5 99.990 100", "1e1 0x10", "501", "a_b", "a-b.c",
                "x{title}", "{title}", "{title", "{server-mode}", "clients", "local"]


def sweep_one(c, name, value):
    try:
        reply = c.config_set(name, value)
    except redis.ResponseError as e:
        reply = str(e)
    return reply, c.config_get(name).get(name)


def test_config_set_of_every_parameter_as_redis():
    """Every parameter redis-server 7.0 lists, set to each of a range of good and bad values
    on both servers: the same reply (OK or the same error text) and the same value after."""
    larder, redis_server = start_larder(), start_redis()
    try:
        mine = larder.client(decode_responses=True)
        theirs = redis_server.client(decode_responses=True)
        differences = []
        defaults_theirs = theirs.config_get("*")
        defaults_mine = mine.config_get("*")
        for name in sorted(defaults_theirs):
            if name in SWEEP_SKIP:
                continue
            if defaults_mine.get(name) != defaults_theirs[name]:
                differences.append((name, "default", defaults_mine.get(name), defaults_theirs[name]))
            for value in SWEEP_VALUES + [defaults_theirs[name]]:
                a, b = sweep_one(mine, name, value), sweep_one(theirs, name, value)
                if a != b:
                    differences.append((name, value, a, b))
                for c in (mine, theirs):
                    try:
                        c.config_set(name, defaults_theirs[name])
                    except redis.ResponseError:
                        pass
        assert differences == []
    finally:
        larder.stop()
        redis_server.stop()


def rewritten_lines(conf):
    with open(conf) as f:
        return sorted(l.strip() for l in f if l.strip() and not l.startswith("#"))


def test_config_rewrite_of_every_parameter_as_redis(tmp_path):
    """A value other than the default for each parameter both servers take, then CONFIG
    REWRITE: the same lines in both files."""
    servers = []
    for larder in (True, False):
        conf = str(tmp_path / ("larder.conf" if larder else "redis.conf"))
        open(conf, "w").write("# kept\n")
        servers.append((start_with_file(conf, larder), conf))
    try:
        clients = [s.client(decode_responses=True) for s, _ in servers]
        defaults = clients[1].config_get("*")
        changed = 0
        for name in sorted(defaults):
            if name in SWEEP_SKIP or name in ("save", "appendonly"):
                continue
            for value in SWEEP_VALUES:
                replies = [sweep_one(c, name, value) for c in clients]
                if replies[0] == replies[1] and replies[1][0] is True and replies[1][1] != defaults[name]:
                    changed += 1
                    break
        assert changed > 100
        for c in clients:
            c.execute_command("CONFIG", "REWRITE")
        own = {"port", "dir", "save"}   # the flags each was started with, paths differing
        files = [[l for l in rewritten_lines(conf) if l.split()[0] not in own] for _, conf in servers]
        assert files[0] == files[1]
    finally:
        for s, _ in servers:
            s.stop()
