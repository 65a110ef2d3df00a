"""redis-cli and redis-benchmark, the tools a new user reaches for first."""
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
