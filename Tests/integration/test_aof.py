"""The append-only file: kill -9 under write load loses nothing acknowledged with appendfsync
always and about a second at most with everysec; Larder's AOF is accepted by redis-check-aof
and loaded by redis-server; torn tails, rewrites and CONFIG SET appendonly."""
import glob
import os
import signal
import subprocess
import threading
import time

import pytest
import redis
from pymemcache.client.base import Client as MemcacheClient

from conftest import free_port, start_larder, start_larder_memcached, start_redis
from rdbtools import snapshot
from test_dump_restore import fill


def larder(directory, *extra):
    return start_larder("--dir", str(directory), "--appendonly", "yes", "--save", "", *extra)


def kill9(server):
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)


def hammer(server, seconds, threads=8):
    """Clients INCR their own counter as fast as they can; returns, per counter, the last
    value acknowledged and (time, value) samples."""
    acked = {}
    samples = {}
    stop = threading.Event()

    def run(i):
        c = redis.Redis(port=server.port, socket_timeout=5)
        key = f"counter:{i}"
        samples[key] = []
        while not stop.is_set():
            try:
                v = c.incr(key)
            except (redis.ConnectionError, redis.TimeoutError):
                return
            acked[key] = v
            samples[key].append((time.time(), v))

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    time.sleep(seconds)
    return acked, samples, stop, ts


@pytest.mark.parametrize("round_", range(3))
def test_always_loses_nothing_acknowledged(round_, tmp_path):
    s = larder(tmp_path, "--appendfsync", "always")
    acked, _, stop, ts = hammer(s, 1.5)
    kill9(s)                                     # mid-write: clients are still sending
    stop.set()
    for t in ts:
        t.join()
    s2 = larder(tmp_path, "--appendfsync", "always")
    try:
        c = s2.client()
        assert acked
        for key, v in acked.items():
            got = int(c.get(key) or 0)
            # Everything acknowledged is there; at most the one in flight beyond it.
            assert v <= got <= v + 1, (key, v, got)
    finally:
        s2.stop()


def test_everysec_loses_about_a_second_at_most(tmp_path):
    s = larder(tmp_path, "--appendfsync", "everysec")
    acked, samples, stop, ts = hammer(s, 3)
    killed_at = time.time()
    kill9(s)
    stop.set()
    for t in ts:
        t.join()
    s2 = larder(tmp_path, "--appendfsync", "everysec")
    try:
        c = s2.client()
        for key, points in samples.items():
            got = int(c.get(key) or 0)
            # What was acknowledged two seconds before the kill is on disk.
            old = [v for (t, v) in points if t <= killed_at - 2]
            if old:
                assert got >= old[-1], (key, old[-1], got)
            assert got <= acked[key] + 1
    finally:
        s2.stop()


def workload(r, port):
    """Writes whose effect must replay exactly: random pops, served blocking pops, relative
    TTLs, float increments, transactions, expiry."""
    fill(r)
    r.sadd("pool", *range(100))
    r.spop("pool", 7)
    r.spop("pool")
    r.expire("s:short", 500)
    r.set("ex", "v", ex=300)
    r.getex("s:int", px=400000)
    r.incrbyfloat("float", "1.1")
    r.incrbyfloat("float", "2.2e3")
    r.hincrbyfloat("hf", "f", "0.3")
    r.lmove("l:small", "moved", "LEFT", "RIGHT")
    r.zpopmin("z:small")
    r.set("short-lived", "x", px=1)
    p = r.pipeline(transaction=True)
    p.incr("tx")
    p.rpush("txl", "a")
    p.execute()
    # A blocked client served by another's push.
    result = {}

    def blocked():
        b = redis.Redis(port=port)
        result["v"] = b.blpop("waiting", 10)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.3)
    r.rpush("waiting", "first", "second")
    t.join()
    assert result["v"] == (b"waiting", b"first")
    time.sleep(0.1)


