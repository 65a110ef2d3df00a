"""Replication: a real redis-server replicates from Larder over PSYNC (full sync, the command
stream, partial resync from the backlog), WAIT counts acknowledgements, and a replica that
does not read is cut off at its output buffer limit. Each behaviour is checked against a
redis-server primary too, so the test shows what Redis does, not what Larder thinks it does."""
import socket
import time

import pytest
import redis

from conftest import start_larder, start_redis, wait_until
from resp import Conn, encode
from test_aof import workload
from test_rdb import all_dbs as dbs_of, fill_two_dbs

DBS = (0, 3, 5)


def all_dbs(client):
    return dbs_of(client, DBS)


def start_primary(kind, *extra):
    return start_larder(*extra) if kind == "larder" else start_redis(*extra)


def start_replica_of(primary):
    return start_redis("--replicaof", "127.0.0.1", str(primary.port))


def in_sync(primary, replica):
    """The replica has loaded the RDB and caught up, and the primary counts it online (Redis
    marks a diskless-synced replica online only at its first ACK)."""
    p, r = primary.client(), replica.client()
    ri = r.info("replication")
    pi = p.info("replication")
    return ri.get("master_link_status") == "up" and ri["master_repl_offset"] == pi["master_repl_offset"] \
        and pi.get("slave0", {}).get("state") == "online"


@pytest.fixture(params=["larder", "redis"])
def lone(request):
    """A primary without replicas: Larder, and redis-server to show what Redis does."""
    primary = start_primary(request.param)
    yield request.param, primary
    primary.stop()


@pytest.fixture
def pair(lone):
    """The same primaries, each followed by a redis-server replica."""
    kind, primary = lone
    replica = start_replica_of(primary)
    yield kind, primary, replica
    replica.stop()


def test_redis_replica_gets_the_keyspace_and_the_stream(pair):
    kind, primary, replica = pair
    p = primary.client()
    wait_until(lambda: in_sync(primary, replica), what="first sync")
    # Written after the full sync: they travel as the command stream (effects where a
    # command's own words would not replay the same: SPOP, served BLPOP, float increments).
    fill_two_dbs(p)
    workload(p, primary.port)
    p.execute_command("SELECT", 3)
    p.xadd("events", {"a": "1"}, id="5-1")
    p.xadd("events", {"b": "2"})
    p.pfadd("hll", *range(100))
    p.execute_command("SELECT", 0)
    # The workload's 1 ms key: a replica keeps an expired key until the primary's DEL comes,
    # and SCAN lists it there; touching it on the primary expires it now.
    assert p.exists("short-lived") == 0
    wait_until(lambda: in_sync(primary, replica), what="stream caught up")
    assert all_dbs(replica.client()) == all_dbs(p)
    roles = p.role()
    assert roles[0] == b"master" and len(roles[2]) == 1
    assert int(roles[2][0][1]) == replica.port


def test_full_sync_carries_what_was_there_before(lone):
    kind, primary = lone
    p = primary.client()
    fill_two_dbs(p)
    p.set("with-ttl", "v", ex=1000)
    p.execute_command("SELECT", 3)
    p.xadd("events", {"a": "1"}, id="7-1")
    p.execute_command("SELECT", 0)
    replica = start_replica_of(primary)
    try:
        wait_until(lambda: in_sync(primary, replica), what=f"{kind}: first sync")
        assert all_dbs(replica.client()) == all_dbs(p), kind
        assert 990 <= replica.client().ttl("with-ttl") <= 1000
        assert p.info("stats")["sync_full"] == 1
    finally:
        replica.stop()


def test_a_broken_link_continues_from_the_backlog(pair):
    kind, primary, replica = pair
    p = primary.client()
    wait_until(lambda: in_sync(primary, replica), what="first sync")
    p.set("before", "1")
    wait_until(lambda: in_sync(primary, replica), what="before the kill")
    assert p.client_kill_filter(_type="replica") == 1
    for i in range(200):
        p.rpush("after", i)
    wait_until(lambda: in_sync(primary, replica), what="partial resync")
    stats = p.info("stats")
    assert stats["sync_full"] == 1
    assert stats["sync_partial_ok"] == 1
    assert replica.client().lrange("after", 0, -1) == [str(i).encode() for i in range(200)]


def test_psync_with_another_history_gets_a_full_resync(lone):
    kind, primary = lone
    p = primary.client()
    p.set("k", "v")
    before = p.info("replication")["master_replid"]
    s = socket.create_connection(("127.0.0.1", primary.port), timeout=5)
    s.sendall(encode("PSYNC", before, "100"))
    line = b""
    while not line.endswith(b"\r\n"):
        line += s.recv(1)
    # The first replica starts the backlog, and with it a new replication ID.
    replid = p.info("replication")["master_replid"]
    assert replid != before
    assert line == b"+FULLRESYNC " + replid.encode() + b" 0\r\n", (kind, line)
    s.close()
    assert p.info("stats")["sync_partial_err"] == 1


