"""RDB snapshots: SAVE/BGSAVE files that redis-check-rdb accepts and redis-server loads, Redis's
files loaded by Larder, a consistent snapshot under writes, and clear failures on bad files."""
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import redis

from conftest import Server, free_port, start_larder, start_redis, wait_for_port
from rdbtools import snapshot
from test_dump_restore import fill


def all_dbs(client, dbs=(0, 5)):
    out = {}
    for db in dbs:
        client.execute_command("SELECT", db)
        out[db] = snapshot(client)
    client.execute_command("SELECT", 0)
    return out


def fill_two_dbs(r):
    fill(r)
    r.execute_command("SELECT", 5)
    r.set("other-db", "x")
    r.hset("h5", mapping={"a": "1"})
    r.execute_command("SELECT", 0)


def check_rdb(path):
    out = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=60)
    assert "RDB looks OK" in out.stdout, out.stdout + out.stderr


def redis_on(directory, filename="dump.rdb"):
    os.makedirs(directory, exist_ok=True)
    return start_redis("--dir", directory, "--dbfilename", filename)


def larder_on(directory, *extra):
    return start_larder("--dir", directory, *extra)


@pytest.mark.parametrize("flags", [[], ["--rdbcompression", "no", "--rdbchecksum", "no"]])
def test_larder_file_loads_in_redis_and_back(flags, tmp_path):
    a = larder_on(str(tmp_path / "a"), *flags)
    try:
        r = a.client()
        fill_two_dbs(r)
        expected = all_dbs(r)
        assert r.save() is True
    finally:
        a.stop()
    check_rdb(str(tmp_path / "a" / "dump.rdb"))
    # redis-server loads Larder's file, saves its own, and Larder loads that.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    b = redis_on(str(tmp_path / "b"))
    try:
        assert all_dbs(b.client()) == expected
        assert b.client().save() is True
    finally:
        b.stop()
    shutil.copytree(tmp_path / "b", tmp_path / "c")
    c = larder_on(str(tmp_path / "c"))
    try:
        assert all_dbs(c.client()) == expected
    finally:
        c.stop()


def test_redis_encodings_load(tmp_path):
    """Redis writes listpacks, intsets and quicklists of listpacks: Larder reads them all."""
    src = redis_on(str(tmp_path / "r"))
    try:
        r = src.client()
        fill_two_dbs(r)
        r.config_set("list-max-listpack-size", "4")   # many quicklist nodes
        r.rpush("l:many-nodes", *range(100))
        expected = all_dbs(r)
        r.save()
    finally:
        src.stop()
    dst = larder_on(str(tmp_path / "r"))
    try:
        assert all_dbs(dst.client()) == expected
        assert dst.client().info("persistence")["rdb_changes_since_last_save"] == 0
    finally:
        dst.stop()


def test_bgsave_is_a_point_in_time_snapshot(tmp_path):
    s = larder_on(str(tmp_path / "s"), "--save", "")
    stop = threading.Event()
    try:
        r = s.client()
        r.mset({f"base:{i}": i for i in range(20000)})

        def writer():
            w = s.client()
            i = 0
            while not stop.is_set():
                p = w.pipeline(transaction=True)
                p.set(f"k:{i}", i)
                p.incr("counter")
                p.execute()
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.3)
        before = int(r.get("counter") or 0)
        assert r.bgsave() in (True, b"Background saving started")
        time.sleep(0.3)
        stop.set()
        t.join()
        for _ in range(100):
            if r.info("persistence")["rdb_bgsave_in_progress"] == 0:
                break
            time.sleep(0.1)
        assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
        after = int(r.get("counter"))
        assert after > before
    finally:
        stop.set()
        s.proc.kill()                                  # no final save: keep the BGSAVE's file
        s.proc.wait()
    check_rdb(str(tmp_path / "s" / "dump.rdb"))
    # The file holds one consistent moment: the counter and the k:* keys agree, and nothing
    # written after the BGSAVE began is in it.
    loaded = larder_on(str(tmp_path / "s"), "--save", "")
    try:
        c = loaded.client()
        counter = int(c.get("counter"))
        assert before <= counter < after
        keys = {int(k.split(b":")[1]) for k in c.scan_iter("k:*", count=5000)}
        assert keys == set(range(counter))
        assert c.dbsize() == 20000 + counter + 1
    finally:
        loaded.stop()


def test_shutdown_and_signals_save_by_save_points(tmp_path):
    points = ("--save", "3600 1 300 100 60 10000")   # redis-server's default save points
    s = larder_on(str(tmp_path / "d"), *points)
    s.client().set("kept", "1")
    s.proc.send_signal(signal.SIGTERM)
    s.proc.wait(20)
    s2 = larder_on(str(tmp_path / "d"), *points)
    assert s2.client().get("kept") == b"1"
    s2.client().set("also", "2")
    try:
        s2.client().shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    s2.proc.wait(20)
    s3 = larder_on(str(tmp_path / "d"), "--save", "")
    try:
        assert s3.client().get("kept") == b"1"
        assert s3.client().get("also") is None      # NOSAVE
        s3.client().set("forced", "3")
        try:
            s3.client().shutdown(save=True)           # SAVE even without save points
        except redis.ConnectionError:
            pass
        s3.proc.wait(20)
    finally:
        s3.stop()
    s4 = larder_on(str(tmp_path / "d"), "--save", "")
    try:
        assert s4.client().get("forced") == b"3"
    finally:
        s4.stop()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped"])
def test_bad_file_stops_startup_with_a_clear_line(damage, tmp_path):
    s = larder_on(str(tmp_path / "x"), "--save", "")
    r = s.client()
    fill(r)
    r.save()
    s.stop()
    path = tmp_path / "x" / "dump.rdb"
    data = path.read_bytes()
    if damage == "garbage":
        data = b"not an rdb file at all"
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = data[:-20] + bytes([data[-20] ^ 0xFF]) + data[-19:]
    path.write_bytes(data)
    argv = [os.environ.get("LARDER_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", ".build", "debug", "larder-server"),
            "--port", str(free_port()), "--dir", str(tmp_path / "x")]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "Error loading dump.rdb" in out.stdout + out.stderr


def test_replies_as_redis(diff):
    for args in [("BGSAVE", "foo"), ("BGSAVE", "SCHEDULE", "x"), ("CONFIG", "SET", "dir", "/no/such/dir"),
                 ("CONFIG", "SET", "dbfilename", "x.rdb"), ("SAVE", "extra")]:
        diff.check(*args)


def test_config_set_dir_moves_the_snapshot(tmp_path):
    s = larder_on(str(tmp_path / "first"), "--save", "", "--enable-protected-configs", "yes")
    try:
        r = s.client()
        r.set("k", "v")
        os.makedirs(tmp_path / "second")
        r.config_set("dir", str(tmp_path / "second"))
        r.save()
        assert (tmp_path / "second" / "dump.rdb").exists()
        assert r.config_get("dir")["dir"] == str(tmp_path / "second")
    finally:
        s.stop()
