#!/usr/bin/env python3
"""Instructions per request of Larder and redis-server, counted by valgrind's callgrind.

Instruction counts do not depend on what else the machine is doing, so they compare builds
and servers where timings cannot. Each server runs under `valgrind --tool=callgrind` with
instrumentation off; it is switched on around a redis-benchmark run of `-n` requests and the
total divided by `-n` (the kernel's share of each read and write is not counted: callgrind
sees user space only).

valgrind 3.19 cannot read the DWARF 5 debug information Swift 6.3 emits, so the Larder binary
and the Swift runtime libraries it loads are copied with their debug sections stripped
(`objcopy --strip-debug`) into a temporary folder first; symbols stay, so a profile still
names functions.

    bench/instructions.py                          # SET and GET, -P 1 and -P 16
    bench/instructions.py --binary /tmp/old-larder-server --no-build
    bench/instructions.py --larder-only --tests get --pipelines 1 --keep /tmp/prof
    bench/instructions.py --tests sadd,hset --pipelines 16 --keys 100000 --cache-sim

`--cache-sim` has callgrind simulate the caches too (as sized on this machine) and adds the
first-level and last-level data read misses per request: where a change is about cache
misses, the count shows what timings on this machine cannot. BENCH_LL=524288,8,64 in the
environment simulates this machine's 512 KB L2 as the last level instead of its L3.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench.common import ROOT, build_release, free_port, write_csv  # noqa: E402


def stripped_larder(binary, folder):
    """A copy of `binary` and of the Swift libraries it links, without debug sections."""
    libs = os.path.join(folder, "libs")
    os.makedirs(libs, exist_ok=True)
    target = os.path.join(folder, "larder-server")
    shutil.copy(binary, target)
    subprocess.run(["objcopy", "--strip-debug", target], check=True)
    for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split("=>")
        if len(parts) == 2 and "/swift/" in parts[1]:
            lib = parts[1].split()[0]
            copy = os.path.join(libs, os.path.basename(lib))
            shutil.copy(lib, copy)
            subprocess.run(["objcopy", "--strip-debug", copy], check=True)
    return target, libs


def wait_ready(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        r = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.5)
    sys.exit("server under valgrind did not start")


def workload(test, port):
    """redis-benchmark's arguments for a test: `-t test`, or, for the scripts of
    bench/scripting.py (evalsha_incr, evalsha_10_commands), their EVALSHA, loaded first."""
    from bench.scripting import SCRIPTS
    if test not in SCRIPTS:
        return ["-t", test]
    body, numkeys = SCRIPTS[test]
    sha = subprocess.run(["redis-cli", "-p", str(port), "SCRIPT", "LOAD", body], check=True, capture_output=True,
                         text=True).stdout.strip()
    return ["EVALSHA", sha, str(numkeys)] + [f"{{s:__rand_int__}}:{i}" for i in range(numkeys)]


def count(name, argv, env, folder, tests, pipelines, requests, keep=None, keys=10000, cache_sim=False, warm=False,
          acl_rules=None):
    """{(test, pipeline): [events per request]}: instructions, then (with cache_sim) D1 and LL
    data read misses."""
    port = free_port()
    out = os.path.join(folder, f"callgrind.{name}")
    vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    if cache_sim:
        vg.append("--cache-sim=yes")
        if os.environ.get("BENCH_LL"):
            vg.append(f"--LL={os.environ['BENCH_LL']}")
    proc = subprocess.Popen(vg + argv + ["--port", str(port)], env=env, cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {}
    try:
        wait_ready(port)
        # --acl-user: the load runs as a user with these rules (what an ACL check costs).
        auth = []
        if acl_rules:
            subprocess.run(["redis-cli", "-p", str(port), "ACL", "SETUSER", "bench", "on", ">bench", *acl_rules.split()],
                           check=True, capture_output=True)
            auth = ["--user", "bench", "-a", "bench"]
        # The keys GET reads, written before counting starts.
        subprocess.run(["redis-benchmark", "-p", str(port), *auth, "-t", "set", "-n", str(2 * keys), "-r", str(keys), "-q"],
                       check=True, capture_output=True)
        for pipeline in pipelines:
            for test in tests:
                if warm:
                    # The same load once uncounted: a set or hash at its full size, as in
                    # compare.py's later rounds, rather than one that grows while counted.
                    subprocess.run(["redis-benchmark", "-p", str(port), *auth, "-n", str(requests), "-c", "50",
                                    "-P", str(pipeline), "-r", str(keys), "-q", *workload(test, port)],
                                   check=True, capture_output=True)
                load = workload(test, port)
                subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
                subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
                subprocess.run(["redis-benchmark", "-p", str(port), *auth, "-n", str(requests), "-c", "50",
                                "-P", str(pipeline), "-r", str(keys), "-q", *load], check=True, capture_output=True)
                subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
                for f in glob.glob(out + "*"):
                    os.remove(f)
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
                totals = None
                events = []
                for f in glob.glob(out + "*"):
                    with open(f) as fh:
                        # "totals:" (the file's last line) is the count; "summary:" can be 0
                        # in a dump taken with instrumentation off.
                        for line in fh:
                            if line.startswith("events:"):
                                events = line.split()[1:]
                            m = re.match(r"totals: ([\d ]+)", line)
                            if m:
                                values = [int(x) for x in m.group(1).split()]
                                totals = values if totals is None else [a + b for a, b in zip(totals, values)]
                named = dict(zip(events, totals or []))
                wanted = ["Ir", "D1mr", "DLmr"] if cache_sim else ["Ir"]
                results[(test, pipeline)] = [named.get(e, 0) / requests for e in wanted]
                if keep:
                    os.makedirs(keep, exist_ok=True)
                    for f in glob.glob(out + "*"):
                        shutil.copy(f, os.path.join(keep, f"{name}-{test}-P{pipeline}.callgrind"))
    finally:
        proc.terminate()
        proc.wait(60)
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tests", default="set,get")
    p.add_argument("--pipelines", default="1,16")
    p.add_argument("--requests", "-n", type=int, default=20000)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "larder-server"))
    p.add_argument("--no-build", action="store_true")
    p.add_argument("--keep", metavar="FOLDER",
                   help="keep each run's callgrind profile there (read it with callgrind_annotate)")
    p.add_argument("--larder-only", action="store_true", help="count Larder alone")
    p.add_argument("--keys", type=int, default=10000, help="redis-benchmark -r: keys (and members) in play")
    p.add_argument("--cache-sim", action="store_true", help="also count simulated data cache read misses")
    p.add_argument("--warm", action="store_true", help="run each test once uncounted first (steady state)")
    p.add_argument("--acl-user", metavar="RULES", help="run the load as an ACL user with these rules, "
                   "e.g. '~key:* +@all -@dangerous' (the cost of checking them)")
    args = p.parse_args()
    for tool in ("valgrind", "callgrind_control", "objcopy", "redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing")
    if not args.no_build:
        build_release()
    tests = args.tests.split(",")
    pipelines = [int(x) for x in args.pipelines.split(",")]
    folder = tempfile.mkdtemp(prefix="bench-instr-")
    binary, libs = stripped_larder(args.binary, folder)
    env = dict(os.environ, LD_LIBRARY_PATH=libs)
    larder = count("larder", [binary, "--save", "", "--dir", folder], env, folder, tests, pipelines, args.requests,
                   args.keep, args.keys, args.cache_sim, args.warm, args.acl_user)
    if args.larder_only:
        for key, values in larder.items():
            print(f"{key[0]:<8}{key[1]:>4}" + "".join(f"{v:>12.2f}" if i else f"{v:>12.0f}" for i, v in enumerate(values)))
        return
    redis = count("redis", ["redis-server", "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--dir", folder],
                  dict(os.environ), folder, tests, pipelines, args.requests, args.keep, args.keys, args.cache_sim,
                  args.warm, args.acl_user)
    rows = []
    header = f"{'test':<8}{'P':>4}{'larder Ir':>12}{'redis Ir':>12}{'ratio':>8}"
    if args.cache_sim:
        header += f"{'larder D1mr':>13}{'redis D1mr':>12}{'larder LLmr':>13}{'redis LLmr':>12}"
    print(header)
    for pipeline in pipelines:
        for test in tests:
            lv, rv = larder[(test, pipeline)], redis[(test, pipeline)]
            line = f"{test:<8}{pipeline:>4}{lv[0]:>12.0f}{rv[0]:>12.0f}{lv[0] / rv[0]:>8.2f}"
            row = {"test": test, "pipeline": pipeline, "keys": args.keys, "larder_instructions": round(lv[0]),
                   "redis_instructions": round(rv[0]), "ratio": round(lv[0] / rv[0], 3)}
            if args.cache_sim:
                line += f"{lv[1]:>13.2f}{rv[1]:>12.2f}{lv[2]:>13.2f}{rv[2]:>12.2f}"
                row.update({"larder_d1_read_misses": round(lv[1], 2), "redis_d1_read_misses": round(rv[1], 2),
                            "larder_ll_read_misses": round(lv[2], 2), "redis_ll_read_misses": round(rv[2], 2)})
            print(line)
            rows.append(row)
    write_csv("instructions", rows)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
