#!/usr/bin/env python3
"""A bad Ethernet link between two QEMUs, for network and migration tests.

QEMU's `-netdev socket,id=n0,connect=HOST:PORT` carries the NIC's Ethernet
frames over a TCP connection, each frame preceded by its length as a 4-byte
big-endian integer (QEMU net/socket.c: net_socket_receive, net_socket_send).
Instead of joining two QEMUs directly (one listen=, one connect=), both
connect to this relay, which passes the frames across:

    QEMU #1 --connect--> port A  [relay]  port B <--connect-- QEMU #2

The relay exists to be a bad link: it drops, duplicates or reorders a few per
cent of the frames (a reordered frame is held back until after the next frame
in its direction, or REORDER_HOLD seconds), and a TCP transfer between the
guests must still complete with correct data. It can also cut the link (close
both connections) once a number of payload bytes have crossed, for tests of a
migration that fails part way. Faults come from one random.Random per
direction seeded from `seed`, so a run is reproducible for the same frames.
Frames that arrive while the other side is not connected are lost, as on a
real wire. Both ports keep accepting, so after a cut (which is one-shot) new
QEMUs can connect and use the link; QEMU itself never reconnects.

    r = Relay(0, 0, drop=0.03, dup=0.02, reorder=0.03, seed=1)  # 0: any port
    r.start()   # a background thread; r.port_a, r.port_b are bound already
    ...         # QEMUs get -netdev socket,id=n0,connect=127.0.0.1:<port>
    r.stop()    # r.stats: {"a2b": {..}, "b2a": {..}, "total": {..}, "cut": ..}

    python3 tests/netrelay.py --port-a 5555 --port-b 5556 --drop 0.03 \\
        --dup 0.02 --reorder 0.03 --seed 1 [--cut-after BYTES]  # ^C: stats

Counters per direction: rx frames received; fwd frames passed on (once,
however many copies); drop dropped on purpose; lost discarded as the receiver
was absent, far behind (OUT_MAX) or gone while the frame was held back; dup
extra copies sent; reorder frames held back; bytes payload bytes sent, copies
included. Once stopped, rx == fwd + drop + lost.
"""
import argparse
import random
import selectors
import signal
import socket
import struct
import sys
import threading
import time

MAX_FRAME = 65535       # a longer frame is a protocol error: close that side
REORDER_HOLD = 0.02     # longest time a reordered frame is held back, seconds
OUT_MAX = 1 << 20       # bytes queued to a side that does not read: then lose
COUNTERS = ("rx", "fwd", "drop", "lost", "dup", "reorder", "bytes")
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class _Side:
    """A port of the relay, the QEMU connected to it (if any), and the
    direction from this side to the other: its faults and its counters."""

    def __init__(self, name, direction, host, port, seed):
        self.name, self.direction = name, direction
        self.lsock = socket.create_server((host, port))
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.conn = None
        self.events = 0
        self.inbuf = bytearray()    # the start of a frame received
        self.out = bytearray()      # framed data not yet sent to this side
        self.peer = None            # the other side
        self.rng = random.Random(f"{seed}/{direction}")
        self.held = None            # (frame, copies, deadline) held for peer
        self.n = dict.fromkeys(COUNTERS, 0)


