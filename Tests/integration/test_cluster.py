"""Redis Cluster. Without `cluster-enabled`, CLUSTER, READONLY, READWRITE and ASKING answer as
redis-server 7.0 answers with cluster support disabled (what clients probe for). With it, Larder
nodes form clusters with `redis-cli --cluster` as users build them, alone and together with
redis-server nodes (which is how the bus's binary protocol is checked): slots, redirects, pub/sub
over the bus, failure detection and recovery, nodes.conf, and bad input on the bus."""
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster

from conftest import Server, larder_binary, wait_until
from resp import Conn, Reply, encode

SUBCOMMANDS = [
    ("INFO",), ("MYID",), ("NODES",), ("SHARDS",), ("SLOTS",), ("LINKS",), ("KEYSLOT", "foo"),
    ("COUNTKEYSINSLOT", "1"), ("GETKEYSINSLOT", "1", "10"), ("ADDSLOTS", "1", "2"), ("ADDSLOTSRANGE", "1", "5"),
    ("DELSLOTS", "1"), ("DELSLOTSRANGE", "1", "5"), ("FLUSHSLOTS",), ("SETSLOT", "1", "STABLE"),
    ("MEET", "127.0.0.1", "7000"), ("FORGET", "abc"), ("REPLICATE", "abc"), ("RESET",), ("RESET", "HARD"),
    ("SAVECONFIG",), ("SET-CONFIG-EPOCH", "1"), ("BUMPEPOCH",), ("COUNT-FAILURE-REPORTS", "abc"),
    ("FAILOVER",), ("FAILOVER", "FORCE"), ("REPLICAS", "abc"), ("SLAVES", "abc"), ("HELP",),
]


@pytest.mark.parametrize("args", SUBCOMMANDS, ids=lambda a: " ".join(a))
def test_cluster_subcommands_with_cluster_disabled(diff, args):
    reply = diff.check("CLUSTER", *args)
    assert reply.kind == "-"


@pytest.mark.parametrize("args", [("CLUSTER",), ("CLUSTER", "NOSUCH"), ("CLUSTER", "KEYSLOT"), ("CLUSTER", "INFO", "x"),
                                  ("CLUSTER", "ADDSLOTS"), ("CLUSTER", "SETSLOT", "1"), ("READONLY",), ("READWRITE",),
                                  ("ASKING",), ("READONLY", "x"), ("ASKING", "x")], ids=lambda a: " ".join(a))
def test_cluster_errors_as_redis(diff, args):
    diff.check(*args)


def test_command_info_as_redis(diff):
    for name in ["readonly", "readwrite", "asking"] + [f"cluster|{sub[0].lower()}" for sub in SUBCOMMANDS]:
        mine, theirs = diff.both("COMMAND", "INFO", name)
        assert mine == theirs, name
    mine, theirs = diff.both("COMMAND", "INFO", "cluster")
    # The container's sub-commands may come in another order (Redis lists them from a hash).
    mine, theirs = mine.value[0].value, theirs.value[0].value
    assert mine[:9] == theirs[:9]
    assert sorted(repr(e) for e in mine[9].value) == sorted(repr(e) for e in theirs[9].value)


# ---------------------------------------------------------------------------------------------
# Cluster nodes

NODE_TIMEOUT = 2000


