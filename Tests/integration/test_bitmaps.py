"""Bitmaps against redis-server: fixed edge cases and random sequences over bit ranges,
BITOP and BITFIELD with every overflow mode."""
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("LARDER_EXAMPLES", "150"))

KEYS = st.sampled_from(["b0", "b1", "b2"])
# No offset near the 512 MB limit: each would allocate half a gigabyte on both servers.
OFFSETS = st.one_of(st.integers(min_value=0, max_value=70).map(str),
                    st.sampled_from(["-1", "x", "4294967296", "1.5", "", "0100"]))
INDEXES = st.one_of(st.integers(min_value=-20, max_value=20).map(str), st.sampled_from(["x", "9223372036854775807",
                                                                                       "-9223372036854775808"]))
MODES = st.sampled_from([(), ("BYTE",), ("BIT",), ("bit",), ("BOGUS",)])
TYPES = st.one_of(st.builds(lambda s, n: f"{s}{n}", st.sampled_from(["i", "u"]), st.integers(min_value=1, max_value=64)),
                  st.sampled_from(["u64", "i65", "i0", "x8", "i", ""]))
FIELD_OFFSETS = st.one_of(st.integers(min_value=0, max_value=40).map(str),
                          st.builds(lambda n: f"#{n}", st.integers(min_value=0, max_value=5)), st.sampled_from(["-1", "#x"]))
NUMBERS = st.one_of(st.integers(min_value=-300, max_value=300).map(str),
                    st.sampled_from(["9223372036854775807", "-9223372036854775808", "x", "127", "128", "-129", "255", "256"]))
SUBCOMMANDS = st.one_of(
    st.builds(lambda t, o: ("GET", t, o), TYPES, FIELD_OFFSETS),
    st.builds(lambda t, o, v: ("SET", t, o, v), TYPES, FIELD_OFFSETS, NUMBERS),
    st.builds(lambda t, o, v: ("INCRBY", t, o, v), TYPES, FIELD_OFFSETS, NUMBERS),
    st.builds(lambda w: ("OVERFLOW", w), st.sampled_from(["WRAP", "SAT", "FAIL", "sat", "NOPE"])),
)

COMMANDS = st.one_of(
    st.tuples(st.just("SETBIT"), KEYS, OFFSETS, st.sampled_from(["0", "1", "2", "-1", "x"])),
    st.tuples(st.just("GETBIT"), KEYS, OFFSETS),
    st.builds(lambda k, r, m: ("BITCOUNT", k, *r, *m), KEYS,
              st.one_of(st.just(()), st.tuples(INDEXES, INDEXES), st.tuples(INDEXES)), MODES),
    st.builds(lambda k, b, r, m: ("BITPOS", k, b, *r, *(m if len(r) == 2 else ())), KEYS,
              st.sampled_from(["0", "1", "2", "x"]), st.one_of(st.just(()), st.tuples(INDEXES), st.tuples(INDEXES, INDEXES)), MODES),
    st.builds(lambda op, d, srcs: ("BITOP", op, d, *srcs), st.sampled_from(["AND", "OR", "XOR", "NOT", "nand"]),
              KEYS, st.lists(KEYS, min_size=1, max_size=3)),
    st.builds(lambda k, subs: ("BITFIELD", k, *[a for s in subs for a in s]), KEYS, st.lists(SUBCOMMANDS, max_size=4)),
    st.builds(lambda k, subs: ("BITFIELD_RO", k, *[a for s in subs for a in s]), KEYS, st.lists(SUBCOMMANDS, max_size=3)),
    st.tuples(st.just("SET"), KEYS, st.sampled_from(["", "a", "foobar", "12345", "-7", "\xff\x00\xf0"])),
    st.tuples(st.just("GET"), KEYS),
    st.tuples(st.just("RPUSH"), KEYS, st.just("x")),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(COMMANDS, min_size=1, max_size=25))
