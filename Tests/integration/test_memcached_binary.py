"""memcached's binary protocol on Larder's memcached port, against a real memcached 1.6:
the same requests on fresh connections, the responses equal field by field (CAS values
compared as zero or not, and as the same CAS where both servers repeat one: Larder's are its
own numbers), and a real binary client (python-binary-memcached) working as it does there."""
import struct
import socket
import time

import bmemcached
import pytest

from conftest import start_larder_memcached, start_memcached

GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION = range(12)
GETK, GETKQ, APPEND, PREPEND, STAT, SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ, PREPENDQ = range(0x0c, 0x1b)
TOUCH, GAT, GATQ, GATK, GATKQ = 0x1c, 0x1d, 0x1e, 0x23, 0x24


@pytest.fixture(scope="module")
def servers():
    larder, memcached = start_larder_memcached(), start_memcached()
    yield larder, memcached
    larder.stop()
    memcached.stop()


def req(op, key=b"", extras=b"", value=b"", opaque=0, cas=0):
    body = len(extras) + len(key) + len(value)
    return struct.pack(">BBHBBHIIQ", 0x80, op, len(key), len(extras), 0, 0, body, opaque, cas) + extras + key + value


def store(flags=0, exptime=0):
    return struct.pack(">II", flags, exptime)


