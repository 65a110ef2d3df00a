"""TLS: the TLS port with client certificates required, optional or not asked for, as
redis-server 7.0 (Debian's, built with TLS) does with the same files; redis-cli, redis-py and
redis-benchmark over TLS; certificates replaced by CONFIG SET; replication over TLS both ways."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest
import redis

import tlscerts
from conftest import Server, free_port, larder_binary


@pytest.fixture(scope="module")
def certs():
    folder = tempfile.mkdtemp(prefix="tls-")
    yield tlscerts.make(folder)
    shutil.rmtree(folder, ignore_errors=True)


def tls_flags(certs, tls_port, server="server", ca=True):
    crt, key = certs[server]
    flags = ["--tls-port", str(tls_port), "--tls-cert-file", crt, "--tls-key-file", key]
    if ca:
        flags += ["--tls-ca-cert-file", certs["ca"]]
    return flags


def start(larder, certs, *extra, plain=True, server="server"):
    """A server with a TLS port (and a plain one unless `plain` is False: `port 0`)."""
    workdir = tempfile.mkdtemp(prefix="tls-server-")
    tls_port = free_port()
    port = free_port() if plain else 0
    exe = larder_binary() if larder else shutil.which("redis-server")
    argv = [exe, "--port", str(port), "--save", "", "--dir", workdir, *tls_flags(certs, tls_port, server), *extra]
    if larder:
        argv += ["--threads", "2"]
    s = Server(argv, tls_port, workdir, open(os.path.join(workdir, "server.log"), "ab"))
    s.tls_port = tls_port
    s.plain_port = port
    return s


def client_context(certs, client="client", verify_server=True):
    ctx = ssl.create_default_context(cafile=certs["ca"])
    if not verify_server:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client:
        ctx.load_cert_chain(*certs[client])
    return ctx


def ping(port, ctx, timeout=5):
    """PING over TLS: the reply, or the exception's class name when refused."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            data = s.recv(100)
            return data if data else "closed"
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return "refused"


@pytest.fixture(scope="module")
def pair(certs):
    servers = [start(True, certs), start(False, certs)]
    yield servers
    for s in servers:
        s.stop()


def test_clients_with_and_without_good_certificates(certs, pair):
    for s in pair:
        assert ping(s.tls_port, client_context(certs)) == b"+PONG\r\n"
    cases = {
        "no certificate": client_context(certs, client=None),
        "another CA": client_context(certs, client="foreign"),
        "expired": client_context(certs, client="expired"),
    }
    for what, ctx in cases.items():
        outcomes = [ping(s.tls_port, ctx) for s in pair]
        assert outcomes == ["refused", "refused"], (what, outcomes)
    # Plain RESP to the TLS port: no reply, the connection dropped, the server goes on.
    for s in pair:
        with socket.create_connection(("127.0.0.1", s.tls_port), timeout=5) as raw:
            raw.sendall(b"*1\r\n$4\r\nPING\r\n")
            try:
                data = raw.recv(100)
            except ConnectionResetError:
                data = b""
            assert b"PONG" not in data
        assert ping(s.tls_port, client_context(certs)) == b"+PONG\r\n"
    # The plain port is still plain.
    for s in pair:
        assert redis.Redis(port=s.plain_port).ping()


