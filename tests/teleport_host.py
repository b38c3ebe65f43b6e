"""A host-side peer for hopvm's teleport protocol (docs/migration-protocol.md),
enough to hand a listening hopvm a handshake and then records of our choosing:
malformed, truncated, oversized. Used by tests/system/test_teleport.py."""
import hashlib
import hmac
import os
import socket
import struct

MAGIC = b"HOPVMTP1"
HELLO, AUTH, ERROR = 0x01, 0x02, 0x03
VM_DEF, ACCEPT, ROUND, RAM, VCPU, DEVICE, END = 0x10, 0x11, 0x20, 0x21, 0x30, 0x31, 0x3F
OPTIONAL = 1 << 31


def record(rtype, body, length=None):
    """A record; length overrides the header's length field."""
    n = len(body) if length is None else length
    return struct.pack("<II", rtype, n) + body + b"\0" * (-len(body) % 8)


def hello_body(role, nonce, host=b"pytest", version=1, min_version=1, caps=3):
    return struct.pack("<IIQ", version, min_version, caps) + nonce + bytes([role]) + b"\0" * 7 + host


def proof(password, role, hello_src, hello_tgt):
    msg = b"hopvm-teleport-auth-v1" + bytes([role]) + hello_src + hello_tgt
    return hmac.new(password.encode(), msg, hashlib.sha256).digest()


class Source:
    """Connects to `teleport listen` as a source."""

    def __init__(self, host, port, timeout=30):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_record(self):
        rtype, n = struct.unpack("<II", self.recv_exact(8))
        body = self.recv_exact(n + (-n % 8))[:n]
        return rtype, body

    def handshake(self, password, **hello_kw):
        """HELLO both ways and AUTH both ways; returns the target's AUTH
        verdict as a record type (AUTH, or ERROR with its body)."""
        mine = hello_body(0, os.urandom(32), **hello_kw)
        self.s.sendall(MAGIC + record(HELLO, mine))
        if self.recv_exact(8) != MAGIC:
            raise ValueError("no magic from the target")
        t, theirs = self.read_record()
        if t != HELLO:
            return t, theirs
        self.s.sendall(record(AUTH, proof(password, 0, mine, theirs)))
        return self.read_record()

    def send(self, data):
        self.s.sendall(data)

    def close(self, reset=False):
        if reset:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.s.close()
