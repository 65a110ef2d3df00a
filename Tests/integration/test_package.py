"""The Debian package (scripts/package-deb.sh): its systemd unit passes `systemd-analyze
verify`; installed with dpkg it creates the larder user and its directories; the server, run
as the unit runs it (as that user, supervised by systemd's notify socket), serves from
/var/lib/larder and logs to /var/log/larder; removal keeps the configuration, purge removes
it and the user. Installing needs root, as CI runs."""
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import ROOT, free_port, larder_binary, wait_for_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installing a package needs root")


def run(*argv, **kw):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"
    return proc


def installed():
    return subprocess.run(["dpkg", "-s", "larder"], capture_output=True).returncode == 0


@pytest.fixture
def package(tmp_path):
    out = run(os.path.join(ROOT, "scripts", "package-deb.sh"), "--binary", larder_binary(), "--out", str(tmp_path))
    path = out.stdout.strip().splitlines()[-1]
    yield path
    if installed():
        subprocess.run(["dpkg", "--purge", "larder"], capture_output=True, timeout=120)


def unit_start_command(unit_text):
    line = next(l for l in unit_text.splitlines() if l.startswith("ExecStart="))
    return line.split("=", 1)[1].split()


def test_package_installs_runs_and_purges(package, tmp_path):
    assert not installed(), "a larder package is already installed on this machine"
    contents = run("dpkg-deb", "--contents", package).stdout
    for path in ("./usr/bin/larder-server", "./lib/systemd/system/larder.service", "./etc/larder/larder.conf"):
        assert path in contents
    run("dpkg", "-i", package)
    unit = "/lib/systemd/system/larder.service"
    verify = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    user = pwd.getpwnam("larder")
    for d in ("/var/lib/larder", "/var/log/larder"):
        st = os.stat(d)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid)

    # As systemd runs the unit: its user, its runtime directory, its notify socket. The port
    # is moved off 6379 (a test machine may have redis-server there).
    run_dir = "/run/larder"
    os.makedirs(run_dir, exist_ok=True)
    os.chown(run_dir, user.pw_uid, user.pw_gid)
    notify_dir = tempfile.mkdtemp()
    os.chmod(notify_dir, 0o777)
    notify_path = os.path.join(notify_dir, "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify_path)
    os.chmod(notify_path, 0o777)
    listener.settimeout(30)
    port = free_port()
    argv = unit_start_command(open(unit).read()) + ["--port", str(port)]
    assert argv[0] == "/usr/bin/larder-server"
    proc = subprocess.Popen(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *argv],
                            env={"NOTIFY_SOCKET": notify_path, "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert "READY=1" in listener.recv(4096).decode()
        wait_for_port(port, proc)
        c = redis.Redis(port=port, decode_responses=True)
        c.set("k", "v")
        assert c.config_get("dir")["dir"] == "/var/lib/larder"
        assert c.save()
        assert os.stat("/var/lib/larder/dump.rdb").st_uid == user.pw_uid
        assert int(open("/run/larder/larder-server.pid").read()) == proc.pid
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "Ready to accept connections" in open("/var/log/larder/larder-server.log").read()
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()

    run("dpkg", "-r", "larder")
    assert not os.path.exists("/usr/bin/larder-server")
    assert os.path.exists("/etc/larder/larder.conf")   # a conffile stays until purge
    run("dpkg", "--purge", "larder")
    assert not os.path.exists("/etc/larder") and not os.path.exists("/var/lib/larder")
    with pytest.raises(KeyError):
        pwd.getpwnam("larder")
