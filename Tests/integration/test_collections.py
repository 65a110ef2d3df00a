"""Hashes, lists, sets, sorted sets and SORT against redis-server."""
import pytest

HASH = [
    ("HSET", "h", "f1", "v1", "f2", "v2"), ("HSET", "h", "f1", "new"), ("HSET", "h", "f"), ("HMSET", "h", "a", "1"),
    ("HGET", "h", "f1"), ("HGET", "h", "nope"), ("HGET", "nokey", "f"), ("HMGET", "h", "f1", "nope", "a"), ("HMGET", "nokey", "a"),
    ("HSETNX", "h", "f1", "x"), ("HSETNX", "h", "f3", "x"), ("HLEN", "h"), ("HLEN", "nokey"), ("HSTRLEN", "h", "f1"),
    ("HEXISTS", "h", "f1"), ("HEXISTS", "h", "zz"), ("HKEYS", "h"), ("HVALS", "h"), ("HGETALL", "h"), ("HGETALL", "nokey"),
    ("HDEL", "h", "f2", "nope"), ("HGETALL", "h"), ("HINCRBY", "h", "a", "5"), ("HINCRBY", "h", "f1", "1"), ("HINCRBY", "h", "a", "x"),
    ("HINCRBY", "h", "big", "9223372036854775807"), ("HINCRBY", "h", "big", "1"), ("HINCRBYFLOAT", "h", "fl", "0.1"),
    ("HINCRBYFLOAT", "h", "fl", "1e2"), ("HINCRBYFLOAT", "h", "f1", "1"), ("HINCRBYFLOAT", "h", "fl", "x"),
    ("HINCRBY", "newh", "a", "x"), ("EXISTS", "newh"), ("HINCRBYFLOAT", "newh", "a", "inf"), ("EXISTS", "newh"),
    ("SET", "str", "x"), ("HGET", "str", "f"), ("HSET", "str", "f", "v"), ("HLEN", "str"),
    ("OBJECT", "ENCODING", "h"), ("HSET", "h", "long", "x" * 65), ("OBJECT", "ENCODING", "h"),
    ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "3"), ("HRANDFIELD", "h", "0"), ("HRANDFIELD", "h", "x"),
    ("HRANDFIELD", "h", "1", "FOO"), ("HDEL", "h", "f1", "f3", "a", "fl", "big", "long"), ("EXISTS", "h"),
    ("HSCAN", "nokey", "0"), ("HSET", "small", "a", "1", "b", "2"), ("HSCAN", "small", "0"), ("HSCAN", "small", "0", "MATCH", "a*"),
    ("HSCAN", "small", "0", "COUNT", "0"), ("HSCAN", "small", "x"), ("HSCAN", "nokey", "0", "BAD"),
]