def test_replay_gives_the_same_keyspace(tmp_path):
    s = larder(tmp_path, "--appendfsync", "always")
    r = s.client()
    workload(r, s.port)
    expected = snapshot(r)
    ttl = r.ttl("ex")
    kill9(s)
    s2 = larder(tmp_path)
    try:
        c = s2.client()
        assert snapshot(c) == expected
        assert abs(c.ttl("ex") - ttl) <= 2
    finally:
        s2.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_check_aof_and_redis_server_accept_the_files(preamble, tmp_path):
    s = larder(tmp_path / "l", "--aof-use-rdb-preamble", preamble)
    r = s.client()
    workload(r, s.port)
    assert r.bgrewriteaof()
    for _ in range(100):
        if r.info("persistence")["aof_rewrite_in_progress"] == 0:
            break
        time.sleep(0.1)
    assert r.info("persistence")["aof_rewrites"] >= 1
    r.set("after-rewrite", "1")
    expected = snapshot(r)
    s.stop()
    manifest = tmp_path / "l" / "appendonlydir" / "appendonly.aof.manifest"
    out = subprocess.run(["redis-check-aof", str(manifest)], capture_output=True, text=True, timeout=60)
    assert "valid" in out.stdout and "not valid" not in out.stdout, out.stdout + out.stderr
    names = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "l" / "appendonlydir" / "*")))
    assert any(".base." + ("rdb" if preamble == "yes" else "aof") in n for n in names)
    o = start_redis("--dir", str(tmp_path / "l"), "--appendonly", "yes")
    try:
        assert snapshot(o.client()) == expected
    finally:
        o.stop()


@pytest.mark.parametrize("truncated_ok", ["yes", "no"])
def test_torn_tail(truncated_ok, tmp_path):
    s = larder(tmp_path, "--appendfsync", "always")
    s.client().set("kept", "1")
    kill9(s)
    incr = sorted(glob.glob(str(tmp_path / "appendonlydir" / "*.incr.aof")))[-1]
    with open(incr, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$4\r\nlost")      # a command cut short by the crash
    if truncated_ok == "yes":
        s2 = larder(tmp_path, "--aof-load-truncated", "yes")
        try:
            assert s2.client().get("kept") == b"1"
            assert s2.client().get("lost") is None
        finally:
            s2.stop()
    else:
        argv = [s.proc.args[0], "--port", str(free_port()), "--dir", str(tmp_path), "--appendonly", "yes",
                "--aof-load-truncated", "no"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1
        assert "Unexpected end of file reading the append only file" in out.stdout + out.stderr


def test_config_set_appendonly_and_memcached_writes(tmp_path):
    s = start_larder_memcached("--dir", str(tmp_path), "--save", "")
    r = s.client()
    r.set("before", "1")
    assert r.config_set("appendonly", "yes")
    assert r.info("persistence")["aof_enabled"] == 1
    r.set("after", "2")
    mc = MemcacheClient(("127.0.0.1", s.mc_port), default_noreply=False)
    mc.set("from-memcached", b"v", expire=1000)
    mc.set("gone", b"x")
    mc.delete("gone")
    r.config_set("appendfsync", "always")
    r.set("synced", "3")
    time.sleep(1.2)                              # everysec had its fsync for the memcached writes
    kill9(s)
    s2 = larder(tmp_path)
    try:
        c = s2.client()
        assert c.mget("before", "after", "from-memcached", "gone", "synced") == [b"1", b"2", b"v", None, b"3"]
        assert 990 <= c.ttl("from-memcached") <= 1000
    finally:
        s2.stop()


def test_automatic_rewrite(tmp_path):
    s = larder(tmp_path, "--auto-aof-rewrite-min-size", "64kb", "--auto-aof-rewrite-percentage", "100")
    try:
        r = s.client()
        for i in range(300):
            r.set("k", "x" * 1000)
        for _ in range(50):
            if r.info("persistence")["aof_rewrites"] >= 1:
                break
            time.sleep(0.1)
        assert r.info("persistence")["aof_rewrites"] >= 1
        assert r.get("k") == b"x" * 1000
    finally:
        s.stop()


def test_bgrewriteaof_with_the_aof_off(tmp_path):
    s = start_larder("--dir", str(tmp_path), "--save", "")
    try:
        r = s.client()
        r.set("k", "v")
        assert r.bgrewriteaof()
        for _ in range(50):
            if r.info("persistence")["aof_rewrite_in_progress"] == 0:
                break
            time.sleep(0.1)
        assert r.info("persistence")["aof_enabled"] == 0
        manifest = tmp_path / "appendonlydir" / "appendonly.aof.manifest"
        assert "type b" in manifest.read_text()
    finally:
        s.stop()
    # The one-off AOF loads.
    s2 = larder(tmp_path)
    try:
        assert s2.client().get("k") == b"v"
    finally:
        s2.stop()
