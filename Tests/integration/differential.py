"""The differential helper: one command, two servers, the replies compared as parsed RESP."""
from resp import Conn, Reply


def _sorted(reply):
    """The reply with every array's elements sorted, nested ones included (SCAN's inner list)."""
    if isinstance(reply, Reply) and reply.kind in ("*", "~") and reply.value is not None:
        return Reply(reply.kind, tuple(sorted((_sorted(v) for v in reply.value), key=repr)))
    return reply


def _short(args):
    """A command for a failure message: long argument lists cut to their first ones."""
    return repr(args) if len(args) <= 12 else f"{args[:10]!r} ... ({len(args)} arguments)"


class Differ:
    def __init__(self, larder_port, redis_port):
        self.larder = Conn(larder_port)
        self.redis = Conn(redis_port)

    def close(self):
        self.larder.close()
        self.redis.close()

    def both(self, *args):
        """Runs a command on both servers without comparing (setup)."""
        return self.larder.call(*args), self.redis.call(*args)

    def check(self, *args, unordered=False):
        """Runs a command on both and asserts the same reply; returns it."""
        mine, theirs = self.both(*args)
        if unordered:
            mine, theirs = _sorted(mine), _sorted(theirs)
        assert mine == theirs, f"{_short(args)}: larder {mine!r} != redis {theirs!r}"
        return mine

    def check_raw(self, data):
        """Sends raw bytes to both and compares the single reply each sends back."""
        self.larder.send_raw(data)
        self.redis.send_raw(data)
        mine, theirs = self.larder.read(), self.redis.read()
        assert mine == theirs, f"{data!r}: larder {mine!r} != redis {theirs!r}"
        return mine
