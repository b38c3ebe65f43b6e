"""The host side of hopvm's `nettest` (format in include/hopvm/nettest.h):
a Python peer for tests and tools/bench-net.

sender -> receiver: b"HOPVMNT1", u64 length, u64 seed (big-endian), then
the pattern; receiver -> sender: b"HOPVMOK!" + u64 bytes, or b"HOPVMBAD" +
u64 offset of the first wrong byte. Byte i of the pattern is byte i % 8 of
the little-endian word splitmix64(seed + i // 8)."""
import socket
import struct

MAGIC, OK, BAD = b"HOPVMNT1", b"HOPVMOK!", b"HOPVMBAD"
PORT = 5001
M64 = (1 << 64) - 1


def word(seed, k):
    z = (seed + k * 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def pattern(seed, nbytes):
    """The first nbytes of the pattern (built a word at a time)."""
    words = (nbytes + 7) // 8
    return b"".join(struct.pack("<Q", word(seed, k)) for k in range(words))[:nbytes]


def header(nbytes, seed):
    return MAGIC + struct.pack(">QQ", nbytes, seed)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def send(host, port, data, seed, timeout=120, raw_header=None):
    """Sends header + data to a `nettest listen`; returns (verdict, value):
    (b"HOPVMOK!", bytes) or (b"HOPVMBAD", offset)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(raw_header if raw_header is not None else header(len(data), seed))
        s.sendall(data)
        reply = recv_exact(s, 16)
        return reply[:8], struct.unpack(">Q", reply[8:])[0]


def receive(conn):
    """Serves one `nettest send` on an accepted socket: checks every byte,
    replies with the verdict; returns the bytes received."""
    hdr = recv_exact(conn, 24)
    if hdr[:8] != MAGIC:
        raise ValueError("not a nettest stream")
    total, seed = struct.unpack(">QQ", hdr[8:])
    got = 0
    k, tail = 0, b""
    while got < total:
        chunk = conn.recv(min(1 << 20, total - got))
        if not chunk:
            raise ConnectionError(f"closed after {got} of {total} bytes")
        data = tail + chunk
        whole = len(data) // 8 * 8
        want = b"".join(struct.pack("<Q", word(seed, k + i)) for i in range(whole // 8))
        if data[:whole] != want:
            bad = next(i for i in range(whole) if data[i] != want[i])
            conn.sendall(BAD + struct.pack(">Q", k * 8 + bad))
            raise ValueError(f"data mismatch at byte {k * 8 + bad}")
        k += whole // 8
        tail = data[whole:]
        got += len(chunk)
    if tail != pattern_at(seed, k * 8, len(tail)):
        conn.sendall(BAD + struct.pack(">Q", k * 8))
        raise ValueError("data mismatch in the last word")
    conn.sendall(OK + struct.pack(">Q", total))
    return total


def pattern_at(seed, off, n):
    """n pattern bytes from offset off (off a multiple of 8)."""
    return b"".join(struct.pack("<Q", word(seed, off // 8 + i)) for i in range((n + 7) // 8))[:n]
