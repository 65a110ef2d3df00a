"""Random command sequences sent to Larder and redis-server; every reply must agree."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = st.sampled_from(["k0", "k1", "k2", "{t}a", "{t}b"])
VALUES = st.one_of(
    st.sampled_from(["", "0", "1", "-1", "10", "007", "3.14", "-0", "1e3", "9223372036854775807",
                     "-9223372036854775808", "abc", "hello world", " 1", "inf", "x" * 50]),
    st.integers(min_value=-10**6, max_value=10**6).map(str),
    st.binary(max_size=12),
)
INTS = st.one_of(st.integers(min_value=-20, max_value=20).map(str), st.sampled_from(["x", "", "9223372036854775807", "-9223372036854775808", "1.5"]))
TTLS = st.sampled_from(["100", "1000", "0", "-5", "x", "99999999999"])

COMMANDS = st.one_of(
    st.tuples(st.just("GET"), KEYS),
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.builds(lambda k, v, opts: ("SET", k, v, *opts), KEYS, VALUES,
              st.lists(st.sampled_from(["NX", "XX", "GET", "KEEPTTL", "EX", "100", "PX", "PERSIST"]), max_size=3)),
    st.tuples(st.just("SETNX"), KEYS, VALUES),
    st.tuples(st.just("SETEX"), KEYS, TTLS, VALUES),
    st.tuples(st.just("GETSET"), KEYS, VALUES),
    st.tuples(st.just("GETDEL"), KEYS),
    st.builds(lambda k, o: ("GETEX", k, *o), KEYS, st.sampled_from([(), ("EX", "100"), ("PERSIST",), ("PX",), ("EX", "0")])),
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
    st.builds(lambda c, k, t, o: (c, k, t, *o), st.sampled_from(["EXPIRE", "PEXPIRE"]), KEYS, TTLS,
              st.sampled_from([(), ("NX",), ("XX",), ("GT",), ("LT",), ("NX", "GT")])),
    st.tuples(st.just("TTL"), KEYS),
    st.tuples(st.just("PERSIST"), KEYS),
    st.tuples(st.just("RENAME"), KEYS, KEYS),
    st.tuples(st.just("RENAMENX"), KEYS, KEYS),
    st.tuples(st.just("COPY"), KEYS, KEYS),
    st.tuples(st.just("OBJECT"), st.just("ENCODING"), KEYS),
    st.tuples(st.just("DBSIZE")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COMMANDS, min_size=1, max_size=25))
def test_random_string_and_key_sequences(diff, commands):
    diff.both("FLUSHALL")
    for cmd in commands:
        diff.check(*cmd)
    diff.check("KEYS", "*", unordered=True)