def test_random_bitmap_sequences(diff, commands):
    diff.both("FLUSHALL")
    for cmd in commands:
        diff.check(*cmd)
        diff.check("OBJECT", "ENCODING", cmd[1] if cmd[0] != "BITOP" else cmd[2])


def test_bitmap_edges(diff):
    cases = [
        ("SET", "s", "foobar"),
        ("BITCOUNT", "s"), ("BITCOUNT", "s", "0", "0"), ("BITCOUNT", "s", "1", "1"), ("BITCOUNT", "s", "5", "30", "BIT"),
        ("BITCOUNT", "s", "-2", "-1"), ("BITCOUNT", "s", "-1", "-2"), ("BITCOUNT", "s", "0"), ("BITCOUNT", "missing", "x", "y"),
        ("BITCOUNT", "s", "-1", "-5", "BOGUS"), ("BITCOUNT", "s", "-5", "-1", "BOGUS"),
        ("SET", "z", "\xff\xf0\x00"),
        ("BITPOS", "z", "0"), ("BITPOS", "z", "1", "2"), ("BITPOS", "z", "1", "2", "-1", "BYTE"),
        ("BITPOS", "z", "0", "7", "15", "BIT"), ("BITPOS", "z", "0", "0", "7", "BIT"), ("BITPOS", "z", "1", "12", "-1", "BIT"),
        ("BITPOS", "missing", "0"), ("BITPOS", "missing", "1"), ("BITPOS", "z", "3"),
        ("SET", "ones", "\xff\xff"), ("BITPOS", "ones", "0"), ("BITPOS", "ones", "0", "0", "-1"), ("BITPOS", "ones", "0", "0"),
        ("SETBIT", "new", "100", "1"), ("GET", "new"), ("STRLEN", "new"), ("SETBIT", "new", "100", "1"),
        ("SETBIT", "new", "4294967296", "1"), ("SETBIT", "new", "1", "2"),
        ("SET", "n", "123"), ("GETBIT", "n", "2"), ("SETBIT", "n", "1", "1"), ("GET", "n"), ("OBJECT", "ENCODING", "n"),
        ("SET", "e", "a"), ("SETBIT", "e", "0", "0"), ("OBJECT", "ENCODING", "e"),
        ("SET", "i", "7"), ("BITFIELD", "i", "SET", "u1", "0", "0"), ("OBJECT", "ENCODING", "i"),
        ("BITOP", "NOT", "dest", "s", "z"), ("BITOP", "AND", "dest", "s", "z", "missing"), ("GET", "dest"),
        ("BITOP", "OR", "dest", "missing"), ("EXISTS", "dest"),
        ("BITFIELD", "bf", "SET", "u8", "0", "255", "GET", "u8", "0", "INCRBY", "u8", "0", "1"),
        ("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "200", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "1"),
        ("BITFIELD", "bf", "SET", "i64", "#1", "-9223372036854775808", "INCRBY", "i64", "#1", "-1"),
        ("BITFIELD", "bf", "GET", "u63", "3", "GET", "i64", "1"), ("BITFIELD_RO", "bf", "SET", "u8", "0", "1"),
        ("BITFIELD", "bf"), ("BITFIELD", "missing", "GET", "u8", "0"), ("EXISTS", "missing"),
        # Found by the random sequences: a write that fails on OVERFLOW FAIL still creates
        # (or grows) the zero-filled string.
        ("BITFIELD", "failed", "OVERFLOW", "FAIL", "SET", "i1", "0", "1"), ("STRLEN", "failed"),
        ("BITFIELD", "failed", "OVERFLOW", "FAIL", "SET", "i8", "100", "1000"), ("STRLEN", "failed"),
        ("RPUSH", "list", "a"), ("BITFIELD", "list", "GET", "u8", "0"), ("SETBIT", "list", "0", "1"), ("BITCOUNT", "list"),
    ]
    for args in cases:
        diff.check(*args)