def arith(delta, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


def responses(data):
    out = []
    while len(data) >= 24:
        magic, op, keylen, extlen, _, status, bodylen, opaque, cas = struct.unpack(">BBHBBHIIQ", data[:24])
        body = data[24:24 + bodylen]
        out.append({"magic": magic, "op": op, "status": status, "opaque": opaque, "cas": cas,
                    "extras": body[:extlen], "key": body[extlen:extlen + keylen], "value": body[extlen + keylen:]})
        data = data[24 + bodylen:]
    assert not data, data
    return out


def exchange(port, requests):
    """Each request on one connection; what came back after each (None: the connection closed)."""
    s = socket.create_connection(("127.0.0.1", port))
    seen = []
    try:
        for r in requests:
            try:
                s.sendall(r)
            except OSError:
                seen.append(None)
                break
            time.sleep(0.08)
            s.settimeout(0.05)
            data, closed = b"", False
            try:
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        closed = True
                        break
                    data += chunk
            except OSError:
                pass
            seen.append(None if closed and not data else responses(data))
    finally:
        s.close()
    return seen


def normalized(seen):
    """CAS values become their order of appearance (0 stays 0)."""
    names = {}
    out = []
    for step in seen:
        if step is None:
            out.append(None)
            continue
        norm = []
        for r in step:
            r = dict(r)
            if r["cas"]:
                r["cas"] = names.setdefault(r["cas"], len(names) + 1)
            norm.append(r)
        out.append(norm)
    return out


CASES = {
    "get_miss_and_hit": [req(GET, b"k", opaque=1), req(GETK, b"k", opaque=2), req(GETQ, b"k"), req(GETKQ, b"k"),
                         req(SET, b"k", store(5), b"hello", opaque=3), req(GET, b"k"), req(GETK, b"k"), req(GETQ, b"k"),
                         req(GETKQ, b"k"), req(NOOP, opaque=9)],
    "add_replace_append_prepend": [req(SET, b"k", store(7), b"v"), req(ADD, b"k", store(), b"x"), req(ADD, b"new", store(), b"x"),
                                   req(REPLACE, b"nokey", store(), b"x"), req(REPLACE, b"k", store(9), b"mid"),
                                   req(APPEND, b"k", b"", b"-end"), req(PREPEND, b"k", b"", b"start-"),
                                   req(APPEND, b"nokey", b"", b"x"), req(PREPEND, b"nokey", b"", b"x"), req(GET, b"k")],
    "quiet_stores": [req(SETQ, b"q", store(1), b"v"), req(ADDQ, b"q", store(), b"v"), req(REPLACEQ, b"none", store(), b"v"),
                     req(APPENDQ, b"q", b"", b"2"), req(PREPENDQ, b"none", b"", b"1"), req(GETKQ, b"q"), req(NOOP)],
    "cas": [req(SET, b"c", store(), b"1"), req(SET, b"c", store(), b"2", cas=12345), req(SET, b"nokey", store(), b"2", cas=1),
            req(DELETE, b"c", cas=999), req(GET, b"c")],
    "delete": [req(SET, b"d", store(), b"v"), req(DELETE, b"d"), req(DELETE, b"d"), req(DELETEQ, b"d"),
               req(SET, b"d", store(), b"v"), req(DELETEQ, b"d"), req(GET, b"d")],
    "incr_decr": [req(INCR, b"n", arith(5, 10)), req(INCR, b"n", arith(5, 10)), req(DECR, b"n", arith(100)),
                  req(INCR, b"m", arith(1, 7, 0xffffffff)), req(DECR, b"nn", arith(5, 3, 100)), req(GET, b"nn"),
                  req(SET, b"s", store(), b"abc"), req(INCR, b"s", arith(1)), req(SET, b"big", store(), b"18446744073709551615"),
                  req(INCR, b"big", arith(2)), req(INCRQ, b"n", arith(1)), req(DECRQ, b"zz", arith(1, 0, 0xffffffff)), req(GET, b"n")],
    "touch_and_gat": [req(SET, b"t", store(3), b"v"), req(TOUCH, b"t", struct.pack(">I", 100)),
                      req(TOUCH, b"nokey", struct.pack(">I", 100)), req(GAT, b"t", struct.pack(">I", 100)),
                      req(GATQ, b"nokey", struct.pack(">I", 100)), req(GATK, b"t", struct.pack(">I", 100)),
                      req(GATKQ, b"nokey", struct.pack(">I", 100)), req(GAT, b"t", struct.pack(">i", -1)), req(GET, b"t")],
    "flush": [req(SET, b"f", store(), b"v"), req(FLUSH, opaque=3), req(FLUSHQ), req(FLUSH, extras=struct.pack(">I", 0)),
              req(GET, b"f"), req(NOOP)],
    "version_noop_unknown": [req(VERSION, opaque=4), req(NOOP, opaque=5), req(0x42, opaque=6), req(NOOP, opaque=7)],
    "stat_unknown_group": [req(STAT, b"nosuch"), req(NOOP)],
    "too_large": [req(SET, b"big", store(), b"x" * (1024 * 1024 + 1)), req(GET, b"big")],
    "quit": [req(QUIT, opaque=3), req(NOOP)],
    "quitq": [req(QUITQ), req(NOOP)],
    "invalid_extras_close": [req(SET, b"k"), req(NOOP)],
    "invalid_get_extras": [req(GET, b"k", extras=b"abcd"), req(NOOP)],
    "invalid_key_length": [req(GET, b"x" * 251), req(NOOP)],
    "invalid_incr_extras": [req(INCR, b"k", extras=b"abc"), req(NOOP)],
    "text_after_binary_closes": [req(NOOP, opaque=1), b"get x\r\n", req(NOOP)],
}


@pytest.mark.parametrize("name", list(CASES))
def test_binary_protocol_matches_memcached(servers, name):
    larder, memcached = servers
    for s in (larder, memcached):
        exchange(s.mc_port, [req(FLUSH)])
    mine = normalized(exchange(larder.mc_port, CASES[name]))
    theirs = normalized(exchange(memcached.mc_port, CASES[name]))
    assert mine == theirs


def test_stats_over_binary_end_with_an_empty_stat(servers):
    larder, _ = servers
    seen = exchange(larder.mc_port, [req(STAT)])[0]
    assert seen[-1]["key"] == b"" and seen[-1]["value"] == b""
    names = {r["key"] for r in seen[:-1]}
    assert {b"pid", b"curr_items", b"cmd_get"} <= names


@pytest.mark.parametrize("which", ["larder", "memcached"])
def test_a_binary_client_works(servers, which):
    server = servers[0] if which == "larder" else servers[1]
    c = bmemcached.Client([f"127.0.0.1:{server.mc_port}"])
    try:
        c.flush_all()
        assert c.set("greeting", "hello") is True
        assert c.get("greeting") == "hello"
        assert c.add("greeting", "again") is False
        assert c.replace("greeting", "hi") is True
        assert c.get_multi(["greeting", "missing"]) == {"greeting": "hi"}
        assert c.set("n", 10) is True
        assert c.incr("n", 5) == 15
        assert c.decr("n", 20) == 0
        value, cas = c.gets("greeting")
        assert value == "hi" and cas
        assert c.cas("greeting", "changed", cas) is True
        assert c.cas("greeting", "again", cas) is False
        assert c.get("greeting") == "changed"
        assert c.delete("greeting") is True
        assert c.get("greeting") is None
        assert c.set("obj", {"a": [1, 2]}) is True
        assert c.get("obj") == {"a": [1, 2]}
        assert c.stats()
    finally:
        c.disconnect_all()