def test_wait_counts_acknowledging_replicas(pair):
    kind, primary, replica = pair
    p = primary.client()
    wait_until(lambda: in_sync(primary, replica), what="first sync")
    p.set("k", "v")
    assert p.wait(1, 5000) == 1
    start = time.time()
    assert p.wait(2, 300) == 1          # only one replica: the timeout answers
    assert time.time() - start >= 0.25
    assert p.wait(0, 0) == 1
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        p.wait(1, -1)


def test_wait_after_exec_covers_the_whole_transaction(pair):
    kind, primary, replica = pair
    p, r = primary.client(), replica.client()
    wait_until(lambda: in_sync(primary, replica), what="first sync")
    for i in range(20):
        pipe = p.pipeline(transaction=True)
        pipe.set(f"t{i}a", i)
        pipe.incr(f"t{i}b")
        pipe.execute()
        assert p.wait(1, 5000) == 1
        # Acknowledged means applied: the transaction is on the replica, all of it.
        assert r.mget(f"t{i}a", f"t{i}b") == [str(i).encode(), b"1"]


def test_wait_without_replicas(lone):
    kind, primary = lone
    p = primary.client()
    p.set("k", "v")
    assert p.wait(0, 0) == 0
    assert p.wait(1, 100) == 0


def test_sync_sends_an_rdb_then_the_stream(lone):
    kind, primary = lone
    p = primary.client()
    p.set("k", "v")
    c = Conn(primary.port)
    c.send_raw(encode("SYNC"))
    while True:
        line = c._line()
        if line:       # Redis may send empty lines while it prepares the RDB
            break
    assert line.startswith(b"$"), (kind, line)
    n = int(line[1:])
    while len(c.buf) < n:
        c._fill()
    rdb, c.buf = c.buf[:n], c.buf[n:]
    assert rdb.startswith(b"REDIS00") and b"k" in rdb
    p.set("later", "x")
    # The stream: SELECT 0, then the SET (Redis may put a PING first).
    seen = []
    while len(seen) < 3:
        cmd = c.read()
        seen.append([a.value for a in cmd.value])
        if seen[-1][0] == b"SET":
            break
    assert [b"SELECT", b"0"] in seen and [b"SET", b"later", b"x"] in seen, (kind, seen)
    c.close()


def test_a_replica_that_does_not_read_is_cut_off(lone):
    kind, primary = lone
    p = primary.client()
    p.config_set("client-output-buffer-limit", "replica 1mb 0 0")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", primary.port))
    s.sendall(encode("PSYNC", "?", "-1"))
    wait_until(lambda: p.info("replication")["connected_slaves"] == 1, what=f"{kind}: replica listed")
    # The replica reads nothing more; 40 MB of writes fill its output buffer.
    value = "x" * 10000
    pipe = p.pipeline(transaction=False)
    for i in range(4000):
        pipe.set(f"k{i}", value)
        if i % 200 == 199:
            pipe.execute()
    pipe.execute()
    wait_until(lambda: p.info("replication")["connected_slaves"] == 0, what=f"{kind}: replica cut off")
    assert p.dbsize() == 4000
    s.close()


def test_replicas_show_in_client_list_and_info(pair):
    kind, primary, replica = pair
    p = primary.client()
    wait_until(lambda: in_sync(primary, replica), what="first sync")
    listed = p.client_list(_type="replica")
    assert len(listed) == 1 and "S" in listed[0]["flags"]
    assert all("S" not in c["flags"] for c in p.client_list(_type="normal"))
    ri = p.info("replication")
    assert ri["role"] == "master" and ri["connected_slaves"] == 1
    assert ri["slave0"]["port"] == replica.port and ri["slave0"]["state"] == "online"
    assert ri["repl_backlog_active"] == 1
    assert ri["master_repl_offset"] >= ri["repl_backlog_first_byte_offset"] - 1


def test_redis_cli_rdb_and_functions_rdb(lone, tmp_path):
    """redis-cli --rdb (SYNC, the RDB streamed with an EOF mark) and --functions-rdb
    (REPLCONF rdb-filter-only functions): files redis-check-rdb accepts, with the keys, or
    with the functions alone."""
    import subprocess
    kind, primary = lone
    p = primary.client()
    p.set("k", "v")
    p.function_load("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    for flag, name in (("--rdb", "all.rdb"), ("--functions-rdb", "functions.rdb")):
        path = str(tmp_path / name)
        out = subprocess.run(["redis-cli", "-p", str(primary.port), flag, path], capture_output=True, text=True, timeout=30)
        assert "Transfer finished with success" in out.stdout + out.stderr, (kind, out.stdout, out.stderr)
        check = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=30).stdout
        assert "RDB looks OK" in check, (kind, check)
        keys = "1 keys read" in check
        assert keys == (flag == "--rdb"), (kind, flag, check)
    with pytest.raises(redis.ResponseError, match="Unsupported rdb-filter-only option: foo"):
        p.execute_command("REPLCONF", "rdb-filter-only", "foo")
