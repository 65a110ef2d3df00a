"""Helpers for the persistence tests: Redis's CRC-64 (to forge payloads whose checksum is
right but whose content is not) and a whole-value reader for comparing keyspaces."""


def _table():
    poly = 0x95AC9329AC4BC9B5      # the Jones polynomial, reflected
    out = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        out.append(crc)
    return out


_TABLE = _table()


def crc64(data):
    crc = 0
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def payload(body, version=10):
    """A DUMP payload around `body` (type byte and value) with a correct footer."""
    head = body + bytes([version & 0xFF, version >> 8])
    return head + crc64(head).to_bytes(8, "little")


def snapshot(client, db=None):
    """Every key of the current database with its type, value and TTL presence."""
    out = {}
    for key in client.scan_iter(count=1000):
        t = client.type(key).decode()
        if t == "string":
            v = client.get(key)
        elif t == "list":
            v = client.lrange(key, 0, -1)
        elif t == "hash":
            v = sorted(client.hgetall(key).items())
        elif t == "set":
            v = sorted(client.smembers(key))
        elif t == "zset":
            v = client.zrange(key, 0, -1, withscores=True)
        elif t == "stream":
            v = client.xrange(key)
        else:
            v = None
        out[key] = (t, v, client.ttl(key) > 0)
    return out
