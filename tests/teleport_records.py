"""Teleport records seen on the wire, for fault injection at a chosen record.

netrelay.Relay passes Ethernet frames between two QEMUs. A RecordWatch,
set as the relay's `watch`, follows each TCP connection to the teleport
port in both directions (IPv4, in-order bytes only: a retransmission adds
nothing, a segment after a gap waits for its retransmission), parses the
stream as docs/migration-protocol.md defines it (8 magic bytes, then
records: u32 type, u32 length, body, zero padding to 8; sealed records keep
their header in the clear, so types and lengths are visible in version 2
too) and, at the frame that carries the header of the nth record of a type
in a direction, calls the trigger once. The trigger's answer decides that
frame's fate: "pass", "drop" (this frame only), "silence" (the relay
drops every frame from then on, until heal()), "corrupt" (one byte of the
frame's TCP payload flipped, the TCP checksum made right again, so the
bytes reach the peer's record layer) or "reset" (the frame becomes a TCP
RST from its sender at its sequence number: the receiver drops the
connection as on a peer reset).

    w = RecordWatch(6000, "a2b", REC["END"], 1, lambda: "silence")
    relay.watch = w
"""
import struct

REC = {"HELLO": 0x01, "AUTH": 0x02, "ERROR": 0x03, "KEX": 0x04, "CONFIRM": 0x05, "VM_DEF": 0x10,
       "ACCEPT": 0x11, "ROUND": 0x20, "RAM": 0x21, "VCPU": 0x30, "DEVICE": 0x31, "END": 0x3f,
       "COMMIT_READY": 0x40, "COMMIT": 0x41}
MAGIC_LEN = 8
HDR_LEN = 8
TYPE_MASK = 0x7fffffff
ETH_HDR, ETH_IPV4, IP_TCP = 14, 0x0800, 6
TCP_SYN = 0x02


class _Stream:
    """One direction of one TCP connection: the next sequence number
    expected and where the record parser stands."""

    def __init__(self, isn):
        self.next = (isn + 1) & 0xffffffff  # the SYN takes one number
        self.pos = 0            # bytes of the stream parsed so far
        self.skip = MAGIC_LEN   # bytes to pass before the next header
        self.hdr = b""


class RecordWatch:
    def __init__(self, port, direction, rec_type, nth, trigger):
        self.port, self.direction, self.rec_type, self.nth = port, direction, rec_type, nth
        self.trigger = trigger
        self.streams = {}
        self.seen = {}          # (direction, type) -> records seen
        self.fired = None       # the trigger's answer, once it fired

    def __call__(self, direction, frame):
        """Called by the relay for each frame before its faults; returns
        "pass", "drop" or "silence"."""
        seg = self._segment(frame)
        if seg is None:
            return "pass"
        key, seq, flags, payload = seg
        if flags & TCP_SYN:
            self.streams[key] = _Stream(seq)
            return "pass"
        st = self.streams.get(key)
        if st is None or not payload:
            return "pass"
        off = (st.next - seq) & 0xffffffff
        if off >= 1 << 31 or off >= len(payload):
            return "pass"       # after a gap, or nothing new
        new = payload[off:]
        first_new = st.next
        st.next = (st.next + len(new)) & 0xffffffff
        verdict = "pass"
        for t in self._records(st, new):
            n = self.seen[(direction, t)] = self.seen.get((direction, t), 0) + 1
            if (self.fired is None and direction == self.direction and t == self.rec_type
                    and n == self.nth):
                self.fired = verdict = self.trigger()
        if verdict == "corrupt":
            return corrupt(frame)
        if verdict == "reset":
            return reset(frame, first_new)
        return verdict

    def _segment(self, frame):
        if len(frame) < ETH_HDR + 20 or struct.unpack_from(">H", frame, 12)[0] != ETH_IPV4:
            return None
        ip = ETH_HDR
        ihl = (frame[ip] & 0xf) * 4
        total = struct.unpack_from(">H", frame, ip + 2)[0]
        if frame[ip + 9] != IP_TCP or len(frame) < ip + ihl + 20:
            return None
        tcp = ip + ihl
        sport, dport, seq = struct.unpack_from(">HHI", frame, tcp)
        if self.port not in (sport, dport):
            return None
        doff = (frame[tcp + 12] >> 4) * 4
        key = (frame[ip + 12:ip + 16], sport, frame[ip + 16:ip + 20], dport)
        return key, seq, frame[tcp + 13], frame[tcp + doff:ip + total]

    @staticmethod
    def _records(st, data):
        """The types of the records whose header completes in data."""
        types = []
        i = 0
        while i < len(data):
            if st.skip:
                n = min(st.skip, len(data) - i)
                st.skip -= n
                i += n
                continue
            n = min(HDR_LEN - len(st.hdr), len(data) - i)
            st.hdr += data[i:i + n]
            i += n
            if len(st.hdr) == HDR_LEN:
                rtype, length = struct.unpack("<II", st.hdr)
                types.append(rtype & TYPE_MASK)
                st.skip = length + (-length % 8)
                st.hdr = b""
        st.pos += len(data)
        return types


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def _tcp_csum(ip_hdr, tcp):
    """RFC 793 3.1: over the pseudo-header and the segment, field zeroed."""
    tcp = tcp[:16] + b"\0\0" + tcp[18:]
    pseudo = ip_hdr[12:20] + struct.pack(">BBH", 0, IP_TCP, len(tcp))
    return _csum(pseudo + tcp)


def corrupt(frame):
    """The frame with the last byte of its TCP payload flipped and a TCP
    checksum that matches again."""
    ip = ETH_HDR
    ihl = (frame[ip] & 0xf) * 4
    total = struct.unpack_from(">H", frame, ip + 2)[0]
    f = bytearray(frame)
    f[ip + total - 1] ^= 0x5a
    tcp = bytes(f[ip + ihl:ip + total])
    struct.pack_into(">H", f, ip + ihl + 16, _tcp_csum(bytes(f[ip:ip + ihl]), tcp))
    return bytes(f)


def reset(frame, seq):
    """A TCP RST in place of frame: same addresses and ports, at seq, the
    next byte the receiver expects (it takes a RST only there: RFC 5961
    3.2, as lwIP does), no payload."""
    ip = ETH_HDR
    ihl = (frame[ip] & 0xf) * 4
    hdr = bytearray(frame[ip:ip + ihl])
    struct.pack_into(">H", hdr, 2, ihl + 20)
    struct.pack_into(">H", hdr, 10, 0)
    struct.pack_into(">H", hdr, 10, _csum(bytes(hdr)))
    sport, dport = struct.unpack_from(">HH", frame, ip + ihl)
    tcp = bytearray(struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x04, 0, 0, 0))
    struct.pack_into(">H", tcp, 16, _tcp_csum(bytes(hdr), bytes(tcp)))
    return bytes(frame[:ip]) + bytes(hdr) + bytes(tcp)
