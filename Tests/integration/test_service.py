"""Larder run as a service, as redis-server runs: daemonize with pidfile and logfile, systemd's
notify socket, syslog, Redis's log format, SIGTERM/SIGINT with shutdown-on-sigterm's flags,
shutdown-timeout waiting for replicas (and SHUTDOWN ABORT), the final save failing, the
OOM-killer score, transparent huge pages, the process title, io-threads, --help and config from
standard input. Where redis-server does the same thing, both are run side by side."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from conftest import Server, free_port, larder_binary, start_larder, start_redis, wait_for_port, wait_until

REDIS_LOG_LINE = re.compile(r"^\d+:[MSCX] \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] .+$")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def daemon(exe, port, workdir, *extra):
    """Starts a daemonizing server; answers its pid (from its pidfile) once it listens."""
    pidfile = os.path.join(workdir, "server.pid")
    proc = subprocess.run([exe, "--port", str(port), "--dir", workdir, "--daemonize", "yes",
                           "--pidfile", "server.pid", "--logfile", "server.log", *extra],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wait_until(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), what="pidfile")
    pid = int(open(pidfile).read())
    with socket.create_connection(("127.0.0.1", port), timeout=20):
        pass
    return pid


@pytest.mark.parametrize("larder", [True, False])
def test_daemonize_pidfile_logfile_and_sigterm(tmp_path, larder):
    exe = larder_binary() if larder else shutil.which("redis-server")
    port = free_port()
    pid = daemon(exe, port, str(tmp_path), "--save", "")
    c = redis.Redis(port=port)
    c.set("k", "v")
    assert c.get("k") == b"v"
    c.close()
    # The pid is the daemon's own: the command that started it has already returned.
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_alive(pid), what="exit after SIGTERM")
    assert not (tmp_path / "server.pid").exists()
    lines = (tmp_path / "server.log").read_text().splitlines()
    text = "\n".join(lines)
    for line in ("Ready to accept connections", "Received SIGTERM scheduling shutdown...", "Server initialized",
                 "ready to exit, bye bye..."):
        assert line in text
    # Every line in Redis's format (the logo and blank lines aside, which only a terminal gets;
    # redis-server writes its signal handler's line in a format of its own).
    if larder:
        assert all(REDIS_LOG_LINE.match(l) for l in lines if l.strip()), lines


def test_log_lines_say_the_role(tmp_path):
    primary = start_larder()
    replica = start_larder("--replicaof", "127.0.0.1", str(primary.port))
    try:
        wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", what="link up")
        log = open(os.path.join(replica.workdir, "larder.log")).read().splitlines()
        roles = {l.split(" ", 1)[0].split(":")[1] for l in log if REDIS_LOG_LINE.match(l)}
        assert "S" in roles
    finally:
        replica.stop()
        primary.stop()


def notify_listener(path):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    got = []

    def run():
        while not getattr(s, "closed", False):
            try:
                got.append(s.recv(4096).decode())
            except socket.timeout:
                continue
            except OSError:
                return
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return s, got


@pytest.mark.parametrize("mode", ["systemd", "auto"])
def test_supervised_systemd_notifies_ready_and_stopping(tmp_path, mode):
    sock_path = str(tmp_path / "notify.sock")
    s, got = notify_listener(sock_path)
    port = free_port()
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    # Supervised, daemonize is ignored (as Redis): systemd's Type=notify wants the process it
    # started.
    proc = subprocess.Popen([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "",
                             "--supervised", mode, "--daemonize", "yes"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        wait_until(lambda: any("READY=1" in m for m in got), what="READY=1")
        assert any("STATUS=Ready to accept connections" in m for m in got)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        wait_until(lambda: any("STOPPING=1" in m for m in got), what="STOPPING=1")
    finally:
        if proc.poll() is None:
            proc.kill()
        s.close()


def test_syslog(tmp_path):
    """syslog-enabled with syslog-ident and syslog-facility: the lines reach /dev/log with the
    facility's priority, the ident and the pid (read by a listener on /dev/log when nothing
    else holds it)."""
    if os.path.exists("/dev/log"):
        pytest.skip("a syslog daemon holds /dev/log on this machine")
    s, got = notify_listener("/dev/log")
    port = free_port()
    try:
        server = Server([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "",
                         "--syslog-enabled", "yes", "--syslog-ident", "larder-test", "--syslog-facility", "local3"],
                        port, str(tmp_path), open(tmp_path / "out", "ab"))
        try:
            wait_until(lambda: any("Ready to accept connections tcp" in m for m in got), what="a syslog line")
        finally:
            server.stop()
        line = next(m for m in got if "Ready to accept connections tcp" in m)
        # local3 (19) * 8 + notice (5) = 157
        assert line.startswith("<157>") and f"larder-test[{server.proc.pid}]" in line, line
    finally:
        s.close()
        os.unlink("/dev/log")


def start_pair_with_files(tmp_path, *extra):
    out = []
    for larder in (True, False):
        workdir = tmp_path / ("larder" if larder else "redis")
        workdir.mkdir()
        port = free_port()
        exe = larder_binary() if larder else shutil.which("redis-server")
        out.append(Server([exe, "--port", str(port), "--dir", str(workdir), *extra], port, str(workdir),
                          open(workdir / "out.log", "ab")))
    return out


@pytest.mark.parametrize("setting,saved", [("default", True), ("nosave", False), ("save", True), ("nosave now", False)])
def test_shutdown_on_sigterm(tmp_path, setting, saved):
    servers = start_pair_with_files(tmp_path, "--save", "3600 1", "--shutdown-on-sigterm", setting)
    for s in servers:
        s.client().set("k", "v")
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(20) == 0
        assert os.path.exists(os.path.join(s.workdir, "dump.rdb")) == saved, s.workdir


def test_shutdown_on_sigint_save_without_save_points(tmp_path):
    servers = start_pair_with_files(tmp_path, "--save", "", "--shutdown-on-sigint", "save")
    for s in servers:
        s.client().set("k", "v")
        s.proc.send_signal(signal.SIGINT)
        assert s.proc.wait(20) == 0
        assert os.path.exists(os.path.join(s.workdir, "dump.rdb"))


def test_a_failing_final_save_keeps_the_server_up_unless_forced(tmp_path):
    """dump.rdb is a directory: the final save fails. SHUTDOWN answers Redis's error, SIGTERM
    leaves the server running, SHUTDOWN FORCE and shutdown-on-sigterm force stop it."""
    servers = start_pair_with_files(tmp_path, "--save", "3600 1")
    for s in servers:
        os.mkdir(os.path.join(s.workdir, "dump.rdb"))
        c = s.client()
        c.set("k", "v")
        with pytest.raises(redis.ResponseError, match="^Errors trying to SHUTDOWN. Check logs.$"):
            c.execute_command("SHUTDOWN")
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert s.alive() and c.get("k") == b"v"
        c.config_set("shutdown-on-sigterm", "force")
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(20) == 0


def test_shutdown_force_with_a_failing_save(tmp_path):
    servers = start_pair_with_files(tmp_path, "--save", "3600 1")
    for s in servers:
        os.mkdir(os.path.join(s.workdir, "dump.rdb"))
        c = s.client()
        c.set("k", "v")
        with pytest.raises(redis.ConnectionError):
            c.execute_command("SHUTDOWN", "FORCE")
        assert s.proc.wait(20) == 0


def test_shutdown_arguments_as_redis(tmp_path):
    servers = start_pair_with_files(tmp_path, "--save", "")
    try:
        for s in servers:
            c = s.client()
            with pytest.raises(redis.ResponseError, match="^No shutdown in progress.$"):
                c.execute_command("SHUTDOWN", "ABORT")
            with pytest.raises(redis.ResponseError, match="^syntax error$"):
                c.execute_command("SHUTDOWN", "ABORT", "NOW")
            with pytest.raises(redis.ResponseError, match="^syntax error$"):
                c.execute_command("SHUTDOWN", "SOON")
    finally:
        for s in servers:
            s.stop()


@pytest.mark.parametrize("primary_is_larder", [True, False])
def test_shutdown_waits_for_a_lagging_replica(tmp_path, primary_is_larder):
    """shutdown-timeout: a replica stopped (SIGSTOP) holds SHUTDOWN up to the timeout with
    writes paused; SHUTDOWN ABORT from another client ends the wait (the first gets the error,
    writes go on); resumed, the replica gets every write before the primary stops."""
    primary = start_larder("--shutdown-timeout", "30") if primary_is_larder else start_redis("--shutdown-timeout", "30")
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    try:
        p, r = primary.client(), replica.client()
        wait_until(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
        p.set("before", "1")
        wait_until(lambda: r.get("before") == b"1", what="replicated")
        os.kill(replica.proc.pid, signal.SIGSTOP)
        p.set("lagging", "1")
        result = {}

        def shutdown():
            c = primary.client(socket_timeout=60)
            try:
                c.execute_command("SHUTDOWN", "NOSAVE")
                result["reply"] = "none"
            except redis.ResponseError as e:
                result["reply"] = str(e)
            except redis.ConnectionError:
                result["reply"] = "closed"
        t = threading.Thread(target=shutdown)
        t.start()
        wait_until(lambda: "Waiting for replicas before shutting down" in open(
            os.path.join(primary.workdir, "larder.log" if primary_is_larder else "redis.log")).read(), what="waiting")
        # Writes wait while the shutdown waits; reads go on.
        assert p.get("before") == b"1"
        assert p.execute_command("SHUTDOWN", "ABORT") is True
        t.join(20)
        assert result["reply"] == "Errors trying to SHUTDOWN. Check logs."
        p.set("after-abort", "1")
        # Again, and this time the replica wakes up and catches up before the primary stops.
        t = threading.Thread(target=shutdown)
        t.start()
        time.sleep(0.5)
        assert primary.alive()
        os.kill(replica.proc.pid, signal.SIGCONT)
        t.join(30)
        assert result["reply"] == "closed"
        assert primary.proc.wait(20) == 0
        assert r.get("lagging") == b"1" and r.get("after-abort") == b"1"
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
        replica.stop()
        primary.stop()


def oom_score(pid):
    return int(open(f"/proc/{pid}/oom_score_adj").read())


def test_oom_score_adj_as_redis(tmp_path):
    servers = start_pair_with_files(tmp_path, "--save", "")
    try:
        bases = [oom_score(s.proc.pid) for s in servers]
        for settings in [("absolute", "10 20 30"), ("relative", "100 200 300"), ("yes", "5 0 0"), ("no", "1 2 3"),
                         ("absolute", "2000 0 0")]:
            for s in servers:
                c = s.client()
                c.config_set("oom-score-adj-values", settings[1])
                c.config_set("oom-score-adj", settings[0])
            assert [oom_score(s.proc.pid) - b for s, b in zip(servers, bases)] == \
                   [oom_score(servers[1].proc.pid) - bases[1]] * 2, settings
        # A replica takes the second value.
        larder = servers[0].client()
        larder.config_set("oom-score-adj-values", "10 20 30")
        assert oom_score(servers[0].proc.pid) == 10
        larder.replicaof("127.0.0.1", servers[1].port)
        wait_until(lambda: oom_score(servers[0].proc.pid) == 20, what="replica's score")
        larder.replicaof("no", "one")
        wait_until(lambda: oom_score(servers[0].proc.pid) == 10, what="primary's score")
    finally:
        for s in servers:
            s.stop()


@pytest.mark.parametrize("disable,enabled", [("yes", "0"), ("no", "1")])
def test_disable_thp(tmp_path, disable, enabled):
    if "THP_enabled" not in open("/proc/self/status").read():
        pytest.skip("this kernel does not report THP_enabled")
    port = free_port()
    server = Server([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "", "--disable-thp", disable],
                    port, str(tmp_path), open(tmp_path / "out", "ab"))
    try:
        status = open(f"/proc/{server.proc.pid}/status").read()
        assert re.search(r"THP_enabled:\s+(\d)", status).group(1) == enabled
    finally:
        server.stop()


def cmdline(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read().rstrip(b"\0").decode()


def test_process_title(tmp_path):
    port = free_port()
    server = Server([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "",
                     "--bind", "127.0.0.1"], port, str(tmp_path), open(tmp_path / "out", "ab"))
    try:
        assert cmdline(server.proc.pid) == f"{larder_binary()} 127.0.0.1:{port}"
        c = server.client()
        c.config_set("proc-title-template", "{title} port={port} {unixsocket}x")
        assert cmdline(server.proc.pid) == f"{larder_binary()} port={port} x"
        with pytest.raises(redis.ResponseError, match="template format is invalid"):
            c.config_set("proc-title-template", "{nosuch}")
    finally:
        server.stop()
    port = free_port()
    server = Server([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "", "--set-proc-title", "no"],
                    port, str(tmp_path), open(tmp_path / "out", "ab"))
    try:
        assert "--set-proc-title" in cmdline(server.proc.pid).replace("\0", " ")
    finally:
        server.stop()


def test_io_threads_become_event_loops(tmp_path):
    port = free_port()
    server = Server([larder_binary(), "--port", str(port), "--dir", str(tmp_path), "--save", "", "--io-threads", "3"],
                    port, str(tmp_path), open(tmp_path / "out", "ab"))
    try:
        names = [open(f"/proc/{server.proc.pid}/task/{t}/comm").read().strip()
                 for t in os.listdir(f"/proc/{server.proc.pid}/task")]
        assert sum(1 for n in names if n.startswith("NIO-ELT")) == 3, names
        assert server.client().config_get("io-threads") == {"io-threads": "3"}
    finally:
        server.stop()


def test_help_version_and_config_from_stdin(tmp_path):
    for exe in (larder_binary(), shutil.which("redis-server")):
        helped = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=20)
        assert helped.returncode == 1 and helped.stderr.startswith("Usage: ./") and "(read config from stdin)" in helped.stderr
        version = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=20)
        assert version.returncode == 0 and " v=" in version.stdout and "bits=64" in version.stdout
    port = free_port()
    conf = tmp_path / "base.conf"
    conf.write_text(f"port 1\ndir {tmp_path}\nsave \"\"\nmaxmemory 1mb\n")
    proc = subprocess.Popen([larder_binary(), str(conf), "--maxmemory", "3mb", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.stdin.write(f"port {port}\nmaxmemory 2mb\nhz 15\n".encode())
    proc.stdin.close()
    try:
        wait_for_port(port, proc)
        c = redis.Redis(port=port, decode_responses=True)
        # The file, then standard input, then the flags.
        assert c.config_get("maxmemory")["maxmemory"] == str(3 << 20)
        assert c.config_get("hz")["hz"] == "15"
    finally:
        proc.terminate()
        proc.wait(10)


def test_writes_resume_when_a_waiting_shutdown_fails(tmp_path):
    """Writes paused while lagging replicas were waited for come back when the final save
    then fails and the server stays up. (Larder only: redis-server 7.0.15 fails an assertion
    here, networking.c 'c->argc == 0', and exits.)"""
    primary = start_larder("--shutdown-timeout", "1", "--save", "3600 1")
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    try:
        p, r = primary.client(socket_timeout=20), replica.client()
        wait_until(lambda: r.info("replication")["master_link_status"] == "up", what="link up")
        data_dir = p.config_get("dir")["dir"]
        os.mkdir(os.path.join(data_dir, "dump.rdb"))
        os.kill(replica.proc.pid, signal.SIGSTOP)
        p.set("lagging", "1")
        with pytest.raises(redis.ResponseError, match="^Errors trying to SHUTDOWN. Check logs.$"):
            p.execute_command("SHUTDOWN")
        started = time.time()
        p.set("after", "1")
        assert time.time() - started < 2 and p.get("after") == b"1"
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
        replica.stop()
        primary.proc.kill()
        primary.proc.wait()
