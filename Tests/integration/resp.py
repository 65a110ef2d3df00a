"""A minimal RESP client over a raw socket, for byte-exact checks and malformed input.

redis-py normalises replies; the compatibility contract is about the bytes, so the
differential tests and the bad-input tests speak RESP themselves.
"""
import socket


class Reply:
    """A parsed reply that keeps its RESP type, so that +OK and $2\\r\\nOK differ."""

    __slots__ = ("kind", "value")

    def __init__(self, kind, value):
        self.kind = kind
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Reply) and self.kind == other.kind and self.value == other.value

    def __hash__(self):
        return hash((self.kind, repr(self.value)))

    def __repr__(self):
        return f"{self.kind}{self.value!r}"


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return Reply(t.decode(), rest)
        if t in (b":",):
            return Reply(":", int(rest))
        if t in (b",", b"("):
            return Reply(t.decode(), rest)
        if t == b"#":
            return Reply("#", rest == b"t")
        if t == b"_":
            return Reply("_", None)
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return Reply("$", None)
            return Reply(t.decode(), self._exact(n))
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return Reply("*", None)
            return Reply(t.decode(), tuple(self.read() for _ in range(n)))
        if t == b"%":
            n = int(rest)
            return Reply("%", tuple((self.read(), self.read()) for _ in range(n)))
        raise ValueError(f"bad reply line {line!r}")

    def call(self, *args):
        self.send_raw(encode(*args))
        return self.read()

    def is_closed(self, timeout=2.0):
        """True when the server closed the connection (reads EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True
