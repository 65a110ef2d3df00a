"""Random command sequences sent to Larder and redis-server; every reply must agree."""
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# More examples for a longer local run: LARDER_EXAMPLES=2000 scripts/test.sh -k differential
EXAMPLES = int(os.environ.get("LARDER_EXAMPLES", "150"))

KEYS = st.sampled_from(["k0", "k1", "k2", "{t}a", "{t}b"])
VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "10", "007", "3.14", "-0", "1e3", "9223372036854775807",
                     "-9223372036854775808", "abc", "hello world", " 1", "inf", "x" * 50]),
    st.integers(min_value=-10**6, max_value=10**6).map(str),
    st.binary(max_size=12),
)
INTS = st.one_of(st.integers(min_value=-20, max_value=20).map(str), st.sampled_from(["x", "", "9223372036854775807", "-9223372036854775808", "1.5"]))
# Expiry times long enough that no key expires between the two servers' runs of a command:
# a key expiring mid-sequence would make the comparison depend on timing.
TTLS = st.sampled_from(["100000", "1000000", "0", "-5", "x", "99999999999"])
# EXPIRE's, never equal to SETEX's: with GT / LT an equal TTL compares two absolute times a
# millisecond apart or not, depending on when the clock ticked between the commands.
EXPIRE_TTLS = st.sampled_from(["100001", "1000001", "0", "-5", "x", "99999999998"])

COMMANDS = st.one_of(
    st.tuples(st.just("GET"), KEYS),
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.builds(lambda k, v, opts: ("SET", k, v, *opts), KEYS, VALUES,
              st.lists(st.sampled_from(["NX", "XX", "GET", "KEEPTTL", "EX", "100000", "PX", "PERSIST"]), max_size=3)),
    st.tuples(st.just("SETNX"), KEYS, VALUES),
    st.tuples(st.just("SETEX"), KEYS, TTLS, VALUES),
    st.tuples(st.just("GETSET"), KEYS, VALUES),
    st.tuples(st.just("GETDEL"), KEYS),
    st.builds(lambda k, o: ("GETEX", k, *o), KEYS, st.sampled_from([(), ("EX", "100000"), ("PERSIST",), ("PX",), ("EX", "0")])),
    st.tuples(st.just("APPEND"), KEYS, VALUES),
    st.tuples(st.just("STRLEN"), KEYS),
    st.tuples(st.just("INCR"), KEYS),
    st.tuples(st.just("DECR"), KEYS),
    st.tuples(st.just("INCRBY"), KEYS, INTS),
    st.tuples(st.just("DECRBY"), KEYS, INTS),
    st.tuples(st.just("INCRBYFLOAT"), KEYS, st.sampled_from(["0.1", "-2.5", "1e2", "x", "3", "-0.0000001"])),
    st.tuples(st.just("GETRANGE"), KEYS, INTS, INTS),
    st.tuples(st.just("SETRANGE"), KEYS, st.integers(min_value=-1, max_value=20).map(str), VALUES),
    st.tuples(st.just("MGET"), KEYS, KEYS, KEYS),
    st.tuples(st.just("MSET"), KEYS, VALUES, KEYS, VALUES),
    st.tuples(st.just("MSETNX"), KEYS, VALUES, KEYS, VALUES),
    st.tuples(st.just("LCS"), KEYS, KEYS),
    st.tuples(st.just("DEL"), KEYS, KEYS),
    st.tuples(st.just("EXISTS"), KEYS, KEYS),
    st.tuples(st.just("TYPE"), KEYS),
    st.builds(lambda c, k, t, o: (c, k, t, *o), st.sampled_from(["EXPIRE", "PEXPIRE"]), KEYS, EXPIRE_TTLS,
              st.sampled_from([(), ("NX",), ("XX",), ("GT",), ("LT",), ("NX", "GT")])),
    st.tuples(st.just("TTL"), KEYS),
    st.tuples(st.just("PERSIST"), KEYS),
    st.tuples(st.just("RENAME"), KEYS, KEYS),
    st.tuples(st.just("RENAMENX"), KEYS, KEYS),
    st.tuples(st.just("COPY"), KEYS, KEYS),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), KEYS),
    st.tuples(st.just("DBSIZE")),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COMMANDS, min_size=1, max_size=25))
def test_random_string_and_key_sequences(diff, commands):
    diff.both("FLUSHALL")
    for cmd in commands:
        diff.check(*cmd)
    diff.check("KEYS", "*", unordered=True)


