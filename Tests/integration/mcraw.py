"""A raw memcached protocol client: sends bytes as they are and reads the replies back, so that
malformed lines reach the server unchanged."""
import re
import socket
import time

SENTINEL = b"mn\r\n"
SENTINEL_REPLY = b"MN\r\n"


class MC:
    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed = False

    def exchange(self, data, sentinel=True, quiet=0.3):
        """Sends `data` and returns what came back. With `sentinel`, an `mn` follows and the
        reply ends at its MN; without, reading stops after `quiet` seconds of silence or when
        the server closes (then b"<closed>" ends the reply)."""
        self.sock.sendall(data + (SENTINEL if sentinel else b""))
        # The data may hold mn commands of its own: wait for the sentinel's MN, the last.
        wanted = 1 + sum(1 for line in data.split(b"\n") if line.split(b" ")[0].rstrip(b"\r") == b"mn")
        out = b""
        deadline = time.time() + 10
        self.sock.settimeout(quiet if not sentinel else 10)
        while time.time() < deadline:
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                if not sentinel:
                    break
                if out.endswith(SENTINEL_REPLY):
                    # Fewer MN than mn lines: one was taken as data. The last MN is ours.
                    return out[: -len(SENTINEL_REPLY)]
                raise
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return out + b"<closed>"
            out += chunk
            if sentinel and out.endswith(SENTINEL_REPLY):
                if out.count(SENTINEL_REPLY) >= wanted:
                    return out[: -len(SENTINEL_REPLY)]
                self.sock.settimeout(quiet)
        return out

    def close(self):
        self.sock.close()


_value_cas = re.compile(rb"^(VALUE \S+ \d+ \d+) (\d+)(?=\r$)", re.M)
_meta_cas = re.compile(rb"^((?:HD|VA|EN|NF|NS|EX)\b[^\r\n]*?) c(\d+)", re.M)
_me_cas = re.compile(rb"cas=(\d+)")


class CasNames:
    """Replaces CAS uniques by their order of first appearance: memcached and Larder count
    them differently, but the same history must show the same pattern."""

    def __init__(self):
        self.names = {}
        self.last = None

    def name(self, raw):
        self.last = raw
        if raw not in self.names:
            self.names[raw] = b"#%d" % len(self.names)
        return self.names[raw]

    def normalize(self, out):
        out = _value_cas.sub(lambda m: m.group(1) + b" " + self.name(m.group(2)), out)
        # A meta line may carry a c flag after others; repeat until none is left raw.
        prev = None
        while prev != out:
            prev = out
            out = _meta_cas.sub(lambda m: m.group(1) + b" c" + self.name(m.group(2)), out, count=1)
        return _me_cas.sub(lambda m: b"cas=" + self.name(m.group(1)), out)