class Relay:
    def __init__(self, port_a=0, port_b=0, drop=0.0, dup=0.0, reorder=0.0,
                 seed=0, cut_after=None, cut_dir=None, host="127.0.0.1",
                 log=None):
        """drop, dup, reorder: probabilities per frame. cut_after: cut the
        link once this many payload bytes have been sent, in direction
        cut_dir ("a2b" or "b2a") or in both (None). log: called with a line
        of text on each connect, close and cut."""
        if cut_dir not in (None, "a2b", "b2a"):
            raise ValueError(f"cut_dir must be a2b, b2a or None: {cut_dir!r}")
        self.drop, self.dup, self.reorder = drop, dup, reorder
        self.cut_after, self.cut_dir = cut_after, cut_dir
        # A link that goes silent but stays connected (QEMU never
        # reconnects a socket netdev): after blackhole_after payload bytes,
        # every frame is dropped until heal().
        self.blackhole_after, self.blackhole = None, False
        # watch(direction, frame) -> "pass", "drop", "silence" or the bytes
        # of a frame to send instead, asked of each frame first
        # (tests/teleport_records.py: a fault at a record).
        self.watch = None
        self.log = log or (lambda line: None)
        self.a = _Side("A", "a2b", host, port_a, seed)
        self.b = _Side("B", "b2a", host, port_b, seed)
        self.a.peer, self.b.peer = self.b, self.a
        self.port_a, self.port_b = self.a.port, self.b.port
        self.connected = threading.Event()  # set while both sides are up
        self.cut = threading.Event()        # set once the link has been cut
        self._sel = selectors.DefaultSelector()
        for side in (self.a, self.b):
            self._sel.register(side.lsock, READ, side)
        self._stopping = threading.Event()
        self._thread = None

    def silence_after(self, nbytes):
        """Drop every frame once nbytes more payload bytes have crossed."""
        self.blackhole_after = self.a.n["bytes"] + self.b.n["bytes"] + nbytes

    def heal(self):
        self.blackhole_after, self.blackhole = None, False

    @property
    def stats(self):
        s = {"a2b": dict(self.a.n), "b2a": dict(self.b.n)}
        s["total"] = {k: s["a2b"][k] + s["b2a"][k] for k in COUNTERS}
        s["cut"] = self.cut.is_set()
        return s

    def start(self):
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name="netrelay")
        self._thread.start()
        return self

    def stop(self):
        """Stop relaying and close all sockets; held frames count as lost."""
        self._stopping.set()
        if self._thread:
            self._thread.join()
            self._thread = None
        for side in (self.a, self.b):
            self._close(side, "stop")
            side.lsock.close()
        self._sel.close()

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    def _serve(self):
        sides = (self.a, self.b)
        while not self._stopping.is_set():
            now = time.monotonic()
            timeout = min([0.05] + [s.held[2] - now for s in sides if s.held])
            for key, events in self._sel.select(max(timeout, 0)):
                side = key.data
                if key.fileobj is side.lsock:
                    self._accept(side)
                if events & WRITE and side.conn is key.fileobj:
                    self._flush(side)
                if events & READ and side.conn is key.fileobj:
                    self._read(side)
            for side in sides:
                if side.held and side.held[2] <= time.monotonic():
                    self._release(side)

    def _accept(self, side):
        try:
            conn, peer = side.lsock.accept()
        except OSError:
            return
        self._close(side, "replaced by a new connection")
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        side.conn, side.events = conn, READ
        self._sel.register(conn, READ, side)
        self.log(f"{side.name}: connected from {peer[0]}:{peer[1]}")
        if self.a.conn and self.b.conn:
            self.connected.set()

    def _close(self, side, why):
        if side.conn is not None:
            self.connected.clear()      # before the peer can see the close
            self._sel.unregister(side.conn)
            try:    # drop unread input, else close() sends a reset, not EOF
                for _ in range(64):
                    if not side.conn.recv(65536):
                        break
            except OSError:
                pass
            side.conn.close()
            side.conn = None
            side.inbuf.clear()
            side.out.clear()
            self.log(f"{side.name}: closed ({why})")
        self._release(side.peer)        # a frame held for side: now lost

    def _read(self, side):
        try:
            data = side.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            return self._close(side, e.strerror)
        if not data:
            return self._close(side, "end of stream")
        side.inbuf += data
        while side.conn is not None and len(side.inbuf) >= 4:
            (size,) = struct.unpack_from(">I", side.inbuf)
            if size > MAX_FRAME:
                return self._close(side, f"protocol error: {size}-byte frame")
            if len(side.inbuf) < 4 + size:
                break
            frame = bytes(side.inbuf[4:4 + size])
            del side.inbuf[:4 + size]
            self._frame(side, frame)

    def _frame(self, src, frame):
        """Apply the faults to one frame from src to its peer."""
        src.n["rx"] += 1
        if self.blackhole:
            src.n["drop"] += 1
            return
        verdict = self.watch(src.direction, frame) if self.watch else "pass"
        if isinstance(verdict, bytes):      # the watch rewrote the frame
            frame, verdict = verdict, "pass"
        if verdict != "pass":
            if verdict == "silence":
                self.blackhole = True
                self.log("link silent from a watched record on")
            src.n["drop"] += 1
            return
        if self.blackhole_after is not None and self.a.n["bytes"] + self.b.n["bytes"] >= self.blackhole_after:
            self.blackhole = True
            self.log(f"link silent after {self.blackhole_after} bytes")
            src.n["drop"] += 1
            return
        # Always draw all three, so one outcome does not shift the others.
        r_drop, r_dup, r_reorder = (src.rng.random() for _ in range(3))
        if r_drop < self.drop:
            src.n["drop"] += 1
            return
        copies = 2 if r_dup < self.dup else 1
        if src.held is None and r_reorder < self.reorder:
            src.n["reorder"] += 1
            src.held = (frame, copies, time.monotonic() + REORDER_HOLD)
            return
        self._send(src, frame, copies)
        self._release(src)

    def _release(self, src):
        """Send on the frame held back in src's direction, if any."""
        if src.held:
            frame, copies, _ = src.held
            src.held = None
            self._send(src, frame, copies)

    def _send(self, src, frame, copies):
        dst = src.peer
        if dst.conn is None or len(dst.out) > OUT_MAX:
            src.n["lost"] += 1
            return
        src.n["fwd"] += 1
        src.n["dup"] += copies - 1
        src.n["bytes"] += copies * len(frame)
        dst.out += (struct.pack(">I", len(frame)) + frame) * copies
        self._flush(dst)
        if self.cut_after is not None and not self.cut.is_set():
            sent = sum(s.n["bytes"] for s in (self.a, self.b)
                       if self.cut_dir in (None, s.direction))
            if sent >= self.cut_after:
                self.cut.set()
                self.log(f"cut after {sent} bytes")
                self._close(self.a, "cut")
                self._close(self.b, "cut")

    def _flush(self, side):
        try:
            del side.out[:side.conn.send(side.out)]
        except BlockingIOError:
            pass
        except OSError as e:
            return self._close(side, e.strerror)
        events = READ | WRITE if side.out else READ
        if events != side.events:
            side.events = events
            self._sel.modify(side.conn, events, side)