LIST = [
    ("RPUSH", "l", "a", "b", "c"), ("LPUSH", "l", "z"), ("LPUSHX", "nokey", "a"), ("RPUSHX", "l", "d"), ("LLEN", "l"),
    ("LRANGE", "l", "0", "-1"), ("LRANGE", "l", "-2", "-1"), ("LRANGE", "l", "5", "10"), ("LRANGE", "l", "2", "1"),
    ("LRANGE", "l", "-100", "100"), ("LRANGE", "nokey", "0", "-1"), ("LRANGE", "l", "a", "1"),
    ("LINDEX", "l", "0"), ("LINDEX", "l", "-1"), ("LINDEX", "l", "99"), ("LINDEX", "nokey", "0"),
    ("LSET", "l", "1", "A"), ("LSET", "l", "99", "x"), ("LSET", "nokey", "0", "x"), ("LSET", "l", "-1", "D"),
    ("LINSERT", "l", "BEFORE", "A", "pre"), ("LINSERT", "l", "AFTER", "D", "post"), ("LINSERT", "l", "AFTER", "none", "x"),
    ("LINSERT", "nokey", "AFTER", "a", "x"), ("LINSERT", "l", "MIDDLE", "a", "x"), ("LRANGE", "l", "0", "-1"),
    ("RPUSH", "r", "x", "y", "x", "z", "x"), ("LREM", "r", "1", "x"), ("LREM", "r", "-1", "x"), ("LRANGE", "r", "0", "-1"),
    ("LREM", "r", "0", "x"), ("LREM", "r", "0", "nope"), ("LREM", "nokey", "0", "x"),
    ("RPUSH", "t", "1", "2", "3", "4", "5"), ("LTRIM", "t", "1", "-2"), ("LRANGE", "t", "0", "-1"), ("LTRIM", "t", "5", "1"), ("EXISTS", "t"),
    ("RPUSH", "p", "a", "b", "c", "b", "a", "b"), ("LPOS", "p", "b"), ("LPOS", "p", "b", "RANK", "2"), ("LPOS", "p", "b", "RANK", "-1"),
    ("LPOS", "p", "b", "COUNT", "0"), ("LPOS", "p", "b", "COUNT", "2", "RANK", "-1"), ("LPOS", "p", "b", "MAXLEN", "2"),
    ("LPOS", "p", "b", "RANK", "0"), ("LPOS", "p", "b", "COUNT", "-1"), ("LPOS", "p", "b", "MAXLEN", "-1"), ("LPOS", "p", "x"),
    ("LPOS", "p", "x", "COUNT", "1"), ("LPOS", "nokey", "x"), ("LPOS", "nokey", "x", "COUNT", "1"), ("LPOS", "p", "b", "FOO"),
    ("LPOS", "p", "b", "RANK", "-9223372036854775808"),
    ("LPOP", "p"), ("RPOP", "p"), ("LPOP", "p", "2"), ("RPOP", "p", "0"), ("LPOP", "p", "-1"), ("LPOP", "nokey"), ("LPOP", "nokey", "2"),
    ("RPOP", "p", "100"), ("EXISTS", "p"), ("LPOP", "p", "1", "2"),
    ("RPUSH", "m1", "a", "b"), ("LMOVE", "m1", "m2", "LEFT", "RIGHT"), ("LMOVE", "m1", "m2", "RIGHT", "LEFT"), ("LMOVE", "m1", "m2", "UP", "LEFT"),
    ("LRANGE", "m2", "0", "-1"), ("EXISTS", "m1"), ("LMOVE", "m2", "m2", "LEFT", "RIGHT"), ("LRANGE", "m2", "0", "-1"),
    ("RPOPLPUSH", "m2", "m3"), ("RPOPLPUSH", "nokey", "m3"), ("LMOVE", "m2", "str", "LEFT", "LEFT"), ("LRANGE", "m2", "0", "-1"),
    ("LMPOP", "2", "nokey", "m3", "LEFT"), ("LMPOP", "1", "nokey", "LEFT"), ("LMPOP", "0", "a", "LEFT"), ("LMPOP", "2", "a", "LEFT"),
    ("LMPOP", "1", "a", "UP"), ("LMPOP", "1", "a", "LEFT", "COUNT", "0"), ("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"),
    ("RPUSH", "mp", "1", "2", "3"), ("LMPOP", "1", "mp", "RIGHT", "COUNT", "2"), ("LMPOP", "1", "mp", "RIGHT", "COUNT", "5"),
    ("LPUSH", "str", "x"), ("LLEN", "str"), ("LMPOP", "1", "str", "LEFT"), ("OBJECT", "ENCODING", "l"),
    ("BLPOP", "nokey", "str", "0.01"), ("BLPOP", "l", "0"), ("BRPOP", "l", "0"), ("BLPOP", "l", "-1"), ("BLPOP", "l", "x"),
    ("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "2"), ("BLMOVE", "l", "l2", "LEFT", "LEFT", "0"),
]

SET = [
    ("SADD", "s", "1", "2", "3", "2"), ("SADD", "s", "x"), ("SCARD", "s"), ("SISMEMBER", "s", "1"), ("SISMEMBER", "s", "9"),
    ("SMISMEMBER", "s", "1", "9", "x"), ("SREM", "s", "1", "9"), ("SCARD", "nokey"), ("SISMEMBER", "nokey", "a"),
    ("SADD", "i", "5", "3", "-1", "100"), ("SMEMBERS", "i"), ("OBJECT", "ENCODING", "i"), ("OBJECT", "ENCODING", "s"),
    ("SADD", "i", "007"), ("OBJECT", "ENCODING", "i"), ("SMEMBERS", "nokey"),
    ("SADD", "a", "1", "2", "3", "4"), ("SADD", "b", "3", "4", "5"), ("SADD", "c", "4", "x"),
    ("SINTERCARD", "2", "a", "b"), ("SINTERCARD", "3", "a", "b", "c"), ("SINTERCARD", "2", "a", "b", "LIMIT", "1"),
    ("SINTERCARD", "0", "a"), ("SINTERCARD", "3", "a"), ("SINTERCARD", "1", "a", "LIMIT", "-1"), ("SINTERCARD", "1", "a", "LIMIT", "x"),
    ("SINTERCARD", "1", "a", "LIMIT", "9223372036854775808"), ("SINTERCARD", "1", "a", "FOO"),
    ("SINTERSTORE", "dst", "a", "b"), ("SMEMBERS", "dst"), ("SUNIONSTORE", "dst", "a", "b"), ("SCARD", "dst"),
    ("SDIFFSTORE", "dst", "a", "b", "c"), ("SMEMBERS", "dst"), ("SINTERSTORE", "dst", "a", "nokey"), ("EXISTS", "dst"),
    ("SINTER", "a", "nokey"), ("SDIFF", "nokey", "a"), ("SET", "str", "v"), ("SINTER", "a", "str"), ("SUNION", "str"),
    ("SMOVE", "a", "b", "1"), ("SMOVE", "a", "b", "1"), ("SMOVE", "nokey", "b", "1"), ("SMOVE", "a", "str", "2"),
    ("SMOVE", "a", "a", "2"), ("SMOVE", "a", "a", "99"), ("SMOVE", "a", "new", "2"), ("SMEMBERS", "new"),
    ("SPOP", "nokey"), ("SPOP", "nokey", "2"), ("SPOP", "a", "0"), ("SPOP", "a", "-1"), ("SPOP", "c", "10"), ("EXISTS", "c"),
    ("SRANDMEMBER", "nokey"), ("SRANDMEMBER", "nokey", "5"), ("SRANDMEMBER", "b", "0"), ("SRANDMEMBER", "b", "x"),
    ("SSCAN", "i", "0"), ("SSCAN", "i", "0", "MATCH", "1*"), ("SSCAN", "nokey", "0"), ("SADD", "str", "x"),
]

ZSET = [
    # Negative zero: a small (listpack) sorted set stores it as 0, as Redis's listpack stores an
    # integral score as an integer; ZINCRBY's reply is the computed -0 all the same.
    ("ZADD", "nz", "-0", "a", "-0.0", "b", "0", "c", "000012", "d"), ("ZRANGE", "nz", "0", "-1", "WITHSCORES"),
    ("ZSCORE", "nz", "a"), ("ZINCRBY", "nz", "-0", "e"), ("ZSCORE", "nz", "e"), ("ZADD", "nz", "INCR", "-0", "f"),
    ("ZMSCORE", "nz", "a", "b", "e", "f"),
    ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "1.5", "a"), ("ZADD", "z", "CH", "1", "a", "9", "new"),
    ("ZADD", "z", "NX", "100", "a"), ("ZADD", "z", "XX", "100", "nope"), ("ZADD", "z", "XX", "CH", "5", "a"),
    ("ZADD", "z", "GT", "CH", "1", "a"), ("ZADD", "z", "LT", "CH", "1", "a"), ("ZADD", "z", "INCR", "2", "a"),
    ("ZADD", "z", "INCR", "NX", "2", "a"), ("ZADD", "z", "NX", "XX", "1", "a"), ("ZADD", "z", "GT", "LT", "1", "a"),
    ("ZADD", "z", "INCR", "1", "a", "2", "b"), ("ZADD", "z", "1", "a", "2"), ("ZADD", "z", "x", "a"), ("ZADD", "z"),
    ("ZADD", "z", "inf", "top", "-inf", "bottom"), ("ZADD", "z", "INCR", "-inf", "top"), ("ZADD", "nokey", "XX", "1", "a"),
    ("ZADD", "nokey", "XX", "INCR", "1", "a"), ("ZADD", "z", "1.1", "frac", "0.30000000000000004", "tiny"),
    ("ZADD", "z", "5", "p", "bad", "q"), ("ZSCORE", "z", "p"), ("ZADD", "z", "+5", "plus", ".5", "dot", "-.5", "neg"),
    ("ZCARD", "z"), ("ZSCORE", "z", "a"), ("ZSCORE", "z", "frac"), ("ZSCORE", "z", "top"), ("ZSCORE", "z", "nope"),
    ("ZMSCORE", "z", "a", "nope", "tiny"), ("ZINCRBY", "z", "1.5", "b"), ("ZINCRBY", "z", "x", "b"), ("ZINCRBY", "znew", "1", "m"),
    ("ZRANK", "z", "a"), ("ZREVRANK", "z", "a"), ("ZRANK", "z", "nope"), ("ZRANK", "nokey", "a"),
    ("ZRANGE", "z", "0", "-1"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZRANGE", "z", "1", "2", "REV", "WITHSCORES"),
    ("ZRANGE", "z", "-3", "-1"), ("ZRANGE", "z", "5", "1"), ("ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"),
    ("ZRANGE", "z", "(1", "5", "BYSCORE"), ("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "WITHSCORES"),
    ("ZRANGE", "z", "5", "(1", "BYSCORE", "REV"), ("ZRANGE", "z", "0", "10", "BYSCORE", "LIMIT", "1", "2"),
    ("ZRANGE", "z", "0", "10", "BYSCORE", "LIMIT", "-1", "2"), ("ZRANGE", "z", "0", "10", "BYSCORE", "LIMIT", "1", "-1"),
    ("ZRANGE", "z", "x", "10", "BYSCORE"), ("ZRANGE", "z", "[a", "[z", "BYLEX"), ("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"),
    ("ZRANGE", "z", "a", "b", "BYLEX"), ("ZRANGE", "z", "0", "-1", "FOO"), ("ZRANGE", "nokey", "0", "-1"),
    ("ZREVRANGE", "z", "0", "2", "WITHSCORES"), ("ZRANGEBYSCORE", "z", "1", "3"), ("ZRANGEBYSCORE", "z", "(1", "(3", "WITHSCORES"),
    ("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", "2", "3"), ("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES", "LIMIT", "0", "2"),
    ("ZRANGEBYSCORE", "z", "1", "3", "REV"), ("ZCOUNT", "z", "-inf", "+inf"), ("ZCOUNT", "z", "(1", "3"), ("ZCOUNT", "z", "a", "3"),
    ("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"), ("ZRANGEBYLEX", "lex", "[b", "(d"),
    ("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", "1", "2"), ("ZREVRANGEBYLEX", "lex", "+", "[c"), ("ZLEXCOUNT", "lex", "[b", "+"),
    ("ZLEXCOUNT", "lex", "b", "+"), ("ZRANGEBYLEX", "lex", "+", "-"), ("ZRANGEBYLEX", "lex", "[b", "[d", "WITHSCORES"),
    ("ZRANGESTORE", "dst", "z", "0", "1"), ("ZRANGE", "dst", "0", "-1", "WITHSCORES"), ("ZRANGESTORE", "dst", "z", "5", "1"),
    ("EXISTS", "dst"), ("ZRANGESTORE", "dst", "lex", "[a", "[b", "BYLEX"), ("ZRANGESTORE", "dst", "z", "0", "1", "WITHSCORES"),
    ("ZREMRANGEBYLEX", "lex", "[a", "[b"), ("ZREMRANGEBYRANK", "lex", "0", "0"), ("ZRANGE", "lex", "0", "-1"),
    ("ZREMRANGEBYSCORE", "z", "-inf", "(1"), ("ZREMRANGEBYRANK", "z", "-1", "-1"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    ("ZREMRANGEBYSCORE", "z", "x", "1"), ("ZREMRANGEBYLEX", "z", "x", "y"),
    ("ZPOPMIN", "z"), ("ZPOPMAX", "z", "2"), ("ZPOPMIN", "z", "0"), ("ZPOPMIN", "z", "-1"), ("ZPOPMIN", "nokey"), ("ZPOPMAX", "nokey", "1"),
    ("ZREM", "z", "b", "nope"), ("ZCARD", "z"),
    ("ZMPOP", "1", "z", "MIN"), ("ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "10"), ("ZMPOP", "1", "nokey", "MIN"), ("ZMPOP", "0", "z", "MIN"),
    ("ZMPOP", "1", "z", "MID"), ("ZMPOP", "1", "z", "MIN", "COUNT", "0"),
    ("ZADD", "u1", "1", "a", "2", "b", "3", "c"), ("ZADD", "u2", "10", "b", "20", "c", "30", "d"), ("SADD", "us", "a", "d", "e"),
    ("ZUNION", "2", "u1", "u2", "WITHSCORES"), ("ZUNION", "2", "u1", "u2", "WEIGHTS", "2", "0.5", "WITHSCORES"),
    ("ZUNION", "3", "u1", "u2", "us", "AGGREGATE", "MAX", "WITHSCORES"), ("ZINTER", "2", "u1", "u2", "AGGREGATE", "MIN", "WITHSCORES"),
    ("ZINTER", "2", "u1", "us", "WITHSCORES"), ("ZDIFF", "2", "u1", "u2", "WITHSCORES"), ("ZDIFF", "1", "u1"),
    ("ZUNIONSTORE", "out", "2", "u1", "u2"), ("ZRANGE", "out", "0", "-1", "WITHSCORES"), ("ZINTERSTORE", "out", "2", "u1", "nokey"),
    ("EXISTS", "out"), ("ZDIFFSTORE", "out", "2", "u2", "u1"), ("ZRANGE", "out", "0", "-1", "WITHSCORES"),
    ("ZINTERCARD", "2", "u1", "u2"), ("ZINTERCARD", "2", "u1", "u2", "LIMIT", "1"), ("ZINTERCARD", "0", "u1"),
    ("ZUNION", "0", "u1"), ("ZUNION", "3", "u1"), ("ZUNION", "2", "u1", "u2", "WEIGHTS", "1"), ("ZUNION", "2", "u1", "u2", "WEIGHTS", "1", "x"),
    ("ZUNION", "2", "u1", "u2", "AGGREGATE", "AVG"), ("ZDIFF", "2", "u1", "u2", "WEIGHTS", "1", "2"), ("ZUNION", "1", "str"),
    ("ZUNIONSTORE", "out", "2", "u1", "u2", "WITHSCORES"), ("ZINTERCARD", "1", "u1", "LIMIT", "-1"),
    ("ZINTERCARD", "1", "u1", "LIMIT", "x"), ("ZINTERCARD", "2", "u1", "u2", "LIMIT", "9223372036854775808"),
    ("ZADD", "infs", "inf", "a", "-inf", "b"), ("ZUNION", "2", "infs", "infs", "WEIGHTS", "1", "-1", "WITHSCORES"),
    ("ZUNION", "1", "infs", "WEIGHTS", "0", "WITHSCORES"),
    ("ZRANDMEMBER", "nokey"), ("ZRANDMEMBER", "nokey", "2"), ("ZRANDMEMBER", "u1", "0"), ("ZRANDMEMBER", "u1", "x"),
    ("ZRANDMEMBER", "u1", "1", "FOO"), ("ZSCAN", "u1", "0"), ("ZSCAN", "nokey", "0"),
    ("OBJECT", "ENCODING", "u1"), ("ZADD", "u1", "1", "m" * 70), ("OBJECT", "ENCODING", "u1"), ("ZRANGE", "u1", "0", "-1", "WITHSCORES"),
    ("ZADD", "str", "1", "a"), ("ZSCORE", "str", "a"), ("BZPOPMIN", "u2", "0"), ("BZPOPMAX", "nokey", "u2", "0"), ("BZPOPMIN", "u2", "-1"),
    ("BZMPOP", "0", "1", "u2", "MAX", "COUNT", "5"),
]

SORT = [
    ("RPUSH", "nums", "3", "1", "2", "10"), ("SORT", "nums"), ("SORT", "nums", "DESC"), ("SORT", "nums", "ALPHA"),
    ("SORT", "nums", "LIMIT", "1", "2"), ("SORT", "nums", "LIMIT", "-1", "2"), ("SORT", "nums", "LIMIT", "10", "2"),
    ("RPUSH", "words", "b", "a", "c"), ("SORT", "words"), ("SORT", "words", "ALPHA", "DESC"), ("SORT_RO", "words", "ALPHA"),
    ("MSET", "w_1", "30", "w_2", "10", "w_3", "20", "w_10", "5"), ("SORT", "nums", "BY", "w_*"),
    ("HSET", "o_1", "name", "one"), ("HSET", "o_2", "name", "two"), ("SORT", "nums", "GET", "o_*->name", "GET", "#"),
    ("SORT", "nums", "BY", "nosort", "GET", "#"), ("SORT", "nums", "STORE", "sorted"), ("LRANGE", "sorted", "0", "-1"),
    ("SORT", "nums", "BY", "w_*", "GET", "w_*", "STORE", "sorted2"), ("LRANGE", "sorted2", "0", "-1"),
    ("SADD", "sset", "5", "1", "3"), ("SORT", "sset"), ("ZADD", "zs", "1", "x", "2", "y"), ("SORT", "zs", "ALPHA", "DESC"),
    ("SORT", "words", "FOO"), ("SORT_RO", "words", "STORE", "x"), ("SET", "str", "1"), ("SORT", "str"), ("SORT", "nokey"),
    ("SORT", "sset", "BY", "nosort", "STORE", "ss"), ("LRANGE", "ss", "0", "-1"),
    # BY nosort keeps a list's or a sorted set's order; DESC walks it backwards, LIMIT from there.
    ("ZADD", "zz", "3", "c", "1", "a", "2", "b", "4", "d"), ("SORT", "zz", "BY", "nosort"),
    ("SORT", "zz", "BY", "nosort", "DESC"), ("SORT", "zz", "BY", "nosort", "LIMIT", "1", "2"),
    ("SORT", "zz", "BY", "nosort", "DESC", "LIMIT", "1", "2"), ("SORT", "zz", "BY", "nosort", "DESC", "LIMIT", "3", "5"),
    ("SORT", "zz", "BY", "nosort", "DESC", "STORE", "zdst"), ("LRANGE", "zdst", "0", "-1"),
    ("SORT", "nums", "BY", "nosort", "DESC"), ("SORT", "nums", "BY", "nosort", "DESC", "LIMIT", "0", "3"),
    ("SORT", "nums", "BY", "nosort", "ALPHA", "DESC", "GET", "#"),
]


@pytest.mark.parametrize("name,cases", [("hash", HASH), ("list", LIST), ("set", SET), ("zset", ZSET), ("sort", SORT)])
def test_collection_commands_match_redis(diff, name, cases):
    unordered = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "SSCAN", "SPOP", "SRANDMEMBER"}
    for cmd in cases:
        diff.check(*cmd, unordered=cmd[0] in unordered)


@pytest.mark.parametrize("resp", [2, 3])
def test_reply_shapes_resp3(larder, oracle, resp):
    from differential import Differ
    d = Differ(larder.port, oracle.port)
    d.check("HELLO", str(resp)) if False else d.both("HELLO", str(resp))
    d.both("FLUSHALL")
    for cmd in [("HSET", "h", "a", "1", "b", "2"), ("ZADD", "z", "1", "a", "2.5", "b"), ("SADD", "s", "1", "2")]:
        d.both(*cmd)
    for cmd in [("HGETALL", "h"), ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZSCORE", "z", "b"), ("ZPOPMIN", "z", "1"),
                ("ZADD", "z", "1", "a"), ("ZRANDMEMBER", "z", "0", "WITHSCORES"), ("SMEMBERS", "s"), ("ZMPOP", "1", "z", "MIN"),
                ("HRANDFIELD", "h", "-1") if False else ("HLEN", "h"), ("SPOP", "s", "0"), ("ZINCRBY", "z", "1", "q"),
                ("ZPOPMAX", "z"), ("ZADD", "z", "INCR", "1", "zz"), ("ZMSCORE", "z", "zz", "no")]:
        d.check(*cmd)


def test_encodings_convert_at_thresholds(r):
    # redis-server's built-in defaults (not redis.conf's): 512 hash entries, 128 zset entries.
    r.hset("h", mapping={f"f{i}": i for i in range(512)})
    assert r.object("encoding", "h") == b"listpack"
    r.hset("h", "one-more", 1)
    assert r.object("encoding", "h") == b"hashtable"
    r.sadd("s", *range(512))
    assert r.object("encoding", "s") == b"intset"
    r.sadd("s", 512)
    assert r.object("encoding", "s") == b"hashtable"
    r.zadd("z", {f"m{i}": i for i in range(128)})
    assert r.object("encoding", "z") == b"listpack"
    r.zadd("z", {"extra": 1})
    assert r.object("encoding", "z") == b"skiplist"
    r.config_set("zset-max-listpack-entries", "4")
    r.zadd("z2", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert r.object("encoding", "z2") == b"skiplist"
    r.config_set("zset-max-listpack-entries", "128")
    r.rpush("l", "x")
    assert r.object("encoding", "l") == b"quicklist"


def test_large_sorted_set_rank_and_ranges(r, diff):
    import random
    rng = random.Random(7)
    members = {f"m{i}": rng.randrange(-1000, 1000) / 4 for i in range(3000)}
    for d in (diff.larder, diff.redis):
        for chunk in range(0, 3000, 500):
            items = list(members.items())[chunk:chunk + 500]
            args = ["ZADD", "big"]
            for m, s in items:
                args += [str(s), m]
            d.call(*args)
    for cmd in [("ZRANK", "big", "m17"), ("ZREVRANK", "big", "m2999"), ("ZRANGE", "big", "100", "120", "WITHSCORES"),
                ("ZRANGE", "big", "-5", "-1", "REV"), ("ZRANGEBYSCORE", "big", "-10", "10", "WITHSCORES", "LIMIT", "3", "7"),
                ("ZCOUNT", "big", "(0", "+inf"), ("ZREMRANGEBYSCORE", "big", "100", "200"), ("ZCARD", "big"),
                ("ZREMRANGEBYRANK", "big", "0", "99"), ("ZRANGE", "big", "0", "9", "WITHSCORES"), ("ZPOPMAX", "big", "3"),
                ("OBJECT", "ENCODING", "big")]:
        diff.check(*cmd)
    # The skiplist form keeps -0 (Redis's stores the double); one added while small does not.
    for d in (diff.larder, diff.redis):
        d.call("ZADD", "nz", "-0", "small")
        d.call("ZADD", "nz", *[x for i in range(200) for x in (str(i + 1), f"n{i}")])
        d.call("ZADD", "nz", "-0", "large")
    for cmd in [("OBJECT", "ENCODING", "nz"), ("ZSCORE", "nz", "small"), ("ZSCORE", "nz", "large"),
                ("ZRANGE", "nz", "0", "1", "WITHSCORES"), ("ZINCRBY", "nz", "-0", "small")]:
        diff.check(*cmd)
    # Lex ranges over a large set of equal scores (they search by member across many blocks).
    for d in (diff.larder, diff.redis):
        d.call("ZADD", "lex", *[x for i in range(1500) for x in ("0", f"w{i:05d}")])
    for cmd in [("ZRANGEBYLEX", "lex", "[w00700", "(w00720"), ("ZLEXCOUNT", "lex", "(w00100", "[w01400"),
                ("ZRANGEBYLEX", "lex", "-", "(w00003"), ("ZRANGEBYLEX", "lex", "(w01497", "+"),
                ("ZREMRANGEBYLEX", "lex", "[w00200", "[w00899"), ("ZLEXCOUNT", "lex", "-", "+"),
                ("ZRANK", "lex", "w01000"), ("ZRANGE", "lex", "195", "205")]:
        diff.check(*cmd)


def test_random_member_count_semantics(r):
    r.sadd("s", *range(10))
    assert len(set(r.srandmember("s", 5))) == 5
    assert len(r.srandmember("s", 20)) == 10
    assert len(r.srandmember("s", -20)) == 20
    popped = r.spop("s", 3)
    assert len(popped) == 3 and r.scard("s") == 7
    r.hset("h", mapping={str(i): i for i in range(10)})
    assert len(set(r.hrandfield("h", 4))) == 4
    assert len(r.hrandfield("h", -15)) == 15
    pairs = r.hrandfield("h", 3, withvalues=True)
    assert len(pairs) == 6
    r.zadd("z", {str(i): i for i in range(10)})
    assert len(r.zrandmember("z", -12)) == 12
    assert len(set(r.zrandmember("z", 12))) == 10


def test_big_collections_scan_completely(r):
    r.hset("bh", mapping={f"f{i}": i for i in range(1000)})
    r.sadd("bs", *[f"m{i}" for i in range(1000)])
    r.zadd("bz", {f"m{i}": i for i in range(1000)})
    assert len(dict(r.hscan_iter("bh"))) == 1000
    assert len(set(r.sscan_iter("bs"))) == 1000
    assert len(dict(r.zscan_iter("bz"))) == 1000
    assert len(dict(r.hscan_iter("bh", match="f1*"))) == 111
