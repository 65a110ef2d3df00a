"""A replication tap: attaches to a primary as a replica would (PSYNC ? -1), skips the RDB,
and reads the command stream that follows, so tests can compare what Larder and
redis-server propagate. Also reads an AOF's commands, which must be the same stream."""
import glob
import os
import re
import socket
import time

from resp import encode


def parse_commands(data):
    """The RESP arrays in `data` as lists of bytes, and the bytes left over (a partial one)."""
    out = []
    pos = 0
    while pos < len(data):
        if data[pos:pos + 1] == b"\n":          # a keepalive newline before the payload
            pos += 1
            continue
        if data[pos:pos + 1] != b"*":
            raise ValueError(f"not a command at {pos}: {data[pos:pos + 40]!r}")
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        n = int(data[pos + 1:end])
        p = end + 2
        args = []
        for _ in range(n):
            e = data.find(b"\r\n", p)
            if e < 0:
                return out, data[pos:]
            size = int(data[p + 1:e])
            if len(data) < e + 2 + size + 2:
                return out, data[pos:]
            args.append(data[e + 2:e + 2 + size])
            p = e + 2 + size + 2
        if len(args) < n:
            return out, data[pos:]
        out.append(args)
        pos = p
    return out, data[pos:]


class StreamTap:
    """A socket that asked for a full resynchronization and now receives the stream."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.sock.sendall(encode("REPLCONF", "listening-port", "0"))
        self._expect_line(b"+OK")
        self.sock.sendall(encode("PSYNC", "?", "-1"))
        line = self._expect_line(b"+FULLRESYNC")
        self.offset = int(line.split()[2])
        # The RDB: `$<len>\r\n` and that many bytes (keepalive newlines may come first).
        while True:
            self._fill_until(lambda: len(self.buf) > 0)
            if self.buf.startswith(b"\n"):
                self.buf = self.buf[1:]
                continue
            break
        header = self._line()
        assert header.startswith(b"$") and not header.startswith(b"$EOF:"), header
        size = int(header[1:])
        self._fill_until(lambda: len(self.buf) >= size)
        self.buf = self.buf[size:]
        self.pending = []

    def close(self):
        self.sock.close()

    def _fill_until(self, done, timeout=10):
        self.sock.settimeout(timeout)
        while not done():
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the primary closed the link")
            self.buf += chunk

    def _line(self):
        self._fill_until(lambda: b"\r\n" in self.buf)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _expect_line(self, prefix):
        line = self._line()
        assert line.startswith(prefix), line
        return line

    def commands_until(self, marker):
        """Every command up to (not including) `SET <marker> ...`, the primary's PINGs left out."""
        found = []
        deadline = time.time() + 10
        while True:
            cmds, self.buf = parse_commands(self.buf)
            for c in cmds:
                if c[0].upper() == b"SET" and len(c) > 1 and c[1] == marker:
                    return [x for x in found if x[0].upper() != b"PING"]
                found.append(c)
            assert time.time() < deadline, f"no marker in the stream; got {found!r}"
            self._fill_until(lambda: b"\r\n" in self.buf and len(self.buf) > 0, timeout=10)
            if not parse_commands(self.buf)[0]:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the primary closed the link")
                self.buf += chunk


def aof_commands(workdir):
    """The commands of the newest incremental AOF file under `workdir`."""
    files = sorted(glob.glob(os.path.join(workdir, "**", "*.incr.aof"), recursive=True),
                   key=lambda p: int(re.search(rb"\.(\d+)\.incr\.aof$", p.encode()).group(1)))
    assert files, f"no incremental AOF under {workdir}"
    with open(files[-1], "rb") as f:
        cmds, rest = parse_commands(f.read())
    assert rest == b"", rest[:80]
    return cmds


_BIG = re.compile(rb"^\d{12,}$")
_STREAM_ID = re.compile(rb"^(\d{12,})-(\d+)$")


def mask(cmd):
    """A command with what differs between two honest servers masked: absolute times (ms since
    1970, 12 digits and more) and stream IDs made of them; the name upper-cased (Redis sends a
    command's own words as the client spelled them and its rewrites in upper case)."""
    out = [cmd[0].upper()]
    if out[0] == b"RESTORE" and len(cmd) > 3:
        # A DUMP payload names its writer's RDB version: Larder's and Redis's differ.
        cmd = cmd[:3] + [b"<payload>"] + cmd[4:]
    for a in cmd[1:]:
        if _BIG.match(a):
            out.append(b"<time>")
        elif _STREAM_ID.match(a):
            out.append(b"<time>-" + _STREAM_ID.match(a).group(2))
        else:
            out.append(a)
    return out