def test_redis_cli_redis_py_and_redis_benchmark(certs, pair):
    larder = pair[0]
    crt, key = certs["client"]
    cli = ["redis-cli", "-p", str(larder.tls_port), "--tls", "--cert", crt, "--key", key, "--cacert", certs["ca"]]
    assert subprocess.run(cli + ["SET", "k", "over tls"], capture_output=True, text=True, timeout=10).stdout.strip() == "OK"
    assert subprocess.run(cli + ["GET", "k"], capture_output=True, text=True, timeout=10).stdout.strip() == "over tls"
    r = redis.Redis(port=larder.tls_port, ssl=True, ssl_certfile=crt, ssl_keyfile=key, ssl_ca_certs=certs["ca"])
    assert r.get("k") == b"over tls"
    big = os.urandom(300_000)
    r.set("big", big)
    assert r.get("big") == big
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.incr("n")
    assert p.execute()[-1] == 1000
    # Pub/sub over TLS: pushed messages go through the same TLS connection.
    sub = redis.Redis(port=larder.tls_port, ssl=True, ssl_certfile=crt, ssl_keyfile=key, ssl_ca_certs=certs["ca"]).pubsub()
    sub.subscribe("ch")
    assert sub.get_message(timeout=5)["type"] == "subscribe"
    r.publish("ch", "hello")
    m = sub.get_message(timeout=5)
    assert m and m["data"] == b"hello"
    out = subprocess.run(["redis-benchmark", "-p", str(larder.tls_port), "--tls", "--cert", crt, "--key", key,
                          "--cacert", certs["ca"], "-t", "set,get", "-n", "2000", "-P", "16", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert "SET:" in out.stdout and "GET:" in out.stdout, out.stdout + out.stderr
    assert larder.alive()


@pytest.mark.parametrize("mode", ["no", "optional"])
def test_client_certificates_optional_or_not_asked(certs, mode):
    servers = [start(True, certs, "--tls-auth-clients", mode), start(False, certs, "--tls-auth-clients", mode)]
    try:
        for what in (None, "client", "foreign", "expired"):
            outcomes = [ping(s.tls_port, client_context(certs, client=what)) for s in servers]
            assert outcomes[0] == outcomes[1], (mode, what, outcomes)
    finally:
        for s in servers:
            s.stop()


def test_tls_only_and_a_key_under_a_passphrase(certs):
    s = start(True, certs, "--tls-key-file-pass", "s3cret", plain=False, server="server_pass")
    try:
        assert ping(s.tls_port, client_context(certs)) == b"+PONG\r\n"
        r = redis.Redis(port=s.tls_port, ssl=True, ssl_certfile=certs["client"][0], ssl_keyfile=certs["client"][1],
                        ssl_ca_certs=certs["ca"])
        assert r.config_get("port") == {"port": "0"}
    finally:
        s.stop()
    # A wrong passphrase: the server does not start, as redis-server.
    out = subprocess.run([larder_binary(), "--port", str(free_port()), "--save", "",
                          *tls_flags(certs, free_port(), "server_pass"), "--tls-key-file-pass", "wrong"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "Failed to configure TLS" in out.stdout + out.stderr


def peer_name(port, certs):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with client_context(certs).wrap_socket(raw, server_hostname="127.0.0.1") as s:
        cert = s.getpeercert()
        return dict(x[0] for x in cert["subject"])["commonName"]


def test_certificates_replaced_by_config_set(certs):
    servers = [start(True, certs), start(False, certs)]
    try:
        for s in servers:
            c = redis.Redis(port=s.plain_port)
            assert peer_name(s.tls_port, certs) == "larder-server"
            crt, key = certs["server2"]
            # Both in one CONFIG SET: a certificate with the old key would not load.
            assert c.execute_command("CONFIG", "SET", "tls-cert-file", crt, "tls-key-file", key) == b"OK"
            assert peer_name(s.tls_port, certs) == "larder-server-renewed"
        results = []
        for s in servers:
            c = redis.Redis(port=s.plain_port)
            try:
                c.config_set("tls-cert-file", "/nonexistent.crt")
                results.append("accepted")
            except redis.ResponseError as e:
                results.append(str(e))
            assert c.config_get("tls-cert-file")["tls-cert-file"] == certs["server2"][0]
            assert peer_name(s.tls_port, certs) == "larder-server-renewed"
        assert results[0] == results[1]
    finally:
        for s in servers:
            s.stop()


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("primary_is_larder,replica_is_larder", [(True, True), (True, False), (False, True)])
def test_replication_over_tls(certs, primary_is_larder, replica_is_larder):
    primary = start(primary_is_larder, certs)
    replica = None
    try:
        p = redis.Redis(port=primary.plain_port)
        p.set("before", "1")
        replica = start(replica_is_larder, certs, "--tls-replication", "yes",
                        "--replicaof", "127.0.0.1", str(primary.tls_port))
        r = redis.Redis(port=replica.plain_port)
        assert wait_for(lambda: r.get("before") == b"1"), r.info("replication")
        p.set("after", "2")
        assert wait_for(lambda: r.get("after") == b"2")
        assert r.info("replication")["master_link_status"] == "up"
    finally:
        for s in (replica, primary):
            if s:
                s.stop()


def test_memcached_port_over_tls(certs):
    """memcached-tls: the memcached protocol inside TLS, as memcached -Z, with pymemcache."""
    from pymemcache.client.base import Client as MC
    mc_port = free_port()
    larder = start(True, certs, "--memcached-port", str(mc_port), "--memcached-tls", "yes")
    mc_workdir = tempfile.mkdtemp(prefix="mc-tls-")
    real_port = free_port()
    crt, key = certs["server"]
    memcached = subprocess.Popen(["memcached", "-U", "0", "-l", "127.0.0.1", "-p", str(real_port), "-u", "nobody", "-Z",
                                  "-o", f"ssl_chain_cert={crt},ssl_key={key},ssl_ca_cert={certs['ca']}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=mc_workdir)
    try:
        assert wait_for(lambda: _can_connect(real_port))
        results = []
        for port in (mc_port, real_port):
            c = MC(("127.0.0.1", port), tls_context=client_context(certs), connect_timeout=5, timeout=5)
            c.set("k", b"over tls")
            results.append((c.get("k"), c.incr("n", 1), c.add("k", b"x"), c.delete("k"), c.get("k")))
            c.close()
        assert results[0] == results[1]
        # Plain text to the TLS memcached port gets nothing back.
        with socket.create_connection(("127.0.0.1", mc_port), timeout=5) as raw:
            raw.sendall(b"version\r\n")
            try:
                data = raw.recv(100)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"VERSION")
        assert larder.alive()
    finally:
        memcached.terminate()
        memcached.wait(10)
        larder.stop()


def _can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_tls_port_moved_by_config_set(certs):
    """CONFIG SET tls-port opens the new port and closes the old one (0: none), as Redis."""
    servers = [start(True, certs), start(False, certs)]
    try:
        for s in servers:
            c = redis.Redis(port=s.plain_port)
            new = free_port()
            assert c.config_set("tls-port", str(new))
            assert ping(new, client_context(certs)) == b"+PONG\r\n"
            assert wait_for(lambda: not _can_connect(s.tls_port))
            busy = socket.socket()
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            with pytest.raises(redis.ResponseError, match="Unable to listen on this port"):
                c.config_set("tls-port", str(busy.getsockname()[1]))
            busy.close()
            assert c.config_get("tls-port")["tls-port"] == str(new)
            assert ping(new, client_context(certs)) == b"+PONG\r\n"
            assert c.config_set("tls-port", "0")
            assert wait_for(lambda: not _can_connect(new))
            assert c.ping()
    finally:
        for s in servers:
            s.stop()
