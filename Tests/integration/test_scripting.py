"""Lua scripts and functions (Redis 7.0), against redis-server 7.0: replies and error texts of
EVAL / EVALSHA / SCRIPT / FUNCTION / FCALL compared reply by reply (RESP2 and RESP3), the
conversions both ways, the sandbox, scripts in transactions, atomicity with undeclared keys
across shards and event loops, long scripts (BUSY, SCRIPT KILL, UNKILLABLE), bad input, the
script cache's bound, and FUNCTION DUMP / RESTORE between the two servers."""
import sys
import threading
import time

import pytest
import redis

from conftest import start_larder
from differential import Differ
from resp import Conn, Reply, encode

RESET = [("FLUSHALL",), ("SCRIPT", "FLUSH"), ("FUNCTION", "FLUSH"), ("SELECT", "0")]


def run_case(larder, oracle, steps):
    """Runs `steps` on fresh connections to both servers and compares every reply. A step
    starting with "SETUP" is sent to both without comparing (HELLO's connection id)."""
    d = Differ(larder.port, oracle.port)
    try:
        for step in RESET:
            d.both(*step)
        for step in steps:
            if step[0] == "SETUP":
                d.both(*step[1:])
            elif step[0] == "UNORDERED":
                d.check(*step[1:], unordered=True)
            else:
                d.check(*step)
    finally:
        d.close()


LIB = ("#!lua name=mylib\n"
       "redis.register_function('myf', function(keys, args) return redis.call('incr', keys[1]) end)\n"
       "redis.register_function{function_name='ro', callback=function(keys, args) return args[1] end, flags={'no-writes'}}\n"
       "redis.register_function('bad', function(keys, args) return x end)")