def port_pair_free(port):
    """A client port whose bus port (+10000) is free too."""
    for p in (port, port + 10000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def cluster_ports(n):
    ports = []
    while len(ports) < n:
        p = random.randint(20000, 45000)
        if p not in ports and port_pair_free(p):
            ports.append(p)
    return ports


def start_node(kind, port, workdir=None, *extra):
    """A cluster node of either kind, in its own directory (its nodes.conf), logging to a file."""
    workdir = workdir or tempfile.mkdtemp(prefix=f"cluster-{kind}-")
    log = open(os.path.join(workdir, "node.log"), "ab")
    common = ["--port", str(port), "--cluster-enabled", "yes", "--cluster-node-timeout", str(NODE_TIMEOUT),
              "--save", "", "--dir", workdir, *extra]
    if kind == "larder":
        argv = [larder_binary(), *common, "--threads", "2"]
    else:
        argv = [shutil.which("redis-server"), *common, "--bind", "127.0.0.1", "--appendonly", "no"]
    server = Server(argv, port, workdir, log)
    server.kind = kind
    return server


def cli(*args, timeout=120):
    return subprocess.run(["redis-cli", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def create_cluster(nodes):
    out = cli("--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes], "--cluster-yes")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[OK] All 16384 slots covered." in out.stdout, out.stdout
    for n in nodes:
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30,
                   what=f"cluster_state:ok on {n.kind} {n.port}")


def check_cluster(node):
    out = cli("--cluster", "check", f"127.0.0.1:{node.port}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[OK] All nodes agree about slots configuration." in out.stdout, out.stdout
    assert "[OK] All 16384 slots covered." in out.stdout, out.stdout


def node_line(node, about):
    for line in Conn(node.port).call("CLUSTER", "NODES").value.decode().splitlines():
        if f":{about.port}@" in line:
            return line.split()
    return None


@pytest.fixture
def cluster_nodes(request):
    started = []

    def start(kinds):
        for kind, port in zip(kinds, cluster_ports(len(kinds))):
            started.append(start_node(kind, port))
        return started

    yield start
    for n in started:
        n.stop()


def exercise(nodes):
    """What a user does with a new cluster: redis-cli -c, redis-py's RedisCluster, pub/sub."""
    entry = nodes[0]
    out = cli("-c", "-p", entry.port, "SET", "user:1000", "alice")
    assert out.stdout.strip() == "OK", out.stdout + out.stderr
    assert cli("-c", "-p", nodes[-1].port, "GET", "user:1000").stdout.strip() == "alice"
    # A plain client is redirected to the slot's owner, as redis-server redirects it.
    slot = int(Conn(entry.port).call("CLUSTER", "KEYSLOT", "user:1000").value)
    owner = [n for n in nodes if Conn(n.port).call("GET", "user:1000") == Reply("$", b"alice")]
    assert len(owner) == 1
    for n in nodes:
        if n is not owner[0]:
            assert Conn(n.port).call("GET", "user:1000") == Reply("-", f"MOVED {slot} 127.0.0.1:{owner[0].port}".encode())
            assert Conn(n.port).call("MSET", "a", "1", "b", "2") == \
                Reply("-", b"CROSSSLOT Keys in request don't hash to the same slot")
    rc = RedisCluster(host="127.0.0.1", port=entry.port)
    for i in range(2000):
        rc.set(f"key:{i}", i)
    assert all(int(rc.get(f"key:{i}")) == i for i in range(2000))
    assert rc.mset_nonatomic({"{t}a": 1, "{t}b": 2}) and rc.mget("{t}a", "{t}b") == [b"1", b"2"]
    counted = sum(int(Conn(n.port).call("DBSIZE").value) for n in nodes)
    assert counted == 2000 + 3
    # Every key is on the node serving its slot, and the node counts it in that slot.
    for n in nodes:
        c = Conn(n.port)
        for key in c.call("KEYS", "key:1*").value[:20]:
            s = int(c.call("CLUSTER", "KEYSLOT", key.value).value)
            assert c.call("CLUSTER", "COUNTKEYSINSLOT", s).value >= 1
            assert key in c.call("CLUSTER", "GETKEYSINSLOT", s, 1000).value
    # PUBLISH on one node reaches subscribers on every other node, of either kind.
    for publisher in (nodes[0], nodes[1]):
        subs = []
        for n in nodes:
            p = redis.Redis(port=n.port).pubsub()
            p.subscribe("news")
            assert p.get_message(timeout=5)["type"] == "subscribe"
            subs.append(p)
        assert redis.Redis(port=publisher.port).publish("news", f"from {publisher.port}") >= 1
        for p in subs:
            m = p.get_message(timeout=5)
            assert m and m["data"] == f"from {publisher.port}".encode(), m
            p.close()


def test_larder_nodes_form_a_cluster_with_redis_cli(cluster_nodes):
    nodes = cluster_nodes(["larder"] * 3)
    create_cluster(nodes)
    check_cluster(nodes[1])
    exercise(nodes)
    info = Conn(nodes[0].port).call("CLUSTER", "INFO").value.decode()
    assert "cluster_known_nodes:3" in info and "cluster_size:3" in info
    assert b"cluster_enabled:1" in Conn(nodes[0].port).call("INFO", "cluster").value
    assert Conn(nodes[0].port).call("SELECT", "1") == Reply("-", b"ERR SELECT is not allowed in cluster mode")


def test_mixed_cluster_of_larder_and_redis_nodes(cluster_nodes):
    """Three Larder and three redis-server primaries in one cluster: the same checks, then a
    node of each kind killed: the others (of both kinds) agree it failed, and it rejoins."""
    nodes = cluster_nodes(["larder", "redis", "larder", "redis", "larder", "redis"])
    create_cluster(nodes)
    check_cluster(nodes[0])
    check_cluster(nodes[1])
    exercise(nodes)
    for victim in (nodes[2], nodes[3]):
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        others = [n for n in nodes if n is not victim]
        for n in others:
            wait_until(lambda: "fail" in node_line(n, victim)[2].split(","), timeout=30,
                       what=f"{n.kind} {n.port} marking {victim.kind} {victim.port} failed")
            wait_until(lambda: b"cluster_state:fail" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=10,
                       what="cluster_state:fail")
        # Restarted from its nodes.conf, it is the same node and serves its slots again.
        restarted = start_node(victim.kind, victim.port, victim.workdir)
        nodes[nodes.index(victim)] = restarted
        for n in nodes:
            wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30,
                       what=f"cluster_state:ok on {n.kind} {n.port} after the restart")
        check_cluster(nodes[0])
    for n in nodes:
        n.stop()


def test_nodes_conf_is_kept_and_a_broken_one_refused(cluster_nodes):
    nodes = cluster_nodes(["larder"] * 3)
    create_cluster(nodes)
    node = nodes[0]
    my_id = Conn(node.port).call("CLUSTER", "MYID").value
    node.stop()
    conf = os.path.join(node.workdir, "nodes.conf")
    text = open(conf).read()
    assert text.splitlines()[0].startswith(my_id.decode()) and "myself,master" in text
    assert text.rstrip().splitlines()[-1].startswith("vars currentEpoch ")
    again = start_node("larder", node.port, node.workdir)
    assert Conn(again.port).call("CLUSTER", "MYID").value == my_id
    wait_until(lambda: b"cluster_state:ok" in Conn(again.port).call("CLUSTER", "INFO").value, timeout=30)
    again.stop()
    # Truncated mid-line, as a crash while writing would leave it: refused with a clear line.
    open(conf, "w").write(text[: len(text) // 2 - 7])
    log = os.path.join(node.workdir, "node.log")
    proc = subprocess.run([larder_binary(), "--port", str(node.port), "--cluster-enabled", "yes", "--dir", node.workdir],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "corrupted cluster config file" in proc.stdout + proc.stderr + open(log).read()


def test_bus_survives_garbage_and_cut_messages(cluster_nodes):
    nodes = cluster_nodes(["larder", "larder", "redis"])
    create_cluster(nodes)
    target = nodes[0]
    # Not the bus's signature; a header claiming 16 bytes; one claiming 4 GB; one whose
    # protocol version is wrong.
    for payload in [b"GET / HTTP/1.1\r\n\r\n", b"RCmb\x00\x00\x00\x10" + b"\x00" * 8,
                    b"RCmb\xff\xff\xff\xff" + b"\x00" * 100, b"RCmb\x00\x00\x08\xd0\x00\x01" + b"\x00" * 2000]:
        with socket.create_connection(("127.0.0.1", target.port + 10000)) as s:
            s.sendall(payload)
            s.settimeout(1)
            try:
                s.recv(100)
            except (socket.timeout, ConnectionResetError):
                pass
    # A message cut in half: the link is closed after a while without a full message.
    with socket.create_connection(("127.0.0.1", target.port + 10000)) as s:
        s.sendall(b"RCmb\x00\x00\x08\xd0")
    assert target.alive()
    assert Conn(target.port).call("PING") == Reply("+", b"PONG")
    check_cluster(target)
    log = open(os.path.join(target.workdir, "node.log")).read()
    assert "Cluster bus: dropping the link" in log


def test_reshard_under_write_load_between_larder_and_redis_nodes(cluster_nodes):
    """redis-cli --cluster reshard moves slots (MIGRATE, RESTORE-ASKING, SETSLOT, ASK redirects)
    from a Larder node to a redis-server node and back while a client writes: every write that
    was acknowledged is there afterwards."""
    import threading
    nodes = cluster_nodes(["larder", "redis", "larder"])
    create_cluster(nodes)
    rc = RedisCluster(host="127.0.0.1", port=nodes[0].port)
    for i in range(3000):
        rc.set(f"item:{i}", i)
    acked = {}
    stop = threading.Event()

    def writer():
        w = RedisCluster(host="127.0.0.1", port=nodes[2].port)
        n = 0
        while not stop.is_set():
            key = f"live:{n % 500}"
            if w.set(key, n):
                acked[key] = n
            n += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        ids = [Conn(n.port).call("CLUSTER", "MYID").value.decode() for n in nodes]
        for src, dst in ((0, 1), (1, 2), (2, 0)):
            out = cli("--cluster", "reshard", f"127.0.0.1:{nodes[0].port}", "--cluster-from", ids[src],
                      "--cluster-to", ids[dst], "--cluster-slots", "100", "--cluster-yes", timeout=300)
            assert out.returncode == 0, out.stdout + out.stderr
            check_cluster(nodes[dst])
    finally:
        stop.set()
        t.join()
    assert len(acked) > 0
    check = RedisCluster(host="127.0.0.1", port=nodes[1].port)
    assert all(int(check.get(f"item:{i}")) == i for i in range(3000))
    for key, n in acked.items():
        assert int(check.get(key)) == n, key
    # Each node's slots hold exactly the keys that hash there.
    for node in nodes:
        c = Conn(node.port)
        mine = {int(s) for line in c.call("CLUSTER", "NODES").value.decode().splitlines() if "myself" in line
                for r in line.split()[8:] for s in (range(int(r.split("-")[0]), int(r.split("-")[-1]) + 1))}
        for key in c.call("KEYS", "*").value:
            assert int(c.call("CLUSTER", "KEYSLOT", key.value).value) in mine


def test_migrate_between_larder_and_redis(larder, oracle):
    """MIGRATE outside a cluster, both ways, with TTLs, COPY, REPLACE, KEYS and errors."""
    l, r = Conn(larder.port), Conn(oracle.port)
    for c in (l, r):
        c.call("FLUSHALL")
    l.call("SET", "a", "1")
    l.call("PEXPIRE", "a", 100000)
    l.call("RPUSH", "b", "x", "y")
    assert l.call("MIGRATE", "127.0.0.1", oracle.port, "a", 0, 1000) == Reply("+", b"OK")
    assert l.call("EXISTS", "a").value == 0 and r.call("GET", "a") == Reply("$", b"1")
    assert 90000 < r.call("PTTL", "a").value <= 100000
    assert l.call("MIGRATE", "127.0.0.1", oracle.port, "", 0, 1000, "COPY", "KEYS", "b", "none") == Reply("+", b"OK")
    assert l.call("LRANGE", "b", 0, -1) == r.call("LRANGE", "b", 0, -1)
    busy = l.call("MIGRATE", "127.0.0.1", oracle.port, "b", 0, 1000)
    assert busy == Reply("-", b"ERR Target instance replied with error: BUSYKEY Target key name already exists.")
    assert l.call("MIGRATE", "127.0.0.1", oracle.port, "b", 0, 1000, "REPLACE") == Reply("+", b"OK")
    assert l.call("MIGRATE", "127.0.0.1", oracle.port, "none", 0, 1000) == Reply("+", b"NOKEY")
    # Back from redis-server to Larder, into another database.
    assert r.call("MIGRATE", "127.0.0.1", larder.port, "", 3, 1000, "KEYS", "a", "b") == Reply("+", b"OK")
    l.call("SELECT", 3)
    assert l.call("LRANGE", "b", 0, -1).value == (Reply("$", b"x"), Reply("$", b"y"))
    diff_args = [("MIGRATE", "127.0.0.1", 1, "a", 0, 1000), ("MIGRATE", "127.0.0.1", oracle.port, "a", 0, 1000, "KEYS", "b"),
                 ("MIGRATE", "127.0.0.1", oracle.port, "a", 0, 1000, "BAD"), ("MIGRATE", "127.0.0.1", "x", "a", 0, 1000)]
    l.call("SELECT", 0)
    l.call("SET", "a", "again")
    r.call("SET", "a", "again")
    for args in diff_args:
        mine, theirs = l.call(*args), r.call(*[oracle.port if a == oracle.port else a for a in args])
        assert mine.kind == theirs.kind == "-", args
        if args[2] != 1:
            assert mine == theirs, args


def roles(node):
    """{port: (flags, primary id, slots)} from a node's CLUSTER NODES; and {id: port}."""
    out, ids = {}, {}
    for line in Conn(node.port).call("CLUSTER", "NODES").value.decode().splitlines():
        f = line.split()
        port = int(f[1].split("@")[0].rsplit(":", 1)[1])
        out[port] = (f[2].split(","), f[3], f[8:])
        ids[f[0]] = port
    return out, ids


def write_acknowledged(entry, prefix, n=1000):
    """Writes through RedisCluster, then WAIT on every primary for one replica: all acked."""
    rc = RedisCluster(host="127.0.0.1", port=entry.port)
    for i in range(n):
        rc.set(f"{prefix}:{i}", i)
    for primary in rc.get_primaries():
        assert redis.Redis(port=primary.port).wait(1, 5000) == 1


def all_there(entry, prefix, n=1000):
    rc = RedisCluster(host="127.0.0.1", port=entry.port)
    return all(rc.get(f"{prefix}:{i}") == str(i).encode() for i in range(n))


def replica_of(nodes, primary):
    """A replica of `primary`, as another node sees it (waiting for the view to settle)."""
    my_id = Conn(primary.port).call("CLUSTER", "MYID").value.decode()

    def found():
        table, _ = roles(nodes[0] if nodes[0] is not primary else nodes[1])
        ports = [p for p, (flags, master, _) in table.items() if "slave" in flags and master == my_id]
        return [n for n in nodes if n.port in ports]
    wait_until(lambda: found(), timeout=30, what=f"a replica of {primary.kind} {primary.port} in the cluster's view")
    return found()[0]


def fail_over(nodes, victim):
    """kill -9 of a primary: its replica is elected, the cluster is ok again, and the victim,
    restarted, comes back as a replica of the new primary."""
    heir = replica_of(nodes, victim)
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    others = [n for n in nodes if n is not victim]
    wait_until(lambda: "master" in roles(heir)[0][heir.port][0], timeout=30,
               what=f"{heir.kind} replica {heir.port} elected in place of {victim.kind} {victim.port}")
    for n in others:
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30,
                   what=f"cluster_state:ok on {n.port} after the failover")
        wait_until(lambda: roles(n)[0][heir.port][2] != [], timeout=30, what=f"{n.port} seeing the new primary's slots")
    back = start_node(victim.kind, victim.port, victim.workdir)
    nodes[nodes.index(victim)] = back
    heir_id = Conn(heir.port).call("CLUSTER", "MYID").value.decode()
    wait_until(lambda: roles(back)[0][back.port][:2] == (["myself", "slave"], heir_id), timeout=30,
               what=f"the old primary {back.port} following {heir.port}")
    wait_until(lambda: b"master_link_status:up" in Conn(back.port).call("INFO", "replication").value, timeout=30,
               what="the old primary replicating")
    check_cluster(heir)
    return heir


def test_larder_replicas_fail_over_and_manual_failover(cluster_nodes):
    nodes = cluster_nodes(["larder"] * 6)
    out = cli("--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes], "--cluster-replicas", "1", "--cluster-yes")
    assert out.returncode == 0 and "[OK] All 16384 slots covered." in out.stdout, out.stdout + out.stderr
    for n in nodes:
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30)
    table, _ = roles(nodes[0])
    assert sum("slave" in flags for flags, _, _ in table.values()) == 3
    write_acknowledged(nodes[0], "before")
    primary = [n for n in nodes if "master" in roles(n)[0][n.port][0]][0]
    heir = fail_over(nodes, primary)
    assert all_there(nodes[1], "before")
    # CLUSTER FAILOVER on the old primary (now a replica) gives it its slots back; TAKEOVER
    # on the other side does it again without votes.
    old = [n for n in nodes if n.port == primary.port][0]
    assert Conn(old.port).call("CLUSTER", "FAILOVER") == Reply("+", b"OK")
    wait_until(lambda: "master" in roles(heir)[0][old.port][0] and roles(heir)[0][old.port][2], timeout=30,
               what="the manual failover")
    assert Conn(old.port).call("CLUSTER", "FAILOVER") == Reply("-", b"ERR You should send CLUSTER FAILOVER to a replica")
    wait_until(lambda: "slave" in roles(heir)[0][heir.port][0], timeout=30, what="the former heir following")
    assert Conn(heir.port).call("CLUSTER", "FAILOVER", "TAKEOVER") == Reply("+", b"OK")
    wait_until(lambda: "master" in roles(old)[0][heir.port][0] and roles(old)[0][heir.port][2], timeout=30,
               what="the takeover")
    check_cluster(nodes[2])
    assert all_there(nodes[3], "before")
    for n in nodes:
        n.stop()


def tag_served_by(node):
    """A hash tag whose slot `node` serves."""
    ranges = roles(node)[0][node.port][2]
    served = set()
    for r in ranges:
        if r.startswith("["):
            continue
        a, _, b = r.partition("-")
        served |= set(range(int(a), int(b or a) + 1))
    c = Conn(node.port)
    return next(t for t in (f"t{i}" for i in range(100000)) if int(c.call("CLUSTER", "KEYSLOT", t).value) in served)


def manual_failover_under_writes(primary, replica):
    """CLUSTER FAILOVER (no option) while a client writes to the primary as fast as it can: the
    primary holds writes, the replica catches up to the offset it is given, then takes over; every
    write the old primary acknowledged is on the new one, with no WAIT."""
    tag = tag_served_by(primary)
    acked, stop, errors = [], threading.Event(), []

    def writer():
        c = Conn(primary.port)
        i = 0
        while not stop.is_set():
            r = c.call("SET", f"{{{tag}}}:{i}", i)
            if r != Reply("+", b"OK"):
                errors.append(r)
                return
            acked.append(i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    wait_until(lambda: len(acked) > 200, timeout=10, what="writes flowing")
    assert Conn(replica.port).call("CLUSTER", "FAILOVER") == Reply("+", b"OK")
    wait_until(lambda: "master" in roles(replica)[0][replica.port][0], timeout=20, what="the manual failover")
    t.join(timeout=20)
    stop.set()
    t.join()
    # The old primary sends its clients on (held writes included), as redis-server does; or,
    # while it is still taking in the new configuration, says the cluster is down (seen once
    # in a whole run under load; which kind answered so was not recorded then).
    assert errors and errors[0].kind == "-" and errors[0].value.split()[0] in (b"MOVED", b"CLUSTERDOWN"), \
        f"{primary.kind} primary {primary.port}, {replica.kind} replica {replica.port}: {errors}"
    c = Conn(replica.port)
    missing = [i for i in acked if c.call("GET", f"{{{tag}}}:{i}") != Reply("$", str(i).encode())]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost, first {missing[:5]}"
    logs = {n: open(os.path.join(n.workdir, "node.log"), errors="replace").read() for n in (primary, replica)}
    assert "Manual failover requested by replica" in logs[primary], logs[primary][-2000:]
    assert "All master replication stream processed, manual failover can start." in logs[replica], logs[replica][-2000:]


def build_cluster(nodes, primaries, replicas):
    """`primaries` nodes created with redis-cli, then each (replica, primary) pair added with
    add-node --cluster-slave, in sync before the next."""
    create_cluster(primaries)
    entry = f"127.0.0.1:{primaries[0].port}"
    for replica, primary in replicas:
        primary_id = Conn(primary.port).call("CLUSTER", "MYID").value.decode()
        out = cli("--cluster", "add-node", f"127.0.0.1:{replica.port}", entry, "--cluster-slave",
                  "--cluster-master-id", primary_id)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_until(lambda: b"master_link_status:up" in Conn(replica.port).call("INFO", "replication").value,
                   timeout=60, what=f"{replica.kind} {replica.port} replicating")
    for replica, _ in replicas:
        for n in nodes:
            wait_until(lambda: node_line(n, replica) is not None and "slave" in node_line(n, replica)[2], timeout=30,
                       what=f"{n.port} knowing {replica.port} as a replica")


def test_manual_failover_waits_for_the_primary(cluster_nodes):
    """The default CLUSTER FAILOVER as Redis runs it (MFSTART, writes held, the offset to reach),
    between nodes of both kinds: a redis-server replica of a Larder primary, a Larder replica of a
    redis-server primary, and Larder with Larder."""
    nodes = cluster_nodes(["larder", "redis", "larder", "redis", "larder", "larder"])
    pairs = ((nodes[3], nodes[0]), (nodes[4], nodes[1]), (nodes[5], nodes[2]))
    build_cluster(nodes, nodes[:3], pairs)
    for replica, primary in pairs:
        manual_failover_under_writes(primary, replica)
        wait_until(lambda: b"master_link_status:up" in Conn(primary.port).call("INFO", "replication").value,
                   timeout=60, what=f"the old primary {primary.kind} {primary.port} following")
    check_cluster(nodes[0])


def test_replica_no_failover_and_validity_factor(cluster_nodes):
    """cluster-replica-no-failover: the replica does not stand when its primary dies (the others,
    of both kinds, see it flagged nofailover), but CLUSTER FAILOVER FORCE still makes it primary.
    cluster-replica-validity-factor: a replica cut off from its primary for longer than allowed
    does not stand either. While the cluster is down, sharded pub/sub still works
    (cluster-allow-pubsubshard-when-down) and reads do not."""
    nodes = cluster_nodes(["larder", "redis", "larder", "larder", "larder"])
    primaries = nodes[:3]
    guarded, stale = nodes[3], nodes[4]
    build_cluster(nodes, primaries, [(guarded, nodes[0]), (stale, nodes[2])])
    assert Conn(guarded.port).call("CONFIG", "SET", "cluster-replica-no-failover", "yes") == Reply("+", b"OK")
    for n in nodes:
        wait_until(lambda: "nofailover" in node_line(n, guarded)[2], timeout=30, what=f"{n.kind} {n.port} seeing nofailover")
    victim = nodes[0]
    tag = tag_served_by(nodes[2])
    blocked = Conn(nodes[2].port, timeout=30)
    blocked.send_raw(encode("BLPOP", f"{{{tag}}}:list", 0))
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    wait_until(lambda: "fail" in node_line(guarded, victim)[2].split(","), timeout=30, what="the primary failed")
    # Blocked on a key served here, but the cluster is down: told so rather than left waiting.
    assert blocked.read() == Reply("-", b"CLUSTERDOWN The cluster is down")
    wait_until(lambda: b"cluster_state:fail" in Conn(nodes[1].port).call("CLUSTER", "INFO").value, timeout=30)
    time.sleep(NODE_TIMEOUT * 3 / 1000)
    assert "slave" in node_line(guarded, guarded)[2], "a nofailover replica stood for election"
    # The cluster is down: reads refused, sharded pub/sub served (both kinds alike).
    for n in (nodes[1], nodes[2]):
        c = Conn(n.port)
        assert c.call("GET", f"{{{tag}}}") == Reply("-", b"CLUSTERDOWN The cluster is down")
    mine = Conn(nodes[2].port).call("SPUBLISH", f"{{{tag}}}", "m")
    assert mine.kind == ":", mine
    assert Conn(guarded.port).call("CLUSTER", "FAILOVER", "FORCE") == Reply("+", b"OK")
    wait_until(lambda: "master" in node_line(guarded, guarded)[2], timeout=30, what="the forced failover")
    for n in nodes[1:]:
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30)
    # Validity: the replica of nodes[2] loses its link (the primary now wants a password it
    # does not have) and waits past repl-ping-replica-period + factor x node timeout.
    c = Conn(stale.port)
    for args in (("cluster-replica-validity-factor", "1"), ("repl-ping-replica-period", "1")):
        assert c.call("CONFIG", "SET", *args) == Reply("+", b"OK")
    p = Conn(nodes[2].port)
    assert p.call("CONFIG", "SET", "requirepass", "secret") == Reply("+", b"OK")
    assert p.call("AUTH", "secret") == Reply("+", b"OK")
    p.call("CLIENT", "KILL", "TYPE", "replica")
    wait_until(lambda: b"master_link_status:down" in c.call("INFO", "replication").value, timeout=30)
    time.sleep((1000 + NODE_TIMEOUT * 2 + NODE_TIMEOUT) / 1000 + 1)
    nodes[2].proc.send_signal(signal.SIGKILL)
    nodes[2].proc.wait()
    wait_until(lambda: "fail" in node_line(stale, nodes[2])[2].split(","), timeout=30, what="the primary failed")
    time.sleep(NODE_TIMEOUT * 3 / 1000)
    assert "slave" in node_line(stale, stale)[2], "a replica with stale data stood for election"
    log = open(os.path.join(stale.workdir, "node.log"), errors="replace").read()
    assert "cluster-replica-validity-factor" in log
    assert c.call("CLUSTER", "FAILOVER", "FORCE") == Reply("+", b"OK")
    wait_until(lambda: "master" in node_line(stale, stale)[2], timeout=30, what="the forced failover of the stale replica")


def test_replica_migrates_to_an_orphaned_primary(cluster_nodes):
    """A primary whose only replica died gets one from the primary with the most (two, one of
    each kind): the replica with the smallest name moves after five seconds, as Redis's do, and
    the primary it left keeps cluster-migration-barrier replicas. The third primary has a
    replica too: a primary that never had one is no target for Larder, but a redis-server
    replica was once seen moving to one (its view of which primaries had replicas is its own)."""
    nodes = cluster_nodes(["larder", "redis", "larder", "larder", "redis", "larder", "larder"])
    rich, poor = nodes[0], nodes[2]
    build_cluster(nodes, nodes[:3], [(nodes[3], rich), (nodes[4], rich), (nodes[5], poor), (nodes[6], nodes[1])])
    poor_id = Conn(poor.port).call("CLUSTER", "MYID").value.decode()
    nodes[5].proc.send_signal(signal.SIGKILL)
    nodes[5].proc.wait()
    live = nodes[:5] + nodes[6:]

    def replicas_of(primary_id):
        table, _ = roles(nodes[1])
        return [p for p, (flags, master, _) in table.items() if "slave" in flags and "fail" not in flags and master == primary_id]

    wait_until(lambda: "fail" in node_line(nodes[1], nodes[5])[2].split(","), timeout=30, what="the replica failed")
    wait_until(lambda: [p for p in replicas_of(poor_id) if p != nodes[5].port], timeout=60,
               what="a replica migrating to the orphaned primary")
    moved = [n for n in live if n.port in replicas_of(poor_id)][0]
    assert moved in (nodes[3], nodes[4])
    wait_until(lambda: b"master_link_status:up" in Conn(moved.port).call("INFO", "replication").value, timeout=60,
               what="the migrated replica replicating")
    log = open(os.path.join(moved.workdir, "node.log"), errors="replace").read()
    assert f"Migrating to orphaned master {poor_id}" in log
    rich_id = Conn(rich.port).call("CLUSTER", "MYID").value.decode()
    assert len(replicas_of(rich_id)) == 1


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_primary_losing_slots_to_a_newer_claim(cluster_nodes, kind):
    """A slot claimed by another primary with a greater config epoch, its keys not moved: the
    primary that had it drops its keys (the DELs reach its replica); and with
    cluster-allow-replica-migration no, a primary left without slots stays a primary. Run with
    each kind as that primary: Larder does what redis-server does, but for the replica."""
    a, b, c, a_replica = cluster_nodes([kind, "redis" if kind == "larder" else "larder", "larder", kind])
    for n, (lo, hi) in zip((a, b, c), ((0, 9), (10, 8000), (8001, 16383))):
        assert Conn(n.port).call("CLUSTER", "ADDSLOTSRANGE", lo, hi) == Reply("+", b"OK")
    for n in (b, c, a_replica):
        Conn(n.port).call("CLUSTER", "MEET", "127.0.0.1", a.port)
    for n in (a, b, c):
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30)
    a_id, b_id = (Conn(n.port).call("CLUSTER", "MYID").value.decode() for n in (a, b))
    wait_until(lambda: Conn(a_replica.port).call("CLUSTER", "REPLICATE", a_id) == Reply("+", b"OK"), timeout=30)
    wait_until(lambda: b"master_link_status:up" in Conn(a_replica.port).call("INFO", "replication").value, timeout=60)
    ca = Conn(a.port)
    assert ca.call("CONFIG", "SET", "cluster-allow-replica-migration", "no") == Reply("+", b"OK")
    tag = tag_served_by(a)
    slot = int(ca.call("CLUSTER", "KEYSLOT", tag).value)
    for i in range(50):
        ca.call("SET", f"{{{tag}}}:{i}", i)
    ca.call("SET", "other-slot-key", "x")  # stays if its slot stays
    assert ca.call("WAIT", 1, 5000) == Reply(":", 1)
    kept_slot = int(ca.call("CLUSTER", "KEYSLOT", "other-slot-key").value)
    # A client blocked on a key of that slot is sent to the new owner (and a READONLY one
    # blocked on the replica too).
    blocked = Conn(a.port, timeout=30)
    blocked.send_raw(encode("BLPOP", f"{{{tag}}}:list", 0))
    # A subscriber to a shard channel of that slot is unsubscribed, and told so.
    subscriber = Conn(a.port, timeout=30)
    assert subscriber.call("SSUBSCRIBE", f"{{{tag}}}") == Reply("*", (Reply("$", b"ssubscribe"), Reply("$", f"{{{tag}}}".encode()), Reply(":", 1)))
    cb = Conn(b.port)
    assert cb.call("CLUSTER", "BUMPEPOCH").kind == "+"
    assert cb.call("CLUSTER", "SETSLOT", slot, "NODE", b_id) == Reply("+", b"OK")
    assert blocked.read() == Reply("-", f"MOVED {slot} 127.0.0.1:{b.port}".encode())
    assert subscriber.read() == Reply("*", (Reply("$", b"sunsubscribe"), Reply("$", f"{{{tag}}}".encode()), Reply(":", 0)))
    assert subscriber.call("ECHO", "out of subscribed mode") == Reply("$", b"out of subscribed mode")
    wait_until(lambda: ca.call("CLUSTER", "COUNTKEYSINSLOT", slot) == Reply(":", 0), timeout=30,
               what="the keys of the lost slot dropped")
    assert "master" in node_line(a, a)[2]
    if kind == "larder":
        # redis-server 7.0 deletes them without telling its replicas, which keep them (as this
        # test saw); Larder sends each DEL, as later Redis versions do.
        wait_until(lambda: Conn(a_replica.port).call("CLUSTER", "COUNTKEYSINSLOT", slot) == Reply(":", 0), timeout=30,
                   what="the replica dropping them too")
    if not (0 <= kept_slot <= 9) or kept_slot == slot:
        kept_slot = None
    # Every other slot of A goes to B the same way: A keeps no slot, and stays a primary.
    for s in range(0, 10):
        if s != slot:
            assert cb.call("CLUSTER", "SETSLOT", s, "NODE", b_id) == Reply("+", b"OK")
    wait_until(lambda: len(node_line(a, a)) == 8, timeout=30, what="A without slots")
    time.sleep(1)
    assert "master" in node_line(a, a)[2] and node_line(a, a)[3] == "-"
    assert b"role:master" in ca.call("INFO", "replication").value


def test_hostnames_and_preferred_endpoints_as_redis(cluster_nodes):
    """cluster-announce-hostname travels in the ping extension both ways between Larder and
    redis-server; CLUSTER NODES shows it, and CLUSTER SLOTS / SHARDS and redirects give each
    node's address as cluster-preferred-endpoint-type says, as a redis-server node of the same
    cluster gives them."""
    nodes = cluster_nodes(["larder", "redis", "larder"])
    create_cluster(nodes)
    for i, n in enumerate(nodes):
        assert Conn(n.port).call("CONFIG", "SET", "cluster-announce-hostname", f"{n.kind}-{i}.example") == Reply("+", b"OK")
    for n in nodes:
        for other in nodes:
            i = nodes.index(other)
            wait_until(lambda: node_line(n, other)[1].endswith(f",{other.kind}-{i}.example"), timeout=30,
                       what=f"{n.kind} {n.port} knowing {other.kind} {other.port}'s hostname")
    larder, oracle, third = nodes[0], nodes[1], nodes[2]
    far = f"{{{tag_served_by(third)}}}"
    by_id = lambda reply: sorted(repr(x) for x in reply.value)
    for mode in ("hostname", "unknown-endpoint", "ip"):
        for n in (larder, oracle):
            assert Conn(n.port).call("CONFIG", "SET", "cluster-preferred-endpoint-type", mode) == Reply("+", b"OK")
        mine, theirs = Conn(larder.port), Conn(oracle.port)
        assert by_id(mine.call("CLUSTER", "SLOTS")) == by_id(theirs.call("CLUSTER", "SLOTS")), mode
        assert mine.call("GET", far) == theirs.call("GET", far), mode
        shards = lambda c: sorted(repr(sorted(repr(x) for x in s.value[3].value)) for s in c.call("CLUSTER", "SHARDS").value)
        assert shards(mine) == shards(theirs), mode
    assert mine.call("GET", far) == Reply("-", f"MOVED {mine.call('CLUSTER', 'KEYSLOT', far).value} 127.0.0.1:{third.port}".encode())
    # Dropped: the others forget it at the next ping, as Redis's do.
    assert Conn(larder.port).call("CONFIG", "SET", "cluster-announce-hostname", "") == Reply("+", b"OK")
    wait_until(lambda: node_line(oracle, larder)[1] == f"127.0.0.1:{larder.port}@{larder.port + 10000}", timeout=30)


def test_cluster_links_and_send_buffer_limit(cluster_nodes):
    """CLUSTER LINKS lists each link to and from every other node as redis-server lists its own
    (a map per link, creation time in ms); a link whose unsent messages pass
    cluster-link-sendbuf-limit (a peer that stopped reading) is dropped and counted in CLUSTER
    INFO, and made again once the peer reads."""
    nodes = cluster_nodes(["larder", "redis", "larder"])
    create_cluster(nodes)
    larder, oracle, stopped = nodes
    ids = {Conn(n.port).call("CLUSTER", "MYID").value.decode(): n for n in nodes}

    def links(node):
        out = []
        for entry in Conn(node.port).call("CLUSTER", "LINKS").value:
            out.append({entry.value[i].value.decode(): entry.value[i + 1].value for i in range(0, len(entry.value), 2)})
        return out

    for n in (larder, oracle):
        wait_until(lambda: sorted((l["direction"], l["node"]) for l in links(n)) == sorted(
            (d, i.encode()) for i, m in ids.items() if m is not n for d in (b"to", b"from")), timeout=30,
            what=f"{n.kind} listing a link each way to each other node")
    mine, theirs = links(larder), links(oracle)
    assert sorted(mine[0]) == sorted(theirs[0])
    assert all(abs(l["create-time"] - time.time() * 1000) < 120_000 and l["events"] in (b"r", b"rw") for l in mine)
    assert Conn(larder.port).call("CONFIG", "SET", "cluster-link-sendbuf-limit", "1mb") == Reply("+", b"OK")
    stopped.proc.send_signal(signal.SIGSTOP)
    try:
        big = "x" * (1 << 20)
        c = Conn(larder.port)
        for _ in range(12):
            c.call("PUBLISH", "news", big)
        exceeded = lambda: int(dict(l.split(":") for l in c.call("CLUSTER", "INFO").value.decode().split())[
            "total_cluster_links_buffer_limit_exceeded"])
        wait_until(lambda: exceeded() >= 1, timeout=30, what="the link to the stopped node dropped")
        assert "exceeding send buffer memory limit" in open(os.path.join(larder.workdir, "node.log"), errors="replace").read()
    finally:
        stopped.proc.send_signal(signal.SIGCONT)
    for n in nodes:
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30)
    wait_until(lambda: any(l["node"].decode() in ids and ids[l["node"].decode()] is stopped and l["direction"] == b"to"
                           for l in links(larder)), timeout=30, what="the link made again")


def test_mixed_cluster_fails_over_both_ways(cluster_nodes):
    """Larder and redis-server primaries with replicas of the other kind: a redis-server replica
    takes over a Larder primary, and a Larder replica a redis-server primary, each with the
    other kind's votes; acknowledged writes are kept."""
    nodes = cluster_nodes(["larder", "redis", "larder", "redis", "larder", "redis"])
    out = cli("--cluster", "create", *[f"127.0.0.1:{n.port}" for n in nodes], "--cluster-replicas", "1", "--cluster-yes")
    assert out.returncode == 0 and "[OK] All 16384 slots covered." in out.stdout, out.stdout + out.stderr
    for n in nodes:
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30)
    write_acknowledged(nodes[0], "mixed")
    done = set()
    for kind in ("larder", "redis"):
        candidates = [n for n in nodes if n.kind == kind and "master" in roles(n)[0][n.port][0]
                      and replica_of(nodes, n).kind != kind]
        if not candidates:
            continue
        fail_over(nodes, candidates[0])
        done.add(kind)
        assert all_there(nodes[0], "mixed")
    assert done == {"larder", "redis"}, "redis-cli placed no replica of the other kind"
    for n in nodes:
        n.stop()


def test_cluster_replies_as_redis(cluster_nodes):
    """A Larder node and a redis-server node of one cluster answer alike: redirects to a third
    node, CROSSSLOT, scripts touching keys served elsewhere (declared or not, no-cluster,
    allow-cross-slot-keys), a transaction with a key served elsewhere, SELECT, sharded
    pub/sub redirected, and the CLUSTER sub-commands' errors."""
    nodes = cluster_nodes(["larder", "redis", "larder"])
    create_cluster(nodes)
    larder, oracle, third = nodes
    owner_port = {}
    for n in nodes:
        for line in Conn(n.port).call("CLUSTER", "NODES").value.decode().splitlines():
            if "myself" in line:
                for r in line.split()[8:]:
                    a, _, b = r.partition("-")
                    for s in range(int(a), int(b or a) + 1):
                        owner_port[s] = n.port

    def key_on(node, prefix):
        for i in range(100000):
            k = f"{prefix}{i}"
            if owner_port[int(Conn(larder.port).call("CLUSTER", "KEYSLOT", k).value)] == node.port:
                return k
    far, far2 = key_on(third, "far"), key_on(third, "other")
    mine, theirs = Conn(larder.port), Conn(oracle.port)
    cases = [
        ("GET", far), ("SET", far, "v"), ("MSET", far, "1", far2, "2"), ("DEL", far, far2),
        ("SELECT", "1"), ("SELECT", "0"), ("SWAPDB", "0", "1"), ("MOVE", far, "1"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", far),
        ("EVAL", f"return redis.call('get', '{far}')", "0"),
        ("EVAL", "#!lua flags=no-cluster\nreturn 1", "0"),
        ("EVAL", f"#!lua flags=allow-cross-slot-keys\nreturn redis.call('get', '{far}')", "0"),
        ("SPUBLISH", far, "m"), ("SSUBSCRIBE", far), ("READONLY",), ("READWRITE",), ("ASKING",),
        ("CLUSTER", "KEYSLOT", "{user}:1"), ("CLUSTER", "COUNTKEYSINSLOT", "99999"), ("CLUSTER", "GETKEYSINSLOT", "1", "-1"),
        ("CLUSTER", "ADDSLOTS", "1"), ("CLUSTER", "ADDSLOTS", "99999"), ("CLUSTER", "DELSLOTSRANGE", "5", "1"),
        ("CLUSTER", "SETSLOT", "1", "IMPORTING", "nosuchnode"), ("CLUSTER", "SETSLOT", "1", "BAD"),
        ("CLUSTER", "MEET", "nohost", "1"), ("CLUSTER", "FORGET", "nosuchnode"), ("CLUSTER", "REPLICATE", "nosuchnode"),
        ("CLUSTER", "SET-CONFIG-EPOCH", "5"), ("CLUSTER", "FAILOVER"), ("CLUSTER", "FAILOVER", "BAD"),
        ("CLUSTER", "COUNT-FAILURE-REPORTS", "nosuchnode"), ("CLUSTER", "REPLICAS", "nosuchnode"), ("CLUSTER", "RESET", "BAD"),
        ("REPLICAOF", "127.0.0.1", "1"), ("CLUSTER", "HELP"),
    ]
    for args in cases:
        a, b = mine.call(*args), theirs.call(*args)
        if args[0] == "SSUBSCRIBE" and a.kind != "-":
            mine.call("SUNSUBSCRIBE")
            theirs.call("SUNSUBSCRIBE")
        assert a == b, f"{args}: larder {a!r} != redis {b!r}"
    # A transaction: a command for a key served elsewhere is refused when queued, EXEC aborts.
    for c in (mine, theirs):
        assert c.call("MULTI") == Reply("+", b"OK")
    for args in [("SET", far, "1"), ("EXEC",)]:
        a, b = mine.call(*args), theirs.call(*args)
        assert a == b, f"{args}: larder {a!r} != redis {b!r}"


def test_slot_key_counts_as_redis(cluster_nodes):
    """COUNTKEYSINSLOT and GETKEYSINSLOT come from an index kept as keys come and go (sets,
    deletes, renames, hash tags, restores, flushes), not a walk of the keys: a Larder node
    answers as a redis-server node given the same writes, and so does a Larder replica that
    loaded the data set by a full resync."""
    larder, oracle, replica = cluster_nodes(["larder", "redis", "larder"])
    for n in (larder, oracle):
        assert Conn(n.port).call("CLUSTER", "ADDSLOTSRANGE", "0", "16383") == Reply("+", b"OK")
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30)
    rng = random.Random(7)
    writes = []
    for i in range(3000):
        k = rng.choice([f"user:{rng.randrange(800)}", f"{{tag{rng.randrange(5)}}}:{rng.randrange(300)}"])
        op = rng.randrange(10)
        if op < 5:
            writes.append(("SET", k, i))
        elif op < 7:
            writes.append(("DEL", k))
        elif op < 8:
            writes.append(("RENAME", k, f"{k}:moved")) if rng.random() < 0.5 else writes.append(("SET", k, "x", "EX", 1000))
        elif op < 9:
            writes.append(("RPUSH", k + ":list", i))
        else:
            writes.append(("UNLINK", k, k + ":list"))
    writes += [("FLUSHALL",)] + writes[:1500]
    for n in (larder, oracle):
        c = Conn(n.port)
        for w in writes:
            c.call(*w)
        c.call("SET", "dump:src", "v")
        c.call("RESTORE", "restored", "0", c.call("DUMP", "dump:src").value)
    mine, theirs = Conn(larder.port), Conn(oracle.port)
    assert mine.call("DBSIZE") == theirs.call("DBSIZE")
    slots = {int(theirs.call("CLUSTER", "KEYSLOT", k.value).value) for k in theirs.call("KEYS", "*").value}
    slots |= {0, 16383, int(theirs.call("CLUSTER", "KEYSLOT", "nokey").value)}
    for s in sorted(slots):
        assert mine.call("CLUSTER", "COUNTKEYSINSLOT", s) == theirs.call("CLUSTER", "COUNTKEYSINSLOT", s), s
        everything = sorted(mine.call("CLUSTER", "GETKEYSINSLOT", s, 100000).value, key=lambda r: r.value)
        assert everything == sorted(theirs.call("CLUSTER", "GETKEYSINSLOT", s, 100000).value, key=lambda r: r.value), s
        assert len(mine.call("CLUSTER", "GETKEYSINSLOT", s, 2).value) == min(2, len(everything))
    # A replica's data set comes whole from the primary's RDB; its index must cover it.
    Conn(replica.port).call("CLUSTER", "MEET", "127.0.0.1", str(larder.port))
    larder_id = mine.call("CLUSTER", "MYID").value.decode()
    wait_until(lambda: Conn(replica.port).call("CLUSTER", "REPLICATE", larder_id) == Reply("+", b"OK"), timeout=30,
               what="the replica knowing its primary")
    wait_until(lambda: b"master_link_status:up" in Conn(replica.port).call("INFO", "replication").value, timeout=60,
               what="the replica in sync")
    wait_until(lambda: Conn(replica.port).call("DBSIZE") == mine.call("DBSIZE"), timeout=30)
    for s in sorted(slots):
        assert Conn(replica.port).call("CLUSTER", "COUNTKEYSINSLOT", s) == theirs.call("CLUSTER", "COUNTKEYSINSLOT", s), s


def test_add_node_rebalance_del_node_and_benchmark(cluster_nodes):
    """The tools operators grow and shrink a cluster with: add-node (a primary, then a replica),
    rebalance onto the empty primary, del-node of the replica, redis-benchmark --cluster."""
    nodes = cluster_nodes(["larder"] * 5)
    create_cluster(nodes[:3])
    rc = RedisCluster(host="127.0.0.1", port=nodes[0].port)
    for i in range(1500):
        rc.set(f"grow:{i}", i)
    entry = f"127.0.0.1:{nodes[0].port}"
    out = cli("--cluster", "add-node", f"127.0.0.1:{nodes[3].port}", entry)
    assert out.returncode == 0 and "[OK] New node added correctly." in out.stdout, out.stdout + out.stderr
    wait_until(lambda: cli("--cluster", "check", entry).returncode == 0, timeout=30, what="every node knowing the new one")
    # redis-cli refuses to add a node while any two views of the slots differ; the new
    # primary's view may still be settling (seen once under load): check again and retry.
    for attempt in range(3):
        wait_until(lambda: cli("--cluster", "check", entry).returncode == 0, timeout=30, what="agreement before add-node")
        out = cli("--cluster", "add-node", f"127.0.0.1:{nodes[4].port}", entry, "--cluster-slave")
        if "Nodes don't agree about configuration" not in out.stdout:
            break
    assert out.returncode == 0 and "[OK] New node added correctly." in out.stdout, out.stdout + out.stderr
    wait_until(lambda: node_line(nodes[0], nodes[4]) is not None and "slave" in node_line(nodes[0], nodes[4])[2], timeout=30)
    for _ in range(3):
        wait_until(lambda: cli("--cluster", "check", entry).returncode == 0, timeout=30, what="agreement before rebalancing")
        out = cli("--cluster", "rebalance", entry, "--cluster-use-empty-masters", timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        if "No rebalancing needed" in out.stdout:
            break
    wait_until(lambda: len(node_line(nodes[0], nodes[3])) > 8, timeout=30, what="the new primary serving slots")
    check_cluster(nodes[3])
    assert all(rc.get(f"grow:{i}") == str(i).encode() for i in range(1500))
    replica_id = Conn(nodes[4].port).call("CLUSTER", "MYID").value.decode()
    out = cli("--cluster", "del-node", entry, replica_id)
    assert out.returncode == 0, out.stdout + out.stderr
    wait_until(lambda: all(node_line(n, nodes[4]) is None for n in nodes[:4]), timeout=30, what="the node forgotten")
    out = cli("--cluster", "check", entry)
    assert out.returncode == 0 and "[OK] All 16384 slots covered." in out.stdout
    bench = subprocess.run(["redis-benchmark", "--cluster", "-p", str(nodes[0].port), "-t", "set,get", "-n", "3000", "-q"],
                           capture_output=True, text=True, timeout=300)
    assert bench.returncode == 0, bench.stdout + bench.stderr
    assert "SET:" in bench.stdout and "GET:" in bench.stdout and "requests per second" in bench.stdout


def test_partitioned_node_resumes(cluster_nodes):
    """A primary stopped (SIGSTOP) for longer than the node timeout is marked failed by the
    others; resumed, it answers again and the cluster is ok with it (no replica took over)."""
    nodes = cluster_nodes(["larder", "larder", "redis"])
    create_cluster(nodes)
    victim = nodes[0]
    victim.proc.send_signal(signal.SIGSTOP)
    try:
        for n in nodes[1:]:
            wait_until(lambda: "fail" in node_line(n, victim)[2].split(","), timeout=30, what=f"{n.kind} marking it failed")
    finally:
        victim.proc.send_signal(signal.SIGCONT)
    for n in nodes:
        wait_until(lambda: b"cluster_state:ok" in Conn(n.port).call("CLUSTER", "INFO").value, timeout=30,
                   what=f"cluster_state:ok on {n.kind} after the resume")
    check_cluster(nodes[2])
