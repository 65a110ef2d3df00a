"""MONITOR against redis-server 7.0: the same commands, the same lines (time and client port
masked): after each command ran, a transaction's commands between MULTI and EXEC, a script's
after its EVAL as `lua`, SELECT's database, AUTH redacted, administrative and refused
commands left out."""
import re
import time

import redis

from resp import Conn, Reply


def monitored(port):
    mon = Conn(port, timeout=5)
    assert mon.call("MONITOR") == Reply("+", b"OK")
    r = redis.Redis(port=port, protocol=2)
    r.set("k", "va lue\n\"q\"\x01\xff")
    r.get("k")
    r.eval("redis.call('set', KEYS[1], 'x') return redis.call('get', KEYS[1])", 1, "k")
    p = r.pipeline(transaction=True)
    p.set("a", 1)
    p.incr("a")
    p.execute()
    r.config_get("maxmemory")
    for bad in (("NOSUCH",), ("GET",)):
        try:
            r.execute_command(*bad)
        except redis.ResponseError:
            pass
    r.execute_command("SELECT", "3")
    r.set("z", 1)
    r.execute_command("BLPOP", "nolist", "0.01")
    r.execute_command("HELLO", "2", "AUTH", "default", "")
    r.execute_command("PING")
    r.close()
    lines = []
    deadline = time.time() + 5
    while time.time() < deadline:
        reply = mon.read()
        text = reply.value.decode()
        if '"SETINFO"' in text:
            continue   # redis-py's CLIENT SETINFO: Redis 7.2's, which Larder answers and 7.0 refuses
        lines.append(re.sub(r"^\d+\.\d{6} ", "T ", re.sub(r"127\.0\.0\.1:\d+", "ADDR", text)))
        if text.endswith('"PING"'):
            break
    mon.close()
    return lines


def test_monitor_shows_what_redis_shows(larder, oracle):
    mine, theirs = monitored(larder.port), monitored(oracle.port)
    assert mine == theirs
    assert any("[0 lua]" in line for line in mine)
