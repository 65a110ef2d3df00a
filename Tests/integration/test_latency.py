"""LATENCY and INFO latencystats, side by side with redis-server: the same events recorded
for the same slow commands, the same shapes, the same errors. Latencies themselves differ
between two servers, so values are checked for what they must be, not compared."""
import re

from resp import Reply


def fields(reply):
    return [v.value for v in reply.value]


def test_help_and_errors(diff):
    for args in [("LATENCY", "HELP"), ("LATENCY",), ("LATENCY", "NOSUCH"), ("LATENCY", "HISTORY"),
                 ("LATENCY", "GRAPH"), ("LATENCY", "GRAPH", "nosuch"), ("LATENCY", "HISTORY", "nosuch"),
                 ("LATENCY", "LATEST", "x"), ("LATENCY", "DOCTOR", "x"), ("CONFIG", "GET", "latency*")]:
        diff.check(*args, unordered=args[:2] == ("CONFIG", "GET"))


def test_slow_commands_are_recorded_over_the_threshold(diff):
    diff.both("LATENCY", "RESET")
    diff.check("CONFIG", "SET", "latency-monitor-threshold", "20")
    try:
        diff.both("DEBUG", "SLEEP", "0")          # under the threshold: nothing
        diff.check("LATENCY", "LATEST")
        diff.both("DEBUG", "SLEEP", "0.05")
        for server in (diff.larder, diff.redis):
            latest = server.call("LATENCY", "LATEST").value
            assert len(latest) == 1
            name, when, last, worst = fields(latest[0])
            assert name == b"command" and last >= 50 and worst >= last and when > 1_700_000_000
            history = server.call("LATENCY", "HISTORY", "command").value
            assert len(history) == 1 and fields(history[0])[1] >= 50
            graph = server.call("LATENCY", "GRAPH", "command").value
            assert graph.startswith(b"command - high ")
            assert b"latency spikes" in server.call("LATENCY", "DOCTOR").value
        diff.check("LATENCY", "RESET", "nosuch", "command")
        diff.check("LATENCY", "LATEST")
        diff.check("LATENCY", "HISTORY", "command")
        diff.check("LATENCY", "RESET")
    finally:
        diff.check("CONFIG", "SET", "latency-monitor-threshold", "0")


def histogram(reply):
    """{command: (calls, [(bucket, cumulative)])} from LATENCY HISTOGRAM (RESP2)."""
    out = {}
    items = reply.value
    for i in range(0, len(items), 2):
        f = fields(items[i + 1])
        calls = f[f.index(b"calls") + 1]
        buckets = items[i + 1].value[f.index(b"histogram_usec") + 1].value
        out[items[i].value] = (calls, [(buckets[j].value, buckets[j + 1].value) for j in range(0, len(buckets), 2)])
    return out


def test_histograms_and_latencystats(diff):
    diff.check("CONFIG", "RESETSTAT")
    for i in range(30):
        diff.both("SET", f"k{i}", "v")
        diff.both("GET", f"k{i}")
    diff.both("HSET", "h", "f", "v")
    mine = histogram(diff.larder.call("LATENCY", "HISTOGRAM", "set", "get", "hset", "nosuch"))
    theirs = histogram(diff.redis.call("LATENCY", "HISTOGRAM", "set", "get", "hset", "nosuch"))
    assert {k: v[0] for k, v in mine.items()} == {k: v[0] for k, v in theirs.items()} == {b"set": 30, b"get": 30, b"hset": 1}
    for calls, buckets in mine.values():
        bounds = [b for b, _ in buckets]
        counts = [n for _, n in buckets]
        assert bounds == sorted(bounds) and counts == sorted(counts) and counts[-1] == calls
    # Every command called so far, the container commands' subcommands by their full names.
    everything = histogram(diff.larder.call("LATENCY", "HISTOGRAM"))
    assert {b"set", b"get", b"hset", b"config|resetstat"} <= set(everything)
    info = diff.larder.call("INFO", "latencystats").value.decode()
    assert info.startswith("# Latencystats")
    line = re.search(r"^latency_percentiles_usec_set:(.*)$", info, re.M).group(1).strip()
    assert re.fullmatch(r"p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}", line), line
    theirs_info = diff.redis.call("INFO", "latencystats").value.decode()
    names = lambda text: set(re.findall(r"^latency_percentiles_usec_([^:]+):", text, re.M))
    assert {"set", "get", "hset"} <= names(info) & names(theirs_info)
    # The percentiles to show, and turning tracking off.
    diff.check("CONFIG", "SET", "latency-tracking-info-percentiles", "50 90")
    assert re.search(r"^latency_percentiles_usec_get:p50=[\d.]+,p90=[\d.]+\r?$",
                     diff.larder.call("INFO", "latencystats").value.decode(), re.M)
    diff.check("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")
    diff.check("CONFIG", "SET", "latency-tracking", "no")
    try:
        diff.check("INFO", "latencystats")
    finally:
        diff.check("CONFIG", "SET", "latency-tracking", "yes")
    # INFO everything has the section, in Redis's place.
    sections = re.findall(r"^# (\w+)", diff.larder.call("INFO", "everything").value.decode(), re.M)
    assert sections == re.findall(r"^# (\w+)", diff.redis.call("INFO", "everything").value.decode(), re.M)