MEMBERS = st.sampled_from(["a", "b", "c", "1", "2", "10", "-5", "", "x" * 70])
SCORES = st.sampled_from(["0", "1", "-1", "2.5", "inf", "-inf", "1e3", "(1", "x", "0.1", "-0", "-0.0", "007"])
CKEYS = st.sampled_from(["c0", "c1", "c2"])
IDX = st.integers(min_value=-4, max_value=4).map(str)

COLLECTION_COMMANDS = st.one_of(
    st.builds(lambda k, ms: ("RPUSH", k, *ms), CKEYS, st.lists(MEMBERS, min_size=1, max_size=4)),
    st.builds(lambda k, ms: ("LPUSH", k, *ms), CKEYS, st.lists(MEMBERS, min_size=1, max_size=4)),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), CKEYS),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), CKEYS, st.sampled_from(["0", "1", "3"])),
    st.tuples(st.just("LRANGE"), CKEYS, IDX, IDX),
    st.tuples(st.just("LINDEX"), CKEYS, IDX),
    st.tuples(st.just("LSET"), CKEYS, IDX, MEMBERS),
    st.tuples(st.just("LREM"), CKEYS, IDX, MEMBERS),
    st.tuples(st.just("LTRIM"), CKEYS, IDX, IDX),
    st.tuples(st.just("LINSERT"), CKEYS, st.sampled_from(["BEFORE", "AFTER"]), MEMBERS, MEMBERS),
    st.tuples(st.just("LPOS"), CKEYS, MEMBERS),
    st.tuples(st.just("LMOVE"), CKEYS, CKEYS, st.sampled_from(["LEFT", "RIGHT"]), st.sampled_from(["LEFT", "RIGHT"])),
    st.builds(lambda k, ms: ("HSET", k, *[x for m in ms for x in (m, m + "v")]), CKEYS, st.lists(MEMBERS, min_size=1, max_size=3)),
    st.tuples(st.just("HDEL"), CKEYS, MEMBERS),
    st.tuples(st.just("HGET"), CKEYS, MEMBERS),
    st.tuples(st.just("HGETALL"), CKEYS),
    st.tuples(st.just("HINCRBY"), CKEYS, MEMBERS, IDX),
    st.tuples(st.just("HLEN"), CKEYS),
    st.builds(lambda k, ms: ("SADD", k, *ms), CKEYS, st.lists(MEMBERS, min_size=1, max_size=4)),
    st.tuples(st.just("SREM"), CKEYS, MEMBERS),
    st.tuples(st.just("SISMEMBER"), CKEYS, MEMBERS),
    st.tuples(st.just("SCARD"), CKEYS),
    st.tuples(st.sampled_from(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), CKEYS, CKEYS, CKEYS),
    st.tuples(st.just("SMOVE"), CKEYS, CKEYS, MEMBERS),
    st.builds(lambda k, o, ps: ("ZADD", k, *o, *[x for s, m in ps for x in (s, m)]), CKEYS,
              st.sampled_from([(), ("NX",), ("XX",), ("GT", "CH"), ("LT",), ("INCR",)]),
              st.lists(st.tuples(SCORES, MEMBERS), min_size=1, max_size=3)),
    st.tuples(st.just("ZINCRBY"), CKEYS, SCORES, MEMBERS),
    st.tuples(st.just("ZREM"), CKEYS, MEMBERS),
    st.tuples(st.just("ZRANGE"), CKEYS, IDX, IDX, st.just("WITHSCORES")),
    st.tuples(st.just("ZRANGEBYSCORE"), CKEYS, SCORES, SCORES, st.just("WITHSCORES")),
    st.tuples(st.just("ZRANK"), CKEYS, MEMBERS),
    st.tuples(st.just("ZSCORE"), CKEYS, MEMBERS),
    st.tuples(st.sampled_from(["ZPOPMIN", "ZPOPMAX"]), CKEYS, st.sampled_from(["1", "2"])),
    st.tuples(st.just("ZREMRANGEBYSCORE"), CKEYS, SCORES, SCORES),
    st.tuples(st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE"]), CKEYS, st.just("2"), CKEYS, CKEYS),
    st.tuples(st.just("ZCOUNT"), CKEYS, SCORES, SCORES),
    st.tuples(st.just("TYPE"), CKEYS),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), CKEYS),
    st.tuples(st.just("DEL"), CKEYS),
    st.tuples(st.just("SORT"), CKEYS, st.just("ALPHA")),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COLLECTION_COMMANDS, min_size=1, max_size=30))
def test_random_collection_sequences(diff, commands):
    diff.both("FLUSHALL")
    for cmd in commands:
        unordered = cmd[0] in ("SMEMBERS", "SORT") or (cmd[0] == "HGETALL")
        diff.check(*cmd, unordered=unordered)
