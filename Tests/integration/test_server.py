"""Server commands and configuration: INFO, CONFIG, COMMAND, TIME, DEBUG, MEMORY, FUNCTION, SHUTDOWN."""
import os
import signal
import subprocess
import tempfile

import pytest

from conftest import free_port, larder_binary, start_larder, wait_for_port
from resp import Conn, Reply


def test_info_sections_and_fields(r):
    r.set("a", "1")
    r.set("b", "2", ex=100)
    info = r.info()
    for field in ["redis_version", "tcp_port", "uptime_in_seconds", "connected_clients", "used_memory",
                  "used_memory_rss", "maxmemory", "maxmemory_policy", "total_commands_processed",
                  "keyspace_hits", "keyspace_misses", "role", "used_cpu_sys", "rdb_changes_since_last_save"]:
        assert field in info, field
    assert info["db0"]["keys"] == 2 and info["db0"]["expires"] == 1
    assert info["used_memory"] > 0
    assert set(r.info("server")) >= {"redis_version", "process_id"}
    assert "used_memory" not in r.info("server")
    r.get("a")
    r.get("nope")
    stats = r.info("stats")
    assert stats["keyspace_hits"] >= 1 and stats["keyspace_misses"] >= 1
    assert "cmdstat_get" in r.info("commandstats")


def test_config_get_set(r, diff):
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert r.config_set("maxmemory", "1gb")
    assert r.config_get("maxmemory") == {"maxmemory": "1073741824"}
    r.config_set("maxmemory", "0")
    assert set(r.config_get("maxmemory*")) >= {"maxmemory", "maxmemory-policy", "maxmemory-samples"}
    for cmd in [("CONFIG", "SET", "daemonize", "yes"), ("CONFIG", "SET", "nosuch", "1"), ("CONFIG", "SET", "timeout", "abc"),
                ("CONFIG", "SET", "maxmemory-policy", "bogus"), ("CONFIG", "SET", "maxmemory", "lots"),
                ("CONFIG", "SET", "protected-mode", "maybe"), ("CONFIG", "SET", "timeout"), ("CONFIG", "GET"),
                ("CONFIG", "SET", "timeout", "0", "timeout", "1"), ("CONFIG", "GET", "nosuch*"),
                ("CONFIG", "SET", "hz", "10"), ("CONFIG", "GET", "hz"), ("CONFIG", "GET", "timeout"),
                ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "RESETSTAT"), ("CONFIG", "FOO")]:
        diff.check(*cmd)


def test_config_file_flags_and_rewrite():
    workdir = tempfile.mkdtemp(prefix="larder-conf-")
    conf = os.path.join(workdir, "larder.conf")
    port = free_port()
    with open(conf, "w") as f:
        f.write(f"# test config\nport {port}\ntimeout 0\nmaxmemory 10mb\nsave \"\"\n")
    proc = subprocess.Popen([larder_binary(), conf, "--maxmemory", "20mb", "--dir", os.path.join(workdir, "d")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        c = Conn(port)
        assert c.call("CONFIG", "GET", "maxmemory").value[1] == Reply("$", b"20971520")
        assert c.call("CONFIG", "GET", "save").value[1] == Reply("$", b"")
        assert c.call("CONFIG", "SET", "timeout", "77") == Reply("+", b"OK")
        assert c.call("CONFIG", "REWRITE") == Reply("+", b"OK")
        text = open(conf).read()
        assert "timeout 77" in text and "# test config" in text and f"port {port}" in text
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_config_rewrite_without_file(diff):
    diff.check("CONFIG", "REWRITE")


def test_bad_config_exits_cleanly():
    p = subprocess.run([larder_binary(), "--port", "notaport"], capture_output=True, timeout=30)
    assert p.returncode != 0
    assert b"port" in p.stdout + p.stderr


def test_command_introspection(r, diff):
    assert r.command_count() > 60
    info = diff.larder.call("COMMAND", "INFO", "get", "mset", "nosuch").value
    assert info[2] == Reply("*", None)
    get = info[0].value
    assert get[0].value == b"get" and get[1].value == 2 and [x.value for x in get[3:6]] == [1, 1, 1]
    for cmd in [("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"), ("COMMAND", "GETKEYS", "get", "k"),
                ("COMMAND", "GETKEYS", "nosuch"), ("COMMAND", "GETKEYS", "get"), ("COMMAND", "GETKEYS", "ping"),
                ("COMMAND", "FOO"), ("COMMAND", "COUNT", "x")]:
        diff.check(*cmd)
    # Arity, flags and key positions agree with redis-server for every command both have.
    for name in ["get", "set", "mset", "mget", "del", "expire", "rename", "lcs", "getex", "incrbyfloat",
                 "keys", "scan", "ping", "echo", "hello", "auth", "select", "swapdb", "copy", "move"]:
        mine = diff.larder.call("COMMAND", "INFO", name).value[0].value
        theirs = diff.redis.call("COMMAND", "INFO", name).value[0].value
        assert mine[:2] == theirs[:2], name
        assert mine[3:6] == theirs[3:6], name
    docs = diff.larder.call("COMMAND", "DOCS", "get").value
    assert docs[0] == Reply("$", b"get") and Reply("$", b"summary") in docs[1].value


def test_time_lastsave_debug_memory_function(r, diff):
    sec, usec = r.time()
    assert sec > 1_700_000_000 and 0 <= usec < 1_000_000
    assert r.lastsave()
    assert r.execute_command("DEBUG", "SLEEP", "0") == b"OK"
    r.set("m", "x" * 1000)
    assert r.memory_usage("m") >= 1000
    assert r.memory_usage("nope") is None
    for cmd in [("FUNCTION", "LIST"), ("FUNCTION", "FLUSH"), ("FUNCTION", "FLUSH", "SYNC"), ("FUNCTION", "FLUSH", "BAD"),
                ("MEMORY", "USAGE", "nope"), ("MEMORY", "USAGE", "nope", "SAMPLES", "x"), ("DEBUG", "SLEEP", "x"),
                ("LASTSAVE", "x"), ("TIME", "x")]:
        diff.check(*cmd)


def test_debug_disabled_by_default():
    s = start_larder("--enable-debug-command", "no")
    try:
        reply = Conn(s.port).call("DEBUG", "SLEEP", "0")
        assert reply.kind == "-" and reply.value.startswith(b"ERR DEBUG command not allowed")
    finally:
        s.stop()


def test_shutdown_command_stops_server():
    s = start_larder()
    c = Conn(s.port)
    c.send_raw(b"*1\r\n$8\r\nSHUTDOWN\r\n")
    assert c.is_closed()
    assert s.proc.wait(10) == 0


def test_sigterm_is_graceful():
    s = start_larder()
    Conn(s.port).call("SET", "a", "b")
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(10) == 0


def test_command_info_shapes_and_key_spec_flags(diff):
    """COMMAND INFO in RESP2 and RESP3 as redis-server sends it for commands whose key specs
    Larder describes as Redis does (RO, RO access, RW access update, RW update)."""
    for proto in ("2", "3"):
        diff.both("HELLO", proto)
        for name in ["get", "incr", "hset", "llen", "lrange", "strlen", "hincrby", "zadd", "type", "echo"]:
            diff.check("COMMAND", "INFO", name)
