"""Larder does not run as a cluster node yet: CLUSTER, READONLY, READWRITE and ASKING answer as
redis-server 7.0 answers with cluster support disabled (what clients probe for), with Redis's
arity and sub-command errors first and Redis's COMMAND INFO; `cluster-enabled yes` is refused
at start rather than ignored."""
import subprocess

import pytest

from conftest import larder_binary

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


def test_cluster_enabled_is_refused_not_ignored(tmp_path):
    proc = subprocess.run([larder_binary(), "--port", "0", "--dir", str(tmp_path), "--cluster-enabled", "yes"],
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0 and "cluster" in (proc.stdout + proc.stderr).lower()
