"""redis-cli and redis-benchmark, the tools a new user reaches for first."""
import re
import shutil
import subprocess

import pytest


def cli(port, *args, stdin=None):
    p = subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


@pytest.fixture(autouse=True)
def need_tools():
    if not shutil.which("redis-cli"):
        pytest.exit("redis-cli is not installed (Debian package redis-tools)", returncode=2)


def test_redis_cli_session(larder, oracle):
    script = b"SET greeting hello\nGET greeting\nINCR visits\nINCRBY visits 10\nEXPIRE greeting 100\nTTL greeting\n" \
             b"MSET a 1 b 2\nMGET a b nope\nKEYS nomatch*\nDEL a b\nGET\nSET x\nNOSUCH cmd\nTYPE greeting\nSTRLEN greeting\n"
    for p in (larder.port, oracle.port):
        cli(p, "FLUSHALL")
    assert cli(larder.port, stdin=script) == cli(oracle.port, stdin=script)


def test_redis_cli_info_and_scan(larder):
    cli(larder.port, "FLUSHALL")
    for i in range(25):
        cli(larder.port, "SET", f"cli:{i}", str(i))
    keys = cli(larder.port, "--scan", "--pattern", "cli:*").split()
    assert sorted(keys) == sorted(f"cli:{i}" for i in range(25))
    assert "redis_version:" in cli(larder.port, "INFO", "server")
    assert cli(larder.port, "--no-raw", "DBSIZE").strip() == "(integer) 25"


def test_redis_benchmark_runs_to_the_end(larder):
    if not shutil.which("redis-benchmark"):
        pytest.skip("redis-benchmark missing")
    p = subprocess.run(["redis-benchmark", "-p", str(larder.port), "-t", "set,get,incr,mset", "-P", "16",
                        "-n", "20000", "-r", "1000", "-q"], capture_output=True, timeout=300)
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr
    for name in ["SET", "GET", "INCR", "MSET"]:
        assert f"{name}:" in out or f"{name} (10 keys):" in out, out
    assert "requests per second" in out


def fill(port):
    cli(port, "FLUSHALL")
    script = "".join(f"SET s:{i} {'x' * (i * 7)}\n" for i in range(40)) + "RPUSH l a b c d\nHSET h a 1 b 2\n" \
             "SADD set 1 2 3\nZADD z 1 a 2 b\nXADD st * f v\nSET big " + "y" * 5000 + "\n"
    cli(port, stdin=script.encode())


def summary(text):
    """The part of --bigkeys / --memkeys / --hotkeys output that does not depend on timing or on
    memory accounting details: the biggest key of each type and the per-type counts."""
    return [l for l in text.splitlines() if l.startswith(("Biggest", "Sampled")) or " keys, avg size" in l
            or re.match(r"^\d+ \w+ with", l)]


def test_redis_cli_tools_as_against_redis(larder, oracle):
    for p in (larder.port, oracle.port):
        fill(p)
    # --bigkeys finds the same biggest keys and counts on both.
    big = [summary(cli(p, "--bigkeys")) for p in (larder.port, oracle.port)]
    assert big[0] == big[1] and big[0]
    # --memkeys names a biggest key of each type (sizes are each server's MEMORY USAGE).
    mem = cli(larder.port, "--memkeys")
    assert "Biggest string found '\"big\"'" in mem and "Sampled 45 keys" in mem
    # --hotkeys needs an LFU policy, as on Redis.
    refusals = [subprocess.run(["redis-cli", "-p", str(p), "--hotkeys"], capture_output=True, timeout=30)
                for p in (larder.port, oracle.port)]
    assert refusals[0].returncode == refusals[1].returncode == 1
    assert refusals[0].stderr == refusals[1].stderr and b"LFU" in refusals[0].stderr
    for p in (larder.port, oracle.port):
        cli(p, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        for _ in range(30):
            cli(p, "GET", "s:1")
    try:
        hot = cli(larder.port, "--hotkeys")
        assert re.search(r'hot key found with counter: \d+\s+keyname: "s:1"', hot), hot
    finally:
        for p in (larder.port, oracle.port):
            cli(p, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    # --pipe's mass insertion and its end-of-transfer check.
    pipe = "".join(f"SET p:{i} {i}\r\n" for i in range(2000)).encode()
    out = cli(larder.port, "--pipe", stdin=pipe)
    assert "errors: 0, replies: 2000" in out
    assert cli(larder.port, "GET", "p:1999").strip() == "1999"
    # --eval, and -3 (RESP3 replies).
    assert cli(larder.port, "--eval", "/dev/stdin", "s:1", ",", "arg",
               stdin=b"return {KEYS[1], ARGV[1]}").split() == ["s:1", "arg"]
    assert cli(larder.port, "-3", "--no-raw", "HGETALL", "h") == cli(oracle.port, "-3", "--no-raw", "HGETALL", "h")
    # --stat prints a line a second (under a terminal, as script(1) gives it).
    p = subprocess.run(["timeout", "3", "script", "-qc", f"redis-cli -p {larder.port} --stat", "/dev/null"],
                       capture_output=True, timeout=20)
    assert b"keys       mem" in p.stdout and b"2045" in p.stdout, p.stdout
    # --latency answers with a sample count (-i: how often; --raw prints one line and stops).
    lat = subprocess.run(["redis-cli", "-p", str(larder.port), "--latency", "--raw", "-i", "1"],
                         capture_output=True, timeout=30).stdout.decode().split()
    assert len(lat) == 4 and int(lat[3]) > 0
