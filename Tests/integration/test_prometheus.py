"""What operators look through: INFO as redis-server 7.0 lays it out, and Prometheus's
redis_exporter (Debian's prometheus-redis-exporter) with a real Prometheus scraping it,
pointed at Larder and at redis-server."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import redis

from conftest import free_port
from resp import Conn

# Fields Larder adds (its own version) or keeps from a later Redis (evicted_scripts, 7.4).
LARDER_ONLY = {"larder_version", "evicted_scripts"}


def info_fields(server):
    text = Conn(server.port).call("INFO", "everything").value.decode()
    sections = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# "):
            current = line[2:]
            sections[current] = []
        elif ":" in line:
            sections[current].append(line.split(":", 1)[0])
    return sections


def test_info_sections_and_fields_as_redis(larder, oracle):
    mine, theirs = info_fields(larder), info_fields(oracle)
    assert list(mine) == list(theirs)
    for section in theirs:
        if section in ("Commandstats", "Errorstats", "Latencystats", "Keyspace", "Replication"):
            continue
        assert [f for f in mine[section] if f not in LARDER_ONLY] == theirs[section], section


def test_info_figures_move(larder):
    r = larder.client()
    r.flushall()
    r.set("t", "v", ex=1000)
    r.set("u", "v")
    db0 = r.info("keyspace")["db0"]
    assert db0["keys"] == 2 and db0["expires"] == 1 and 990_000 < db0["avg_ttl"] <= 1_000_000
    # A second of load: the instantaneous rates (sampled every 100 ms over 1.6 s) rise.
    end = time.time() + 1.5
    p = r.pipeline(transaction=False)
    while time.time() < end:
        for i in range(200):
            p.get("u")
        p.execute()
    stats = r.info("stats")
    assert stats["instantaneous_ops_per_sec"] > 0
    assert float(stats["instantaneous_input_kbps"]) > 0 and float(stats["instantaneous_output_kbps"]) > 0
    assert stats["total_reads_processed"] > 0 and stats["total_writes_processed"] > 0
    memory = r.info("memory")
    assert memory["used_memory_startup"] > 0 and memory["allocator_allocated"] > 0
    assert memory["used_memory_overhead"] + memory["used_memory_dataset"] == memory["used_memory"]


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def metric_names(text):
    return {re.split(r"[{ ]", l, 1)[0] for l in text.splitlines() if l and not l.startswith("#")}


@pytest.fixture
def exporters(larder, oracle):
    exe = shutil.which("prometheus-redis-exporter")
    if not exe:
        pytest.fail("prometheus-redis-exporter is not installed (Debian package prometheus-redis-exporter)")
    procs, ports = [], []
    for server in (larder, oracle):
        port = free_port()
        procs.append(subprocess.Popen([exe, "--redis.addr", f"redis://127.0.0.1:{server.port}",
                                       "--web.listen-address", f"127.0.0.1:{port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports.append(port)
    yield ports
    for p in procs:
        p.terminate()
        p.wait(10)


def test_redis_exporter_exports_for_larder_what_it_exports_for_redis(larder, oracle, exporters):
    for server in (larder, oracle):
        c = server.client()
        c.flushall()
        c.set("k", "v", ex=100)
        c.execute_command("CONFIG", "SET", "latency-monitor-threshold", "1")
        c.execute_command("DEBUG", "SLEEP", "0.01")
        c.execute_command("CONFIG", "SET", "slowlog-log-slower-than", "0")
        c.get("k")
        c.execute_command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        c.execute_command("CONFIG", "SET", "latency-monitor-threshold", "0")
    mine, theirs = (wait_http(f"http://127.0.0.1:{p}/metrics") for p in exporters)
    assert "redis_up 1" in mine
    missing = metric_names(theirs) - metric_names(mine)
    assert not missing, sorted(missing)
    for wanted in ["redis_commands_processed_total", "redis_memory_used_bytes", "redis_connected_clients",
                   "redis_latency_percentiles_usec", "redis_slowlog_length", "redis_latency_spike_duration_seconds",
                   "redis_db_keys", "redis_db_avg_ttl_seconds", "redis_net_input_bytes_total"]:
        assert re.search(rf"^{wanted}[{{ ]", mine, re.M), wanted


def test_prometheus_scrapes_larder_through_the_exporter(larder, exporters):
    exe = shutil.which("prometheus")
    if not exe:
        pytest.fail("prometheus is not installed (Debian package prometheus)")
    work = tempfile.mkdtemp(prefix="prom-")
    port = free_port()
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: larder\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{exporters[0]}']\n")
    proc = subprocess.Popen([exe, f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        larder.client().set("scraped", "1")
        deadline = time.time() + 60
        result = []
        while time.time() < deadline:
            try:
                body = urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/query?query=redis_db_keys", timeout=2).read()
                result = json.loads(body)["data"]["result"]
                if result:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert result, "Prometheus never got redis_db_keys"
        assert any(r["metric"].get("db") == "db0" and float(r["value"][1]) >= 1 for r in result)
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


def samples(text):
    """{(name, labels): value} of a Prometheus text page."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$", line)
        assert m, line
        labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def test_metrics_port_serves_what_the_exporter_serves(tmp_path):
    from conftest import start_larder
    metrics_port = free_port()
    larder = start_larder("--metrics-port", str(metrics_port))
    exe = shutil.which("prometheus-redis-exporter")
    exporter_port = free_port()
    exporter = subprocess.Popen([exe, "--redis.addr", f"redis://127.0.0.1:{larder.port}",
                                 "--web.listen-address", f"127.0.0.1:{exporter_port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prom = None
    try:
        c = larder.client()
        for i in range(20):
            c.set(f"k{i}", "v", ex=1000 if i % 2 else None)
        c.select(3)
        c.set("other", "v")
        c.get("nosuch")
        try:
            c.execute_command("NOSUCHCOMMAND")
        except redis.ResponseError:
            pass
        mine_text = wait_http(f"http://127.0.0.1:{metrics_port}/metrics")
        theirs_text = wait_http(f"http://127.0.0.1:{exporter_port}/metrics")
        mine, theirs = samples(mine_text), samples(theirs_text)
        names = lambda s: {n for n, _ in s}
        assert names(mine) <= names(theirs), sorted(names(mine) - names(theirs))
        dashboard = {"redis_up", "redis_uptime_in_seconds", "redis_connected_clients", "redis_blocked_clients",
                     "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_commands_processed_total",
                     "redis_keyspace_hits_total", "redis_keyspace_misses_total", "redis_db_keys",
                     "redis_db_keys_expiring", "redis_expired_keys_total", "redis_evicted_keys_total",
                     "redis_net_input_bytes_total", "redis_net_output_bytes_total", "redis_commands_total",
                     "redis_commands_duration_seconds_total", "redis_connected_slaves", "redis_instance_info",
                     "redis_latency_percentiles_usec", "redis_errors_total", "redis_slowlog_length"}
        assert dashboard <= names(mine), sorted(dashboard - names(mine))
        # What does not move between the two reads is the same, labels included.
        for key in [("redis_db_keys", (("db", "db0"),)), ("redis_db_keys", (("db", "db3"),)),
                    ("redis_db_keys_expiring", (("db", "db0"),)), ("redis_commands_total", (("cmd", "set"),)),
                    ("redis_commands_total", (("cmd", "select"),)), ("redis_memory_max_bytes", ()),
                    ("redis_connected_slaves", ()), ("redis_aof_enabled", ()), ("redis_errors_total", (("err", "ERR"),)),
                    ("redis_up", ())]:
            assert mine[key] == theirs[key], key
        info = [k for k in mine if k[0] == "redis_instance_info"]
        assert info and info[0] in theirs
        assert 900 < mine[("redis_db_avg_ttl_seconds", (("db", "db0"),))] <= 1000
        # Anything but /metrics: 404. Keep-alive requests get their answers on one connection.
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/nothing", timeout=5)
        # A real Prometheus scraping Larder itself.
        work = tempfile.mkdtemp(prefix="prom-direct-")
        port = free_port()
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: larder\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{metrics_port}']\n")
        prom = subprocess.Popen([shutil.which("prometheus"), f"--config.file={work}/prometheus.yml",
                                 f"--storage.tsdb.path={work}/data", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        result = []
        while time.time() < deadline and not result:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?query=redis_db_keys", timeout=2).read()
                result = json.loads(body)["data"]["result"]
            except OSError:
                pass
            time.sleep(0.5)
        assert {r["metric"]["db"]: float(r["value"][1]) for r in result} == {"db0": 20.0, "db3": 1.0}
        assert larder.alive()
    finally:
        if prom:
            prom.terminate()
            prom.wait(20)
        exporter.terminate()
        exporter.wait(10)
        larder.stop()
