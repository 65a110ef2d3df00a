"""maxmemory and the eight eviction policies: memory stays at the limit, the right keys go."""
import time

import pytest
import redis

from conftest import start_larder

LIMIT = 8 * 1024 * 1024
VALUE = "v" * 1000


@pytest.fixture
def server():
    s = start_larder("--maxmemory", str(LIMIT))
    yield s
    s.stop()


def fill(r, prefix, n, ttl=None):
    p = r.pipeline(transaction=False)
    for i in range(n):
        if ttl:
            p.set(f"{prefix}:{i}", VALUE, ex=ttl)
        else:
            p.set(f"{prefix}:{i}", VALUE)
        if i % 500 == 499:
            p.execute()
    p.execute()


def within_limit(r):
    used = r.info("memory")["used_memory"]
    assert used <= LIMIT * 1.05, used


def test_noeviction_refuses_writes_but_serves_reads(server):
    r = server.client()
    r.config_set("maxmemory-policy", "noeviction")
    r.set("kept", "1")
    with pytest.raises(redis.exceptions.OutOfMemoryError) as e:
        fill(r, "k", 20000)
    assert "command not allowed when used memory > 'maxmemory'" in str(e.value)
    assert r.get("kept") == b"1"
    assert r.dbsize() > 0
    assert r.delete("k:0") == 1           # DEL is not denyoom: it still works
    assert r.info("stats")["evicted_keys"] == 0


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_stay_within_limit(server, policy):
    r = server.client()
    r.config_set("maxmemory-policy", policy)
    fill(r, "k", 20000)
    within_limit(r)
    assert r.info("stats")["evicted_keys"] > 0
    assert 0 < r.dbsize() < 20000


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_touch_only_keys_with_a_ttl(server, policy):
    r = server.client()
    r.config_set("maxmemory-policy", policy)
    fill(r, "persistent", 1500)
    fill(r, "volatile", 20000, ttl=3600)
    within_limit(r)
    assert r.info("stats")["evicted_keys"] > 0
    assert all(r.exists(f"persistent:{i}") for i in range(0, 1500, 37))


def test_volatile_policy_with_nothing_volatile_is_oom(server):
    r = server.client()
    r.config_set("maxmemory-policy", "volatile-lru")
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        fill(r, "persistent", 20000)


def test_lru_keeps_the_recently_read_working_set(server):
    r = server.client()
    r.config_set("maxmemory-policy", "allkeys-lru")
    fill(r, "hot", 200)
    fill(r, "cold-old", 4000)             # hot + old still fit: nothing evicted yet
    assert r.info("stats")["evicted_keys"] == 0
    time.sleep(2.2)                       # the LRU clock counts seconds
    for i in range(200):
        r.get(f"hot:{i}")
    fill(r, "cold-new", 2500)             # now the least recently used go: the old cold keys
    within_limit(r)
    assert r.info("stats")["evicted_keys"] > 0
    hot = sum(r.exists(f"hot:{i}") for i in range(200))
    assert hot >= 190, hot


def test_lfu_keeps_the_frequently_read_keys(server):
    r = server.client()
    r.config_set("maxmemory-policy", "allkeys-lfu")
    fill(r, "hot", 300)
    p = r.pipeline(transaction=False)
    for _ in range(30):
        for i in range(300):
            p.get(f"hot:{i}")
        p.execute()
    assert r.object("freq", "hot:0") > 5
    fill(r, "cold", 12000)
    within_limit(r)
    hot = sum(r.exists(f"hot:{i}") for i in range(300))
    assert hot >= 285, hot


def test_volatile_ttl_evicts_the_soonest_to_expire(server):
    r = server.client()
    r.config_set("maxmemory-policy", "volatile-ttl")
    fill(r, "long", 2000, ttl=100000)
    fill(r, "short", 6000, ttl=1000)
    fill(r, "more-long", 3000, ttl=100000)
    within_limit(r)
    long_left = sum(r.exists(f"long:{i}") for i in range(0, 2000, 10)) / 200
    short_left = sum(r.exists(f"short:{i}") for i in range(0, 6000, 30)) / 200
    # Sampling approximates: the soon-to-expire keys go first by a wide margin, not all alone.
    assert short_left < long_left / 3, (long_left, short_left)


def test_evicted_notifications_and_object_freq_errors(server):
    r = server.client()
    r.config_set("maxmemory-policy", "allkeys-random")
    r.config_set("notify-keyspace-events", "Ee")
    ps = r.pubsub()
    ps.subscribe("__keyevent@0__:evicted")
    ps.get_message(timeout=2)
    fill(r, "k", 12000)
    msg = ps.get_message(timeout=2)
    assert msg and msg["type"] == "message" and msg["data"].startswith(b"k:")
    r.set("x", "1")
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is not selected"):
        r.object("freq", "x")
    r.config_set("maxmemory-policy", "allkeys-lfu")
    with pytest.raises(redis.ResponseError, match="An LFU maxmemory policy is selected"):
        r.object("idletime", "x")