def format_stats(stats):
    lines = [f"{name}: " + " ".join(f"{k}={stats[name][k]}" for k in COUNTERS)
             for name in ("a2b", "b2a", "total")]
    return "\n".join(lines + [f"cut: {'yes' if stats['cut'] else 'no'}"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-a", type=int, default=0, help="default: any")
    p.add_argument("--port-b", type=int, default=0, help="default: any")
    p.add_argument("--drop", type=float, default=0.0, metavar="P")
    p.add_argument("--dup", type=float, default=0.0, metavar="P")
    p.add_argument("--reorder", type=float, default=0.0, metavar="P")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cut-after", type=int, metavar="BYTES")
    p.add_argument("--cut-dir", choices=("a2b", "b2a"),
                   help="count only this direction for --cut-after")
    args = p.parse_args(argv)

    def log(line):
        print(f"netrelay: {line}", file=sys.stderr, flush=True)

    r = Relay(args.port_a, args.port_b, args.drop, args.dup, args.reorder,
              args.seed, args.cut_after, args.cut_dir, args.host, log)
    print(f"netrelay: A on {args.host}:{r.port_a}, B on {args.host}:{r.port_b}",
          flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        r.start()
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        r.stop()
        print(format_stats(r.stats), flush=True)


if __name__ == "__main__":
    main()
