"""COMMAND DOCS, COMMAND INFO's tips and key specs, and COMMAND GETKEYSANDFLAGS, for every
command, as redis-server 7.0 answers them in RESP2 and RESP3.

What is compared is what tools read: each command's since and group, its argument tree (names,
types, tokens, flags, versions, key-spec indexes), doc flags, deprecation, its tips and key specs.
Summaries, complexity, history and key-spec notes are prose, Larder's own or left out.
"""
import pytest

from resp import Reply

PROSE = {b"summary", b"complexity", b"history"}
# Larder also serves Redis 7.2's ZRANK / ZREVRANK WITHSCORE and CLIENT SETINFO (README).
LARDER_7_2 = {b"zrank", b"zrevrank", b"client|setinfo"}
# Redis 7.0 commands Larder does not serve (README: what is not).
NOT_SERVED = {b"failover", b"module"}


def pairs(reply):
    """A map reply's (field, value) pairs, in RESP2 (a flat array) or RESP3 (a map)."""
    if reply.kind == "%":
        return list(reply.value)
    return list(zip(reply.value[::2], reply.value[1::2]))


def docs_by_name(reply):
    """COMMAND DOCS as {name: [(field, value)]} without the prose, sub-commands flattened."""
    out = {}
    for name, doc in pairs(reply):
        fields = []
        for field, value in pairs(doc):
            if field.value == b"subcommands":
                out.update(docs_by_name(value))
            elif field.value not in PROSE:
                fields.append((field, value))
        out[name.value] = fields
    return out


def info_by_name(reply):
    """COMMAND INFO as {name: entry} with key-spec notes left out, sub-commands flattened."""
    out = {}
    for entry in reply.value:
        fields = list(entry.value)
        specs = [Reply(s.kind, tuple(x for p in pairs(s) if p[0].value != b"notes" for x in p)
                       if s.kind != "%" else tuple(p for p in pairs(s) if p[0].value != b"notes"))
                 for s in fields[8].value]
        out.update(info_by_name(fields[9]))
        out[fields[0].value] = fields[:8] + [specs]
    return out


@pytest.mark.parametrize("proto", ["2", "3"])
def test_command_docs_as_redis(diff, proto):
    diff.both("HELLO", proto)
    mine, theirs = (docs_by_name(r) for r in diff.both("COMMAND", "DOCS"))
    assert set(theirs) - set(mine) == NOT_SERVED | {b"module|help", b"module|list", b"module|load",
                                                   b"module|loadex", b"module|unload"}
    assert set(mine) - set(theirs) == {b"client|setinfo"}
    compared = 0
    for name in sorted(set(mine) & set(theirs) - LARDER_7_2):
        assert mine[name] == theirs[name], name
        compared += 1
    assert compared > 350
    # One by name (and a sub-command by its full name) as in the full list.
    for name in ["set", "xadd", "client|kill", "georadius", "substr", "sort"]:
        one_mine, one_theirs = diff.both("COMMAND", "DOCS", name)
        assert docs_by_name(one_mine) == docs_by_name(one_theirs), name
    # WITHSCORE is 7.2's: the rest of ZRANK's tree is 7.0's.
    withscore = [a for a in mine[b"zrank"] if a[0].value == b"arguments"][0][1].value
    their_args = [a for a in theirs[b"zrank"] if a[0].value == b"arguments"][0][1].value
    assert withscore[:-1] == their_args and b"WITHSCORE" in repr(withscore[-1]).encode()


@pytest.mark.parametrize("proto", ["2", "3"])
def test_command_info_tips_and_key_specs_as_redis(diff, proto):
    diff.both("HELLO", proto)
    mine, theirs = (info_by_name(r) for r in diff.both("COMMAND", "INFO"))
    compared = 0
    for name in sorted(set(mine) & set(theirs) - LARDER_7_2):
        assert mine[name] == theirs[name], name
        compared += 1
    assert compared > 350
    tips = [n for n, e in theirs.items() if e[7].value]
    assert len(tips) > 30 and all(mine[n][7] == theirs[n][7] for n in tips if n in mine)


@pytest.mark.parametrize("args", [
    ("lmove", "a", "b", "left", "right"),
    ("sort", "a", "by", "x", "store", "b"),
    ("sort", "a"),
    ("set", "k", "v"),
    ("set", "k", "v", "nx", "get"),
    ("bitfield", "k", "get", "u8", "0", "overflow", "wrap"),
    ("bitfield", "k", "get", "u8", "0", "set", "u8", "0", "1"),
    ("bitfield", "k", "get", "u8"),
    ("bitfield_ro", "k", "get", "u8", "0"),
    ("getdel", "k"),
    ("mset", "a", "1", "b", "2"),
    ("zunionstore", "d", "2", "a", "b", "weights", "1", "2"),
    ("xread", "count", "2", "streams", "s1", "s2", "0", "0"),
    ("xreadgroup", "group", "g", "c", "streams", "s1", "0"),
    ("georadius", "g", "0", "0", "1", "km", "store", "d"),
    ("eval", "return 1", "2", "a", "b", "c"),
    ("blmpop", "0", "2", "a", "b", "left"),
    ("renamenx", "a", "b"),
    ("object", "encoding", "k"),
    ("pfcount", "a", "b"),
    ("get",),
    ("ping",),
    ("nosuch", "x"),
])
def test_getkeysandflags_as_redis(diff, args):
    diff.check("COMMAND", "GETKEYSANDFLAGS", *args)
    diff.check("COMMAND", "GETKEYS", *args)


@pytest.mark.parametrize("args", [
    ("COMMAND", "HELP"),
    ("COMMAND", "GETKEYSANDFLAGS"),
    ("COMMAND", "DOCS", "nosuch"),
    ("COMMAND", "INFO", "memory|purge", "memory|malloc-stats", "command|getkeysandflags"),
    ("MEMORY", "HELP"),
    ("MEMORY", "PURGE"),
    ("MEMORY", "PURGE", "x"),
])
def test_command_and_memory_subcommands_as_redis(diff, args):
    diff.check(*args)


def test_memory_malloc_stats_answers(diff):
    # Redis's text is its allocator's report; Larder's allocator (glibc) gives none, as
    # redis-server built with libc malloc answers.
    mine, theirs = diff.both("MEMORY", "MALLOC-STATS")
    assert mine.kind == theirs.kind == "$"
    assert mine.value == b"Stats not supported for the current allocator"
