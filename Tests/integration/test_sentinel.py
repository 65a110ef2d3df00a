"""Real redis-sentinel (Debian package redis-sentinel) over Larder: three sentinels watch a
primary and two Larder replicas, the primary freezes (SIGSTOP), a replica is promoted with
every write WAIT acknowledged, the other follows it, redis-py's Sentinel client finds it, and
the old primary, resumed, becomes a replica. Run with a Larder primary and a redis-server one
(Larder replicas both times)."""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest
import redis
from redis.sentinel import Sentinel

from conftest import free_port, start_larder, start_redis, wait_for_port
from test_replica import larder_replica_of, wait_caught_up
from test_replication import wait_until

NAME = "mymaster"


def start_sentinel(primary_port):
    exe = shutil.which("redis-sentinel")
    if not exe:
        pytest.exit("redis-sentinel is not installed (Debian package redis-sentinel)", returncode=2)
    workdir = tempfile.mkdtemp(prefix="sentinel-")
    port = free_port()
    conf = os.path.join(workdir, "sentinel.conf")
    with open(conf, "w") as f:
        f.write(f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                f"sentinel monitor {NAME} 127.0.0.1 {primary_port} 2\n"
                f"sentinel down-after-milliseconds {NAME} 1000\n"
                f"sentinel failover-timeout {NAME} 10000\n"
                f"sentinel parallel-syncs {NAME} 1\n")
    log = open(os.path.join(workdir, "sentinel.log"), "ab")
    proc = subprocess.Popen([exe, conf], stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    wait_for_port(port, proc)
    return proc, port


def role(server):
    return server.client().role()


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_sentinel_fails_larder_over(kind):
    primary = start_larder() if kind == "larder" else start_redis()
    replicas = [larder_replica_of(primary), larder_replica_of(primary)]
    sentinels = []
    frozen = False
    try:
        wait_caught_up(primary, *replicas, what="first sync")
        sentinels = [start_sentinel(primary.port) for _ in range(3)]
        s0 = redis.Redis(port=sentinels[0][1])
        wait_until(lambda: len(s0.sentinel_slaves(NAME)) == 2 and len(s0.sentinel_sentinels(NAME)) == 2,
                   timeout=60, what="sentinels see the replicas and each other")

        p = primary.client()
        for i in range(100):
            p.set(f"k{i}", i)
            p.incr("counter")
        assert p.wait(2, 5000) == 2          # acknowledged by both replicas

        os.kill(primary.proc.pid, signal.SIGSTOP)
        frozen = True
        wait_until(lambda: s0.sentinel_get_master_addr_by_name(NAME)[1] != primary.port, timeout=60,
                   what="a replica promoted")
        host, port = s0.sentinel_get_master_addr_by_name(NAME)
        promoted = next(r for r in replicas if r.port == port)
        other = next(r for r in replicas if r.port != port)
        assert role(promoted)[0] == b"master"

        # Every acknowledged write is on the new primary.
        n = promoted.client()
        assert n.get("counter") == b"100"
        assert n.mget([f"k{i}" for i in range(100)]) == [str(i).encode() for i in range(100)]

        # The other replica follows it.
        wait_until(lambda: role(other)[:3] == [b"slave", b"127.0.0.1", promoted.port] and role(other)[3] == b"connected",
                   timeout=60, what="the other replica follows the new primary")

        # A client asking the sentinels finds the new primary, and writes reach the replica.
        client = Sentinel([("127.0.0.1", s[1]) for s in sentinels], socket_timeout=2).master_for(NAME, socket_timeout=2)
        assert client.set("after-failover", "1")
        assert client.connection_pool.get_master_address()[1] == promoted.port
        wait_until(lambda: other.client().get("after-failover") == b"1", what="the write reached the other replica")

        # The old primary, resumed, is turned into a replica of the new one.
        os.kill(primary.proc.pid, signal.SIGCONT)
        frozen = False
        wait_until(lambda: role(primary)[0] == b"slave" and role(primary)[2] == promoted.port
                   and role(primary)[3] == b"connected", timeout=90, what="the old primary follows")
        wait_until(lambda: primary.client().get("after-failover") == b"1", what="the old primary caught up")
    finally:
        if frozen:
            os.kill(primary.proc.pid, signal.SIGCONT)
        for proc, _ in sentinels:
            proc.terminate()
            proc.wait(10)
        for s in replicas + [primary]:
            s.stop()


def test_sentinels_reconfiguration_transaction_as_redis(tmp_path):
    """What a sentinel sends to reconfigure a server, in one transaction, side by side with
    redis-server: every part queues and runs, CONFIG REWRITE writes the new replicaof, and
    CLIENT KILL spares the connection that sent it."""
    from test_config import start_with_file
    from resp import Conn
    primary = start_redis()
    servers = []
    try:
        for larder in (True, False):
            conf = tmp_path / f"{'larder' if larder else 'redis'}.conf"
            conf.write_text("# a server's own file\nappendonly no\n")
            servers.append((start_with_file(str(conf), larder), conf))
        replies, alive = [], []
        for server, conf in servers:
            normal, subscriber, sentinel = Conn(server.port), Conn(server.port), Conn(server.port)
            subscriber.call("SUBSCRIBE", "news")
            sentinel.call("CLIENT", "SETNAME", "sentinel-abc-cmd")
            steps = [("MULTI",), ("SLAVEOF", "127.0.0.1", str(primary.port)), ("CONFIG", "REWRITE"),
                     ("CLIENT", "KILL", "TYPE", "normal"), ("CLIENT", "KILL", "TYPE", "pubsub"), ("EXEC",)]
            replies.append([sentinel.call(*s) for s in steps])
            alive.append(sentinel.call("PING"))
            for c in (normal, subscriber):
                with pytest.raises(Exception):
                    c.call("PING")
            assert f"\nreplicaof 127.0.0.1 {primary.port}\n" in conf.read_text()
            wait_until(lambda: server.client().info("replication")["master_link_status"] == "up", timeout=30,
                       what="the reconfigured server follows")
            sentinel.close()
        assert replies[0] == replies[1]
        assert alive[0] == alive[1]
        # Promoted back, the line goes (REWRITE), and the file still starts a server.
        for server, conf in servers:
            c = server.client()
            assert c.execute_command("REPLICAOF", "NO", "ONE") and c.config_rewrite()
            assert "replicaof" not in conf.read_text()
    finally:
        for server, _ in servers:
            server.stop()
        primary.stop()
