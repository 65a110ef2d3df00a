"""Soak: 200 connections of mixed commands (strings, lists, hashes, streams, HyperLogLogs and
cache traffic) against a maxmemory-limited server with active expiry and the AOF on. Memory
stays bounded, no error but the expected ones, and the keys each connection owns agree with its
model at the end, on Larder, on a redis-server replicating from it all along, and again after a
restart from the AOF.
LARDER_SOAK_SECONDS sets the length (default 20)."""
import os
import random
import tempfile
import threading
import time

import pytest
import redis

from conftest import start_larder, start_redis

pytestmark = pytest.mark.soak

LIMIT = 32 * 1024 * 1024


def worker(port, conn_ids, deadline, models, errors, seed):
    rng = random.Random(seed)
    clients = {cid: redis.Redis(port=port) for cid in conn_ids}
    while time.time() < deadline:
        cid = rng.choice(conn_ids)
        r = clients[cid]
        model = models[cid]
        k = f"m:{cid}:{rng.randrange(10)}"
        op = rng.randrange(12)
        try:
            if op == 0:
                v = str(rng.randrange(1000))
                r.set(k, v)
                model[k] = ("string", v)
            elif op == 1:
                if model.get(k, ("string", "0"))[0] == "string" and (model.get(k) is None or model[k][1].lstrip("-").isdigit()):
                    n = r.incr(k)
                    model[k] = ("string", str(n))
            elif op == 2:
                r.delete(k)
                model.pop(k, None)
            elif op == 3:
                lk = f"{k}:list"
                r.rpush(lk, "x")
                kind, items = model.get(lk, ("list", 0))
                model[lk] = ("list", items + 1)
            elif op == 4:
                lk = f"{k}:list"
                if r.lpop(lk) is not None:
                    kind, items = model[lk]
                    if items == 1:
                        model.pop(lk)
                    else:
                        model[lk] = ("list", items - 1)
            elif op == 5:
                hk = f"{k}:hash"
                f = f"f{rng.randrange(5)}"
                r.hset(hk, f, "v")
                kind, fields = model.get(hk, ("hash", frozenset()))
                model[hk] = ("hash", fields | {f})
            elif op == 6:
                sk = f"{k}:stream"
                r.xadd(sk, {"n": str(rng.randrange(100))}, maxlen=20, approximate=False)
                kind, n = model.get(sk, ("stream", 0))
                model[sk] = ("stream", min(n + 1, 20))
            elif op == 7:
                pk = f"{k}:hll"
                e = f"e{rng.randrange(300)}"
                r.pfadd(pk, e)
                kind, seen = model.get(pk, ("hll", frozenset()))
                model[pk] = ("hll", seen | {e})
            else:
                # Cache traffic: values with a TTL, some large, that expiry and eviction remove.
                ck = f"cache:{rng.randrange(100000)}"
                if rng.random() < 0.5:
                    r.set(ck, "c" * rng.choice([10, 100, 5000]), ex=rng.randrange(1, 4))
                else:
                    r.get(ck)
        except redis.exceptions.OutOfMemoryError:
            errors.append("oom")
        except Exception as e:  # anything else is a failure
            errors.append(repr(e))


def test_soak():
    seconds = float(os.environ.get("LARDER_SOAK_SECONDS", "20"))
    data = tempfile.mkdtemp(prefix="larder-soak-")
    aof = ("--dir", data, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "")
    s = start_larder("--maxmemory", str(LIMIT), "--maxmemory-policy", "volatile-lru", "--hz", "20", *aof)
    replica = None
    try:
        replica = start_redis("--replicaof", "127.0.0.1", str(s.port))
        conn_ids = list(range(200))
        models = {cid: {} for cid in conn_ids}
        errors = []
        deadline = time.time() + seconds
        threads = [threading.Thread(target=worker, args=(s.port, conn_ids[i::20], deadline, models, errors, i))
                   for i in range(20)]
        peak_rss = 0
        for t in threads:
            t.start()
        probe = redis.Redis(port=s.port)
        while any(t.is_alive() for t in threads):
            mem = probe.info("memory")
            peak_rss = max(peak_rss, mem["used_memory_rss"])
            assert mem["used_memory"] <= LIMIT * 1.1, mem["used_memory"]
            time.sleep(0.5)
        for t in threads:
            t.join()
        assert [e for e in errors if e != "oom"] == []
        assert peak_rss < 512 * 1024 * 1024
        check_models(probe, models)
        assert probe.ping()
        assert s.alive()
        # The replica followed every write, evictions and expiries included.
        follower = redis.Redis(port=replica.port)
        deadline = time.time() + 30
        while time.time() < deadline:
            ri = follower.info("replication")
            if ri.get("master_link_status") == "up" and \
                    ri["master_repl_offset"] == probe.info("replication")["master_repl_offset"]:
                break
            time.sleep(0.1)
        check_models(follower, models)
        assert probe.info("stats")["sync_full"] == 1
    finally:
        if replica:
            replica.stop()
        s.stop()
    # The AOF brings back the same keyspace.
    s2 = start_larder(*aof)
    try:
        check_models(redis.Redis(port=s2.port), models)
    finally:
        s2.stop()


def check_models(probe, models):
    """Every connection's own keys agree with its model."""
    for cid, model in models.items():
        keys = set(k.decode() for k in probe.keys(f"m:{cid}:*"))
        assert keys == set(model), (cid, keys ^ set(model))
        for k, (kind, expected) in model.items():
            if kind == "string":
                assert probe.get(k).decode() == expected, k
            elif kind == "list":
                assert probe.llen(k) == expected, k
            elif kind == "stream":
                assert probe.xlen(k) == expected, k
            elif kind == "hll":
                assert abs(probe.pfcount(k) - len(expected)) <= max(1, len(expected) // 50), k
            else:
                assert set(f.decode() for f in probe.hkeys(k)) == set(expected), k
