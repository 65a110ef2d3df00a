"""Multi-key commands while their keys expire under them: with every key in one lock shard
and TTLs of a millisecond or two, a command's second key lookup often removes an expired key
from the same table its first lookup found a key in. Nothing may crash, and each command's
answer must be one Redis could give (errors are only the type errors and the like)."""
import os
import random
import time

import redis

from conftest import start_larder

SEED = int(os.environ.get("LARDER_EXPIRY_SEED", random.randrange(1 << 30)))
ROUNDS = int(os.environ.get("LARDER_EXPIRY_ROUNDS", "300"))

KEYS = [f"k{i}" for i in range(6)]
# What these commands answer on keys of the wrong type (redis-py drops the "ERR ").
EXPECTED_ERRORS = ("WRONGTYPE", "no such key", "source and destination", "INVALIDOBJ", "The specified keys must contain",
                   "BUSYGROUP", "value is not", "One or more scores can't be converted")

BUILDERS = [
    lambda k: ("SET", k, "12345"), lambda k: ("RPUSH", k, "a", "b"), lambda k: ("SADD", k, "m", "n"),
    lambda k: ("ZADD", k, "1", "m", "2", "n"), lambda k: ("HSET", k, "f", "v"), lambda k: ("PFADD", k, "x", "y"),
    lambda k: ("XADD", k, "*", "f", "v"), lambda k: ("GEOADD", k, "13.3", "38.1", "m"), lambda k: ("SETBIT", k, "9", "1"),
]


def commands(rng):
    a, b, d = rng.sample(KEYS, 3)
    return rng.choice([
        ("RENAME", a, b), ("RENAMENX", a, b), ("COPY", a, b, "REPLACE"), ("COPY", a, b), ("SMOVE", a, b, "m"),
        ("LMOVE", a, b, "LEFT", "RIGHT"), ("RPOPLPUSH", a, a), ("SINTERSTORE", d, a, b), ("SUNIONSTORE", d, a, b),
        ("SDIFFSTORE", d, a, b), ("ZUNIONSTORE", d, "2", a, b), ("ZINTERSTORE", d, "2", a, b), ("ZDIFFSTORE", d, "2", a, b),
        ("ZRANGESTORE", d, a, "0", "-1"), ("SORT", a, "ALPHA", "STORE", d), ("PFMERGE", d, a, b), ("PFCOUNT", a, b),
        ("BITOP", "OR", d, a, b), ("GEOSEARCHSTORE", d, a, "FROMLONLAT", "13", "38", "BYRADIUS", "500", "km"),
        ("XREAD", "STREAMS", a, b, "0", "0"), ("MSETNX", a, "1", b, "2"), ("MGET", a, b, d), ("DEL", a, b),
        ("EXISTS", a, b, d), ("LMPOP", "2", a, b, "LEFT"), ("ZMPOP", "2", a, b, "MIN"), ("SINTERCARD", "2", a, b),
        ("LCS", a, b), ("MOVE", a, "1"), ("UNLINK", a, d), ("TOUCH", a, b), ("SUNION", a, b), ("ZUNION", "2", a, b),
        ("GETDEL", a), ("SETRANGE", a, "2", "x"), ("APPEND", a, "x"), ("LPOS", a, "a"), ("HGETALL", a),
        ("XADD", a, "*", "g", "1"), ("XGROUP", "CREATE", a, "g", "0", "MKSTREAM"), ("OBJECT", "ENCODING", a),
        ("BLMOVE", a, b, "LEFT", "LEFT", "0.001"), ("BZPOPMIN", a, b, "0.001"), ("SORT", a, "BY", "nosort"),
    ])


def test_multikey_commands_while_keys_expire():
    print(f"LARDER_EXPIRY_SEED={SEED}")
    rng = random.Random(SEED)
    s = start_larder("--shards-per-database", "1", "--hz", "1")
    try:
        r = s.client()
        for _ in range(ROUNDS):
            pipe = r.pipeline(transaction=False)
            for k in KEYS:
                pipe.execute_command(*rng.choice(BUILDERS)(k))
                if rng.random() < 0.7:
                    pipe.pexpire(k, rng.choice([1, 1, 2, 3]))
            pipe.execute(raise_on_error=False)
            time.sleep(rng.choice([0, 0.001, 0.002, 0.003]))
            pipe = r.pipeline(transaction=False)
            for _ in range(12):
                pipe.execute_command(*commands(rng))
            for reply in pipe.execute(raise_on_error=False):
                if isinstance(reply, redis.ResponseError):
                    msg = str(reply)
                    assert msg.startswith(EXPECTED_ERRORS) or "Operation against" in msg, msg
            r.flushall()
        assert r.ping()
    finally:
        s.stop()
    assert s.proc.returncode in (0, -15), f"larder exited with {s.proc.returncode}"
