"""SLOWLOG against redis-server 7.0: which commands are logged (every one at threshold 0,
none at -1; not EXEC; the commands a script or a transaction ran), each entry's shape, the
arguments cut as Redis cuts them (32 arguments, 128 bytes each), passwords redacted, the
client's address and name, the length limit, and the errors."""
import pytest

from differential import Differ
from resp import Conn, Reply

STEPS = [("CLIENT", "SETNAME", "slow-one"), ("SET", "k", "x" * 200), ("RPUSH", "l", *[str(i) for i in range(40)]),
         ("GET", "k"), ("AUTH", "someone", "secret"), ("HELLO", "2", "AUTH", "default", "wrong"),
         ("EVAL", "return redis.call('get', 'k')", "0"), ("MULTI",), ("SET", "m", "1"), ("INCR", "n"), ("EXEC",),
         ("CONFIG", "SET", "requirepass", "")]


def entries(port):
    admin, c = Conn(port), Conn(port)
    try:
        admin.call("CONFIG", "SET", "slowlog-max-len", "128")
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        admin.call("SLOWLOG", "RESET")
        for step in STEPS:
            c.call(*step)
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        reply = admin.call("SLOWLOG", "GET", "-1")
        length = admin.call("SLOWLOG", "LEN")
    finally:
        admin.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        admin.close()
        c.close()
    out = []
    ids = [e.value[0].value for e in reply.value]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    for e in reply.value:
        id_, time_, micros, args, addr, name = e.value
        assert time_.kind == ":" and micros.kind == ":" and micros.value >= 0
        address = addr.value.decode()
        out.append(([a.value for a in args.value], "script" if address == "?:0" else address.split(":")[0], name.value))
    return out, length


def test_slowlog_entries_as_redis(larder, oracle):
    mine, theirs = entries(larder.port), entries(oracle.port)
    assert mine == theirs


def test_slowlog_length_limit_and_errors(larder, oracle):
    d = Differ(larder.port, oracle.port)
    try:
        d.both("CONFIG", "SET", "slowlog-log-slower-than", "0")
        d.both("CONFIG", "SET", "slowlog-max-len", "3")
        d.both("SLOWLOG", "RESET")
        for i in range(6):
            d.both("SET", f"k{i}", "v")
        d.both("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        d.check("SLOWLOG", "LEN")
        for args in (("SLOWLOG", "GET", "-5"), ("SLOWLOG", "GET", "abc"), ("SLOWLOG", "GET", "0"),
                     ("SLOWLOG", "LEN", "x"), ("SLOWLOG", "FOO"), ("SLOWLOG",), ("SLOWLOG", "RESET", "x"),
                     ("SLOWLOG", "HELP")):
            d.check(*args)
    finally:
        d.both("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        d.both("CONFIG", "SET", "slowlog-max-len", "128")
        d.close()