CASES = {
    # Replies, both ways.
    "call and return": [("EVAL", "return redis.call('incr', KEYS[1])", "1", "a"),
                        ("EVAL", "return {1,2,{3,'a'},nil,5}", "0"), ("EVAL", "return {ok='fine'}", "0"),
                        ("EVAL", "return {err='bad thing'}", "0"), ("EVAL", "return {err='-bad thing'}", "0"),
                        ("EVAL", "return {err=''}", "0"), ("EVAL", "return {ok='a\\r\\nb'}", "0"),
                        ("EVAL", "return redis.error_reply('My Error')", "0"),
                        ("EVAL", "return redis.error_reply('-My Error')", "0"),
                        ("EVAL", "return redis.status_reply('FINE')", "0")],
    "numbers": [("EVAL", "return 3.99", "0"), ("EVAL", "return -3.99", "0"), ("EVAL", "return 1e20", "0"),
                ("EVAL", "return 0/0", "0"), ("EVAL", "return math.huge", "0"), ("EVAL", "return tonumber('0x10')", "0"),
                ("EVAL", "return tostring(12.5)", "0"),
                ("EVAL", "return redis.call('set','k',3.5)", "0"), ("GET", "k"),
                ("EVAL", "return redis.call('set','k',1e20)", "0"), ("GET", "k"),
                ("EVAL", "redis.call('set','k',0.1) redis.call('set','j',1/3) redis.call('set','i',1e15) "
                         "redis.call('set','h',123456789012345678) redis.call('set','g',-0.0) redis.call('set','f',-7) "
                         "redis.call('set','e',99999999999999999) "
                         "return redis.call('mget','k','j','i','h','g','f','e')", "0")],
    "booleans and nil": [("EVAL", "return true", "0"), ("EVAL", "return false", "0"), ("EVAL", "return nil", "0"),
                         ("EVAL", "return redis.call('get','nokey')", "0"), ("EVAL", "return function() end", "0"),
                         ("EVAL", "return redis", "0"), ("EVAL", "return {a=1}", "0"), ("EVAL", "return {[1]=1,[3]=3}", "0")],
    "typed tables in RESP2": [("EVAL", "return {map={a=1}}", "0"), ("EVAL", "return {set={a=true}}", "0"),
                              ("EVAL", "return {double=3.5}", "0"), ("EVAL", "return {big_number='123'}", "0"),
                              ("EVAL", "return {double='x'}", "0"), ("EVAL", "return {1,{2,{3,{4}}}}", "0")],
    "replies of commands": [("HSET", "h", "a", "1", "b", "2"), ("EVAL", "return redis.call('hgetall','h')", "0"),
                            ("EVAL", "return redis.call('ping')", "0"), ("EVAL", "return redis.call('type','nokey')", "0"),
                            ("ZADD", "z", "1.5", "m"), ("EVAL", "return redis.call('zscore','z','m')", "0"),
                            ("SET", "a", "1"), ("UNORDERED", "EVAL", "return redis.call('keys','*')", "0"),
                            ("EVAL", "return redis.call('info','nosuchsection')", "0"),
                            ("EVAL", "redis.call('rpush','l','a','b') return redis.call('lrange','l',0,-1)", "0"),
                            ("EVAL", "return redis.call('lmpop','1','l','left')", "0"),
                            ("EVAL", "return redis.call('xadd','st','1-1','f','v')", "0"),
                            ("EVAL", "return redis.call('xrange','st','-','+')", "0"),
                            ("EVAL", "return redis.call('set','k','v','ex','100')", "0"), ("TTL", "k"),
                            ("EVAL", "return redis.call('dbsize')", "0")],
    "RESP3": [("SETUP", "HELLO", "3"),
              ("EVAL", "redis.setresp(3); return redis.call('hgetall','h')", "0"), ("HSET", "h", "a", "1"),
              ("EVAL", "redis.setresp(3); return redis.call('hgetall','h')", "0"),
              ("EVAL", "redis.setresp(3); local r = redis.call('hgetall','h'); return type(r.map)", "0"),
              ("EVAL", "return {double=3.5}", "0"), ("EVAL", "return {map={a=1}}", "0"),
              ("EVAL", "return {set={a=true}}", "0"), ("EVAL", "return {big_number='123'}", "0"),
              ("EVAL", "return true", "0"), ("EVAL", "return false", "0"), ("EVAL", "return nil", "0"),
              ("EVAL", "redis.setresp(3); return true", "0"), ("EVAL", "redis.setresp(3); return false", "0"),
              ("EVAL", "redis.setresp(3); return nil", "0"), ("SADD", "s", "a"),
              ("EVAL", "redis.setresp(3); return redis.call('smembers','s')", "0"),
              ("EVAL", "redis.setresp(3); return redis.call('smembers','s').set.a", "0"), ("ZADD", "z", "1.5", "m"),
              ("EVAL", "redis.setresp(3); return redis.call('zscore','z','m')", "0"),
              ("EVAL", "redis.setresp(3); return redis.call('zscore','z','m').double", "0"),
              ("EVAL", "redis.setresp(3); return {redis.call('get','nokey')}", "0")],
    "setresp in RESP2": [("HSET", "h", "a", "1"), ("EVAL", "redis.setresp(3); return redis.call('hgetall','h')", "0"),
                         ("EVAL", "redis.setresp(3); return {double=1.5}", "0"),
                         ("EVAL", "redis.setresp(3); return true", "0"), ("EVAL", "redis.setresp(3); return false", "0")],
    # Errors, to the letter.
    "errors": [("SET", "s", "x"), ("EVAL", "return redis.call('incr', KEYS[1])", "1", "s"),
               ("EVAL", "return redis.pcall('incr','s')", "0"), ("EVAL", "return redis.call('nosuch')", "0"),
               ("EVAL", "return redis.pcall('nosuch')", "0"), ("EVAL", "syntax error here", "0"),
               ("EVALSHA", "0" * 40, "0"), ("EVALSHA", "abc", "0"), ("EVAL", "error('boom')", "0"),
               ("EVAL", "error({err='X boom'})", "0"), ("EVAL", "error()", "0"), ("EVAL", "error(12)", "0"),
               ("EVAL", "return redis.call()", "0"), ("EVAL", "return redis.call({})", "0"),
               ("EVAL", "return redis.call('get',{})", "0"), ("EVAL", "return redis.call('get')", "0"),
               ("EVAL", "return redis.pcall('get')", "0"), ("EVAL", "return redis.pcall('set','k')", "0"),
               ("EVAL", "local r = redis.pcall('nosuch') return r.err", "0"),
               ("EVAL", "local ok, e = pcall(redis.call, 'nosuch') return e", "0"),
               ("EVAL", "local ok, e = pcall(error, 'x') return e", "0"),
               ("EVAL", "return 1", "-1"), ("EVAL", "return 1", "2", "a"), ("EVAL", "return 1", "x"),
               ("EVAL", "return redis.setresp(4)", "0"), ("EVAL", "return redis.log(99,'hello')", "0"),
               ("EVAL", "return redis.log()", "0"), ("EVAL", "return redis.log('a','b')", "0"),
               ("EVAL", "return redis.set_repl(99)", "0"), ("EVAL", "return redis.sha1hex()", "0"),
               ("EVAL", "return redis.acl_check_cmd('nosuch')", "0")],
    "not from scripts": [("EVAL", "return redis.call('eval','return 1','0')", "0"),
                         ("EVAL", "return redis.call('blpop','nolist','0')", "0"),
                         ("EVAL", "return redis.call('multi')", "0"), ("EVAL", "return redis.call('subscribe','c')", "0"),
                         ("EVAL", "return redis.call('wait','0','0')", "0"),
                         ("EVAL", "return redis.call('client','reply','off')", "0"),
                         ("EVAL", "return redis.call('script','load','return 1')", "0"),
                         ("EVAL", "return redis.call('fcall','x','0')", "0"), ("EVAL", "return redis.call('save')", "0")],
    "read-only scripts": [("EVAL_RO", "return redis.call('set','k',1)", "0"),
                          ("EVAL_RO", "return redis.call('get','x')", "1", "x"),
                          ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set','x',1)", "0"),
                          ("EVAL_RO", "#!lua\nreturn 1", "0"), ("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0")],
    "shebang": [("EVAL", "#!lua flags=bogus\nreturn 1", "0"), ("EVAL", "#!python\nreturn 1", "0"),
                ("EVAL", "#!lua name=foo\nreturn 1", "0"), ("EVAL", "#!lua\nreturn 1", "0"),
                ("EVAL", "#!lua flags=no-writes,allow-oom\nreturn 1", "0"), ("EVAL", "#!lua\nreturn x", "0")],
    # The sandbox.
    "sandbox": [("EVAL", "return x", "0"), ("EVAL", "x = 1", "0"), ("EVAL", "rawset(_G, 'x', 1)", "0"),
                ("EVAL", "setmetatable(_G, nil)", "0"), ("EVAL", "return type(debug)", "0"),
                ("EVAL", "return type(os)", "0"), ("EVAL", "return _VERSION", "0"),
                ("EVAL", "return type(loadstring)..type(unpack)..type(table.getn)..type(math.random)..type(coroutine)", "0"),
                ("EVAL", "local f = loadstring('return 5'); return f()", "0"),
                ("EVAL", "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", "1", "k", "a1"),
                ("EVAL", "return table.concat({'a','b'}, ',')", "0"),
                ("EVAL", "return string.format('%d-%s', 5, 'x')", "0")],
    # Globals and libraries are read-only: a script cannot change what later scripts run.
    "read-only tables": [("EVAL", "redis = 1", "0"), ("EVAL", "cjson = nil", "0"), ("EVAL", "_G.redis = 1", "0"),
                         ("EVAL", "string.len = nil", "0"), ("EVAL", "redis.call = nil", "0"),
                         ("EVAL", "KEYS = 1", "0"), ("EVAL", "rawset(string, 'len', 1)", "0"),
                         ("EVAL", "setmetatable(redis, {})", "0"), ("EVAL", "loadstring('redis = 5')()", "0"),
                         ("EVAL", "getmetatable('').__index = nil", "0"), ("EVAL", "getmetatable('').x = 1", "0"),
                         ("EVAL", "getmetatable(_G).__index = nil", "0"),
                         ("EVAL", "return {type(getmetatable(_G)), type(getmetatable(_G).__index), tostring(getmetatable(redis))}", "0"),
                         ("EVAL", "local n = 0 for k in pairs(redis) do n = n + 1 end return n", "0"),
                         ("EVAL", "local r = {} for k in pairs(string) do r[#r+1] = k end table.sort(r) return r", "0"),
                         ("EVAL", "KEYS[1] = 'x' return {KEYS[1], ('abc'):upper(), string.len('ab')}", "1", "k"),
                         ("EVAL", "return redis.call('ping')", "0"), ("EVAL", "return cjson.encode({1})", "0"),
                         ("EVAL", "table.insert(redis, 1)", "0"), ("EVAL", "table.insert(string, 1, 'x')", "0"),
                         ("EVAL", "return table.getn(redis)", "0"), ("EVAL", "return table.remove(string)", "0"),
                         ("EVAL", "local t = {} table.insert(t, 'a') table.insert(t, 1, 'b') return t", "0")],
    # Precompiled bytecode is never loaded (crafted bytecode reads and writes memory at will):
    # every chunk is parsed as text, as Redis's Lua does.
    "no bytecode": [("EVAL", "\x1bLuaQ\x00\x01\x04\x08\x04\x08\x00", "0"), ("EVAL", "#!lua\n\x1bLua", "0"),
                    ("FUNCTION", "LOAD", "#!lua name=binlib\n\x1bLua"),
                    ("EVAL", "local f, e = loadstring(string.dump(function() return 1 end)) return {tostring(f), e}", "0"),
                    ("EVAL", "local f, e = loadstring(string.dump(function() return 1 end), 'nm') return {tostring(f), e}", "0"),
                    ("EVAL", "local d = string.dump(function() return 1 end) local done = false "
                             "local f, e = load(function() if done then return nil end done = true return d end) "
                             "return {tostring(f), e}", "0"),
                    ("EVAL", "local parts = {'return ', '7'} local i = 0 "
                             "return load(function() i = i + 1 return parts[i] end)()", "0"),
                    ("EVAL", "local f, e = load(function() error('boom') end) return {tostring(f), e}", "0"),
                    ("EVAL", "local i = 0 local f, e = load(function() i = i + 1 if i == 1 then return {} end end) "
                             "return {type(f), e}", "0"),
                    ("EVAL", "return load(5)", "0"), ("EVAL", "return loadstring('return 5')()", "0"),
                    ("EVAL", "local f, e = loadstring('x x') return {tostring(f), e}", "0")],
    "libraries": [("EVAL", "return cjson.encode({1,2,3})", "0"),
                  ("EVAL", "return cjson.decode('[1,2,{\"a\":5}]')[3].a", "0"),
                  ("EVAL", "return bit.band(7,3)", "0"), ("EVAL", "return bit.tohex(65535)", "0"),
                  ("EVAL", "return redis.sha1hex('')", "0"), ("EVAL", "return redis.sha1hex('abc')", "0"),
                  ("EVAL", "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}", "0"),
                  ("EVAL", "return redis.acl_check_cmd('get','x')", "0"), ("EVAL", "return redis.breakpoint()", "0"),
                  ("EVAL", "return redis.replicate_commands()", "0"),
                  ("EVAL", "return redis.set_repl(redis.REPL_ALL)", "0"),
                  ("EVAL", "return redis.log(redis.LOG_WARNING,'hello','x')", "0")],
    # Larder's own struct and cmsgpack, byte for byte with Redis's.
    "struct": [('EVAL', 'return struct.pack("HH", 1, 2)', '0'),
               ('EVAL', 'return struct.pack(">i4<i2", -5, 300)', '0'),
               ('EVAL', 'return struct.pack("bBhHlLT", -1, 255, -2, 65535, -3, 123456789012, 7)', '0'),
               ('EVAL', 'return struct.pack("fd", 1.5, -2.25)', '0'),
               ('EVAL', 'return struct.pack("s", "hello")', '0'),
               ('EVAL', 'return struct.pack("c5", "hello world")', '0'),
               ('EVAL', 'return struct.pack("c0", "abc")', '0'),
               ('EVAL', 'return struct.pack("!4bi", 1, 2)', '0'),
               ('EVAL', 'return struct.pack("xbx", 9)', '0'),
               ('EVAL', 'return struct.pack("i16", -1)', '0'),
               ('EVAL', 'return struct.pack("I3", 70000)', '0'),
               ('EVAL', 'return {struct.unpack("HH", struct.pack("HH", 1, 2))}', '0'),
               ('EVAL', 'return {struct.unpack(">i4<i2", struct.pack(">i4<i2", -5, 300))}', '0'),
               ('EVAL', 'return {struct.unpack("s", "abc\\0def")}', '0'),
               ('EVAL', 'return {struct.unpack("Bc0", "\\3abcd")}', '0'),
               ('EVAL', 'return {struct.unpack("c2", "abcd", 2)}', '0'),
               ('EVAL', 'local a, b = struct.unpack("d", struct.pack("d", 0.1)) return tostring(a)', '0'),
               ('EVAL', 'return struct.size("i4hd")', '0'),
               ('EVAL', 'return struct.size("!8bd")', '0'),
               ('EVAL', 'return struct.size("s")', '0'),
               ('EVAL', 'return struct.pack("q", 1)', '0'),
               ('EVAL', 'return struct.pack("i40", 1)', '0'),
               ('EVAL', 'return {struct.unpack("i4", "ab")}', '0'),
               ('EVAL', 'return struct.pack("i")', '0'),
               ('EVAL', 'return struct.pack("!3i", 1)', '0')],
    "cmsgpack": [('EVAL', 'return cmsgpack.pack({1,2,3})', '0'),
               ('EVAL', 'return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)', '0'),
               ('EVAL', 'return cmsgpack.pack(1.5, 0.1, -0.5, 1e300, 3.4028234663852886e38)', '0'),
               ('EVAL', 'return cmsgpack.pack("", "abc", string.rep("x", 31), string.rep("x", 32), string.rep("y", 255), string.rep("z", 256), string.rep("w", 70000))', '0'),
               ('EVAL', 'return cmsgpack.pack(true, false, nil)', '0'),
               ('EVAL', 'return cmsgpack.pack({}, {a=1}, {1, 2, nil, 4}, {[1]=1,[2]=2,[4]=4}, {[0]=1})', '0'),
               ('EVAL', 'local t = {} for i=1,20 do t[i]=i end return cmsgpack.pack(t)', '0'),
               ('EVAL', 'local t = {} for i=1,20 do t["k"..i]=i end return #cmsgpack.pack(t)', '0'),
               ('EVAL', 'local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)', '0'),
               ('EVAL', 'return cmsgpack.pack()', '0'),
               ('EVAL', 'return {cmsgpack.unpack(cmsgpack.pack(1, "a", {1,2}, true))}', '0'),
               ('EVAL', 'local t = cmsgpack.unpack(cmsgpack.pack({a=1,b={c="d"}})) return {t.a, t.b.c}', '0'),
               ('EVAL', 'return {cmsgpack.unpack(cmsgpack.pack(-5, 1.5, 4294967296))}', '0'),
               ('EVAL', 'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}', '0'),
               ('EVAL', 'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}', '0'),
               ('EVAL', 'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}', '0'),
               ('EVAL', 'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)}', '0'),
               ('EVAL', 'return {cmsgpack.unpack("\\147\\1")}', '0'),
               ('EVAL', 'return {cmsgpack.unpack("\\193")}', '0'),
               ('EVAL', 'return {cmsgpack.unpack("")}', '0'),
               ('EVAL', 'return {cmsgpack.unpack("\\196\\3abc")}', '0'),
               ('EVAL', 'return {cmsgpack.unpack_one("\\1", 5)}', '0')],
    "select does not leak": [("EVAL", "redis.call('select','5'); return redis.call('set','sel','1')", "0"),
                             ("GET", "sel"), ("SELECT", "5"), ("GET", "sel")],
    "script cache": [("SCRIPT", "LOAD", "return 1"),
                     ("SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "abc", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"),
                     ("EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"), ("SCRIPT", "FLUSH", "bogus"),
                     ("SCRIPT", "FLUSH", "async"), ("SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
                     ("SCRIPT", "FLUSH", "sync", "x"), ("SCRIPT", "KILL"), ("SCRIPT", "HELP"), ("SCRIPT", "BOGUS"),
                     ("SCRIPT", "LOAD", "syntax error"), ("SCRIPT", "LOAD")],
    "transactions": [("MULTI",), ("EVAL", "return redis.call('incr','k')", "0"), ("EVAL", "return redis.call('incr','k')", "0"),
                     ("EXEC",), ("MULTI",), ("SET", "a", "1"), ("EVAL", "return redis.call('get','a')", "0"), ("EXEC",),
                     ("SET", "w", "1"), ("WATCH", "w"), ("EVAL", "return redis.call('set','w','2')", "0"), ("MULTI",),
                     ("GET", "w"), ("EXEC",),
                     ("MULTI",), ("SCRIPT", "LOAD", "return 7"), ("SET", "x", "1"),
                     ("FUNCTION", "LOAD", "#!lua name=t\nredis.register_function('t', function() return 8 end)"),
                     ("FCALL", "t", "0"), ("EVALSHA", "d6b9d8f3b9c5a6c0b7cf0c6f1a5a6e1c2e3f4a5b", "0"), ("EXEC",)],
    # Functions.
    "functions": [("FUNCTION", "LOAD", LIB), ("FCALL", "myf", "1", "cnt"), ("FCALL", "ro", "0", "hello"),
                  ("FCALL_RO", "myf", "1", "cnt"), ("FCALL", "bad", "0"), ("FCALL", "nosuch", "0"),
                  ("FUNCTION", "LOAD", "#!lua name=mylib\nreturn 1"), ("FUNCTION", "LIST", "LIBRARYNAME", "zz"),
                  ("FUNCTION", "DELETE", "nolib"), ("FUNCTION", "DELETE", "mylib"), ("FUNCTION", "LIST"),
                  ("FUNCTION", "KILL"), ("FUNCTION", "HELP"), ("FUNCTION", "RESTORE", "garbage"),
                  ("FUNCTION", "FLUSH", "bogus"), ("FUNCTION", "FLUSH", "async"), ("FUNCTION", "LIST", "bogus"),
                  ("FUNCTION", "LIST", "LIBRARYNAME")],
    "function load errors": [("FUNCTION", "LOAD", "return 1"), ("FUNCTION", "LOAD", "#!lua name=lib2\nreturn 1"),
                             ("FUNCTION", "LOAD", "#!lua name=lib2\nredis.call('set','a',1)"),
                             ("FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('f3', function() return 1 end, 5)"),
                             ("FUNCTION", "LOAD", "#!lua name=lib3\nlocal function f() end\nredis.register_function('f-3', f)"),
                             ("FUNCTION", "LOAD", "#!lua name=lib4\nx = 1"),
                             ("FUNCTION", "LOAD", "#!lua name=lib4\nreturn redis.setresp(3)"),
                             ("FUNCTION", "LOAD", "#!lua name=lib4 foo=bar\nreturn 1"),
                             ("FUNCTION", "LOAD", "#!lua name=lib4\nredis.register_function{function_name='z', callback=function() end, flags={'bogus'}}"),
                             ("FUNCTION", "LOAD", "#!lua name=lib4\nerror('oops')"),
                             ("FUNCTION", "LOAD", "#!lua name=lib4\nsyntax error"),
                             ("FUNCTION", "LOAD", "#!lua name=a-b\nreturn 1"), ("FUNCTION", "LOAD", "#!lua\nreturn 1"),
                             ("FUNCTION", "LOAD", "#!js name=x\nreturn 1"), ("FUNCTION", "LOAD", "replace"),
                             ("FUNCTION", "LOAD", "bogus", "#!lua name=x\nredis.register_function('x', function() return 1 end)"),
                             ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x', function() return 1 end)\n"
                                                  "redis.register_function('x', function() return 1 end)")],
    "function replace and collisions": [
        ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x', function() return 1 end)"),
        ("FUNCTION", "LOAD", "#!lua name=y\nredis.register_function('x', function() return 2 end)"),
        ("FUNCTION", "LOAD", "REPLACE", "#!lua name=x\nredis.register_function('x2', function() return 3 end)"),
        ("FCALL", "x", "0"), ("FCALL", "x2", "0"), ("FUNCTION", "DELETE", "x"), ("FUNCTION", "DELETE", "x")],
    "function arguments and environment": [
        ("FUNCTION", "LOAD", "#!lua name=x\nlocal helper = function() return 42 end\n"
                             "redis.register_function('x', function(k, a) return {#k, #a, k[1], a[1], helper()} end)\n"
                             "redis.register_function('g', function() return #KEYS end)\n"
                             "redis.register_function('s', function() y = 1 end)"),
        ("FCALL", "x", "1", "k1", "a1"), ("FCALL", "x", "0"), ("FCALL", "x", "3", "a"), ("FCALL", "x", "-1"),
        ("FCALL", "x", "nope"), ("FCALL", "nosuch", "nope"), ("EVALSHA", "abc", "nope"), ("EVALSHA", "0" * 40, "nope"),
        ("FCALL", "g", "0"), ("FCALL", "s", "0")],
    "function flags": [
        ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('w', function() return redis.call('set','k','v') end)\n"
                             "redis.register_function{function_name='r', callback=function() return redis.call('set','k','v') end, flags={'no-writes'}}\n"
                             "redis.register_function{function_name='d', callback=function() return 1 end, description='hi', flags={'allow-oom','no-writes'}}"),
        ("FCALL_RO", "w", "1", "k"), ("FCALL", "r", "1", "k"), ("FCALL_RO", "d", "0")],
}


@pytest.mark.parametrize("name", list(CASES))
def test_replies_equal_redis(larder, oracle, name):
    run_case(larder, oracle, CASES[name])


def pairs(flat):
    """A RESP2 map (a flat list of keys and values) as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


def libraries(server):
    """FUNCTION LIST WITHCODE as sorted data (the order of libraries and functions is a hash
    table's in Redis)."""
    c = server.client(decode_responses=True)
    out = []
    for lib in c.function_list(withcode=True):
        lib = pairs(lib)
        lib["functions"] = sorted(sorted((k, str(v)) for k, v in pairs(f).items()) for f in lib["functions"])
        out.append(sorted(lib.items()))
    c.close()
    return sorted(out)


def test_function_list_equals_redis(larder, oracle):
    for s in (larder, oracle):
        c = s.client()
        c.function_flush()
        c.function_load(LIB)
        c.function_load("#!lua name=other\nredis.register_function{function_name='d', callback=function() return 1 end,"
                        " description='hi', flags={'allow-oom','no-writes'}}")
        c.close()
    assert libraries(larder) == libraries(oracle)


def test_function_dump_moves_between_larder_and_redis(larder, oracle):
    """A FUNCTION DUMP payload of either server restores on the other, with each policy."""
    for src, dst in ((oracle, larder), (larder, oracle)):
        a, b = src.client(), dst.client()
        a.function_flush()
        a.function_load(LIB)
        payload = a.function_dump()
        b.function_flush()
        b.function_load("#!lua name=mylib\nredis.register_function('zzz', function() return 0 end)")
        with pytest.raises(redis.ResponseError) as e:
            b.function_restore(payload)
        assert "already exists" in str(e.value)
        assert b.function_restore(payload, "REPLACE")
        assert b.fcall("myf", 1, "c") == 1 and b.fcall("ro", 0, "x") == b"x"
        assert b.function_restore(payload, "FLUSH")
        assert [pairs(l)[b"library_name"] for l in b.function_list()] == [b"mylib"]
        a.close()
        b.close()


def test_functions_survive_a_restart_in_the_rdb_and_the_aof(tmp_path):
    for mode in (("--appendonly", "no"), ("--appendonly", "yes")):
        (tmp_path / mode[1]).mkdir()
        s = start_larder(*mode, workdir=str(tmp_path / mode[1]))
        c = s.client()
        c.function_load(LIB)
        c.set("k", "v")
        if mode[1] == "no":
            c.save()
        c.close()
        s.stop()
        s = start_larder(*mode, workdir=str(tmp_path / mode[1]))
        c = s.client()
        assert c.fcall("myf", 1, "n") == 1, mode
        assert c.get("k") == b"v"
        c.close()
        s.stop()


def test_script_cache_keeps_500_eval_scripts(r):
    r.script_flush()
    loaded = r.script_load("return 'loaded'")
    before = int(r.info("stats")["evicted_scripts"])
    for i in range(510):
        assert r.eval(f"return {i}", 0) == i
    info = r.info("memory")
    assert info["number_of_cached_scripts"] == 501   # 500 from EVAL and the loaded one
    assert int(r.info("stats")["evicted_scripts"]) - before == 10
    assert r.script_exists(loaded) == [True]
    assert r.evalsha(loaded, 0) == b"loaded"
    # The oldest EVAL scripts went.
    import hashlib
    assert r.script_exists(hashlib.sha1(b"return 0").hexdigest()) == [False]
    assert r.script_exists(hashlib.sha1(b"return 509").hexdigest()) == [True]
    assert info["used_memory_lua"] > 0 and info["used_memory_scripts"] > 0


def test_bad_input_is_an_error_and_the_server_lives(r):
    bad = ["return string.rep('x', 2^40)",                         # memory bombs
           "local s = 'x' while true do s = s .. s end",
           "local t = {} for i = 1, 1e8 do t[i] = i end",
           "local function f(n) return 1 + f(n + 1) end return f(1)",   # deep recursion
           "return redis.call(string.rep('x', 100000))"]
    for body in bad:
        try:
            reply = r.eval(body, 0)
        except redis.ResponseError as e:
            reply = str(e)
        assert r.ping()


@pytest.mark.parametrize("which", ["larder", "redis"])
def test_valid_bytecode_is_refused_too(larder, oracle, which):
    r = (larder if which == "larder" else oracle).client()
    dumped = r.eval("return string.dump(function() return redis.call('ping') end)", 0)
    assert dumped.startswith(b"\x1bLua")
    with pytest.raises(redis.ResponseError, match="unexpected symbol near 'char\\(27\\)'"):
        r.eval(dumped, 0)
    r.close()


def nested_reply(port, body):
    """The raw reply to EVAL `body`: how many one-element arrays open it, and what ends it."""
    c = Conn(port, timeout=30)
    c.send_raw(encode("EVAL", body, "0"))
    depth = 0
    while (line := c._line()) == b"*1":
        depth += 1
    rest = [line]
    while not (rest[-1].startswith(b"-") or rest[-1].startswith(b":")):
        rest.append(c._line())
    assert c.call("PING") == Reply("+", b"PONG")
    c.close()
    return depth, rest


def test_deeply_nested_and_cyclic_tables(larder, oracle):
    # Nested as deep as most stacks hold: the same bytes as Redis's.
    body = "local t = {} local c = t for i = 1, 3000 do local n = {} c[1] = n c = n end c[1] = 7 return t"
    assert nested_reply(larder.port, body) == nested_reply(oracle.port, body)
    # A cyclic table nests arrays until Lua's stack is full (Redis: about 8000 levels; a
    # debug build of Larder stops earlier, before its own stack is full), then Redis's error.
    depth, end = nested_reply(larder.port, "local t = {} t[1] = t return t")
    assert end == [b"-ERR reached lua stack limit"] and depth > 3000


def test_script_with_undeclared_keys_is_atomic_across_shards_and_loops(larder):
    """A script moving a unit between keys it did not declare (they fall in different shards)
    while other connections (on both event loops) read the pair and run the reverse script:
    no reader sees the sum change, and nothing deadlocks."""
    setup = larder.client()
    keys = [f"k{i}" for i in range(8)]
    setup.mset({k: 100 for k in keys})
    move = "local a, b = ARGV[1], ARGV[2] redis.call('decr', a) redis.call('incr', b) return 1"
    errors = []
    stop = time.time() + 3

    def mover(seed):
        c = larder.client()
        i = seed
        while time.time() < stop:
            a, b = keys[i % 8], keys[(i * 3 + 1) % 8]
            if a != b:
                c.eval(move, 0, a, b)
            i += 1
        c.close()

    def reader():
        c = larder.client()
        while time.time() < stop:
            total = sum(int(v) for v in c.mget(keys))
            if total != 800:
                errors.append(total)
        c.close()

    def transfers():
        c = larder.client()
        while time.time() < stop:
            p = c.pipeline(transaction=True)
            p.decr(keys[0]).incr(keys[7])
            p.execute()
            c.eval(move, 0, keys[7], keys[0])
        c.close()

    threads = [threading.Thread(target=mover, args=(s,)) for s in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=transfers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "a script or a command deadlocked"
    assert errors == []
    assert sum(int(v) for v in setup.mget(keys)) == 800
    setup.close()


def answering(conns):
    """The connections that answer a PING while a script runs on another one's event loop
    (the server runs two loops and gives them connections in turn), with their reply."""
    out = []
    for c in conns:
        c.sock.settimeout(0.3)
        c.send_raw(encode("PING"))
        try:
            out.append((c, c.read()))
        except OSError:
            pass
    return out


def test_long_script_busy_kill_and_unkillable(larder):
    c = larder.client()
    c.config_set("busy-reply-threshold", "200")
    # Connected before the script starts, so that some share its loop (those wait) and some
    # do not (those are answered BUSY).
    conns = [Conn(larder.port) for _ in range(6)]
    busy = Conn(larder.port, timeout=30)
    for conn in conns + [busy]:
        assert conn.call("PING") == Reply("+", b"PONG")
    try:
        busy.send_raw(encode("EVAL", "local i = 0 while true do i = i + 1 end", "0"))
        time.sleep(0.6)
        free = answering(conns)
        assert free, "no connection on the other event loop"
        other, reply = free[0]
        assert reply.kind == "-" and reply.value.startswith(b"BUSY Redis is busy running a script"), reply
        assert other.call("FUNCTION", "KILL") == Reply("-", b"NOTBUSY No scripts in execution right now.")
        assert other.call("SCRIPT", "KILL") == Reply("+", b"OK")
        killed = busy.read()
        assert killed.kind == "-" and killed.value.startswith(b"ERR Script killed by user with SCRIPT KILL... script: ")
        assert other.call("PING") == Reply("+", b"PONG")
        # A script that wrote cannot be killed; it is left to end by itself here.
        busy.send_raw(encode("EVAL", "redis.call('set', KEYS[1], 'x') local t = redis.call('time')[1] "
                                     "while redis.call('time')[1] - t < 3 do end return 'done'", "1", "w"))
        time.sleep(0.6)
        assert other.call("SCRIPT", "KILL").value.startswith(b"UNKILLABLE Sorry the script already executed write commands")
        assert busy.read() == Reply("$", b"done")
        assert other.call("GET", "w") == Reply("$", b"x")
    finally:
        for conn in conns + [busy]:
            conn.close()
        try:
            c.script_kill()    # a script a failed assertion left running
        except redis.ResponseError:
            pass
        c.config_set("busy-reply-threshold", "5000")
        c.close()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_connection_made_during_a_busy_script_is_answered(tmp_path, threads):
    """With one event loop (the default on up to 3 cores) the script holds the only loop: a
    connection made then must still be answered, or nobody could send SCRIPT KILL. Clients
    already on the script's loop wait for its end, then are served in order."""
    s = start_larder("--threads", threads, "--busy-reply-threshold", "200", workdir=str(tmp_path))
    try:
        waiting = Conn(s.port, timeout=30)
        assert waiting.call("PING") == Reply("+", b"PONG")
        busy = Conn(s.port, timeout=30)
        assert busy.call("SET", "k", "v") == Reply("+", b"OK")
        busy.send_raw(encode("EVAL", "local i = 0 while true do i = i + 1 end", "0"))
        time.sleep(0.6)
        waiting.send_raw(encode("GET", "k"))
        late = [Conn(s.port, timeout=5) for _ in range(3)]   # whatever loop they are given
        for c in late:
            reply = c.call("GET", "k")
            assert reply.kind == "-" and reply.value.startswith(b"BUSY Redis is busy running a script"), reply
        assert late[0].call("SCRIPT", "KILL") == Reply("+", b"OK")
        assert busy.read().value.startswith(b"ERR Script killed by user with SCRIPT KILL...")
        # On one loop the waiting client was held, not refused; on two it may have been either.
        reply = waiting.read()
        assert reply == Reply("$", b"v") or reply.value.startswith(b"BUSY"), reply
        if threads == "1":
            assert reply == Reply("$", b"v")
        for c in late + [busy, waiting]:
            assert c.call("GET", "k") == Reply("$", b"v")
        # The endless script again, ended by SHUTDOWN NOSAVE from a new connection.
        busy.send_raw(encode("EVAL", "redis.call('set', 'k', 'w') while true do end", "0"))
        time.sleep(0.6)
        last = Conn(s.port, timeout=5)
        assert last.call("SCRIPT", "KILL").value.startswith(b"UNKILLABLE")
        last.send_raw(encode("SHUTDOWN", "NOSAVE"))
        s.proc.wait(timeout=20)
        for c in late + [busy, waiting, last]:
            c.close()
    finally:
        s.stop()


def test_oom_refuses_flagged_scripts_at_once_and_plain_ones_at_their_first_write(larder, oracle):
    for s in (larder, oracle):
        s.client().config_set("maxmemory", "1")
    try:
        for body in ("#!lua\nreturn 1", "#!lua flags=allow-oom\nreturn redis.call('set','k','v')",
                     "#!lua flags=no-writes\nreturn redis.call('get','k')", "return 1",
                     "return redis.call('set','k','v')", "return redis.call('get','k')"):
            run_case(larder, oracle, [("EVAL", body, "0")])
    finally:
        for s in (larder, oracle):
            s.client().config_set("maxmemory", "0")


@pytest.mark.parametrize("which", ["larder", "redis"])
def test_pause_write_holds_scripts_that_may_write(larder, oracle, which):
    server = larder if which == "larder" else oracle
    admin, other = server.client(), server.client()
    try:
        admin.set("k", "1")
        admin.client_pause(500, all=False)
        start = time.time()
        assert other.eval_ro("return redis.call('get', KEYS[1])", 1, "k") == b"1"
        assert time.time() - start < 0.3          # a read-only script goes through
        assert other.eval("return redis.call('incr', KEYS[1])", 1, "k") == 2
        assert time.time() - start >= 0.4         # one that may write waited for the pause
    finally:
        admin.client_unpause()
        admin.close()
        other.close()


def test_scripts_send_keyspace_events_and_invalidate_tracked_keys(larder, oracle):
    """The same events and invalidations from a script's writes on both servers."""
    seen = {}
    for name, server in (("larder", larder), ("redis", oracle)):
        setup = server.client()
        setup.flushall()
        setup.config_set("notify-keyspace-events", "KEA")
        setup.set("tracked", "v")
        tracker = Conn(server.port)
        tracker.call("HELLO", "3")
        tracker.call("CLIENT", "TRACKING", "ON")
        tracker.call("GET", "tracked")
        sub = Conn(server.port)
        sub.call("PSUBSCRIBE", "__keyspace@0__:*")
        setup.eval("redis.call('set', 'tracked', 'w') redis.call('lpush', 'l', 'a') redis.call('del', 'l')", 0)
        events = [sub.read().value[3].value for _ in range(3)]
        invalidation = tracker.read()
        seen[name] = (events, invalidation)
        setup.config_set("notify-keyspace-events", "")
        for c in (tracker, sub):
            c.close()
        setup.close()
    assert seen["larder"] == seen["redis"]
    assert seen["larder"][0] == [b"set", b"lpush", b"del"]


def test_a_signal_stops_the_server_even_inside_an_endless_script(tmp_path):
    s = start_larder(workdir=str(tmp_path))
    busy = Conn(s.port, timeout=10)
    busy.send_raw(encode("EVAL", "redis.call('set', 'k', 'v') while true do end", "0"))
    time.sleep(0.5)
    s.proc.terminate()
    assert s.proc.wait(15) == 0
    reply = busy.read()
    assert reply.kind == "-" and b"shutting down" in reply.value
