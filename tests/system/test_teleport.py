"""Teleport: a running guest handed from one hopvm to another over hopvm's
own NIC and TCP/IP (docs/migration-protocol.md). Two hopvm instances in two
QEMU processes on one virtual wire (directly, or through tests/netrelay.py
to cut the link), and a host-side peer (tests/teleport_host.py) that sends
malformed streams to a listening hopvm through QEMU's hostfwd."""
import random
import re
import struct
import time

import pytest

import netrelay
import teleport_host as th
from conftest import BUILD, free_port, wire


def pair(hopvm, relay=None, mem_b=256, dev="virtio-net-pci", image=None):
    if relay:
        net_a = f"socket,id=n0,connect=127.0.0.1:{relay.port_a}"
        net_b = f"socket,id=n0,connect=127.0.0.1:{relay.port_b}"
    else:
        net_a, net_b = wire()
    a = hopvm(image=image, extra=("-netdev", net_a, "-device", f"{dev},netdev=n0,mac=52:54:00:00:00:01"))
    time.sleep(0.5)  # A listens: it must be up before B connects
    b = hopvm(image=image, mem_mb=mem_b, extra=("-netdev", net_b, "-device", f"{dev},netdev=n0,mac=52:54:00:00:00:02"))
    a.wait_prompt()
    b.wait_prompt()
    a.cmd("ip set eth0 192.168.77.1/24")
    b.cmd("ip set eth0 192.168.77.2/24")
    return a, b


def counts(vm, name="counter"):
    # The last line may be half-written (the guest prints while `vm log` runs).
    return [int(x) for x in re.findall(r"^counter (\d+)$", vm.cmd(f"vm log {name}"), re.M)][:-1]


def state(vm, name):
    return re.search(rf"^{name}\s+(\w+)", vm.cmd("vm list"), re.M).group(1)


def listen(vm, opts=""):
    vm.send(f"teleport listen {opts}\r".replace("  ", " "))
    vm.expect("waiting for a guest on TCP port")


def test_teleport_counter_continues_on_the_target(hopvm):
    a, b = pair(hopvm)
    a.cmd("vm start counter")
    a.log_until("counter", r"counter 5\b")
    listen(b, "--password s3cret")
    out = a.cmd("teleport counter --host 192.168.77.2 --password s3cret", timeout=120)
    assert re.search(r"teleport: 'counter' handed over to 192\.168\.77\.2 in [\d.]+ s: 16 MiB RAM", out), out
    assert "teleport: peer proved the password; every record is encrypted and authenticated" in out, out
    b.expect(r"peer proved the password; every record is encrypted and authenticated", timeout=60)
    b.expect(r"teleport: 'counter' arrived from 192\.168\.77\.1 .* it runs here", timeout=60)
    b.wait_prompt()
    last_a = max(counts(a))
    assert state(a, "counter") == "stopped"
    assert "teleported to 192.168.77.2:6000" in a.cmd("vm info counter")
    # The guest's own log came along, and the count goes on from there:
    # the whole sequence, no restart, no gap, no repeat.
    time.sleep(2)
    got = counts(b)
    assert got == list(range(len(got))), [n for i, n in enumerate(got) if n != i][:5]
    assert got[-1] > last_a + 3, (last_a, got[-3:])
    assert state(b, "counter") == "running"
    for vm in (a, b):
        info = vm.cmd("info migrate")
        assert "status                 completed" in info, info
        # Live: round 0 moved all 16 MiB, later rounds what the guest dirtied meanwhile.
        assert int(re.search(r"RAM transferred\s+(\d+) KiB", info).group(1)) >= 16384, info
        assert re.search(r"RAM remaining\s+0 KiB", info), info
        assert re.search(r"zero pages\s+\d{3,}", info) and re.search(r"downtime\s+\d+ ms", info)
        assert re.search(r"stream\s+version 2, sealed \(SPAKE2, ChaCha20-Poly1305\); peer proved the password", info)


def test_version_1_only_when_asked_on_both_sides(hopvm):
    """A source that asks for version 1 (--v1) meets a listener that did
    not allow it: refused, with the way out, and the guest runs on. With
    --v1 on the listener too: version 1, and both consoles say it is not
    encrypted."""
    a, b = pair(hopvm)
    a.cmd("vm start counter")
    a.log_until("counter", r"counter 3\b")
    # Nobody listening yet (or a listener busy with another peer): refused, said so.
    out = a.cmd("teleport counter --host 192.168.77.2 --password pw", timeout=60)
    assert ("192.168.77.2:6000 refused the connection: no teleport listener there, or it is busy with another "
            "teleport" in out and "'counter' runs on here" in out), out
    listen(b, "--password pw")
    out = a.cmd("teleport counter --host 192.168.77.2 --password pw --v1", timeout=60)
    assert "stream version 1 not supported by the peer" in out and "'counter' runs on here" in out, out
    b.expect(r"teleport: failed: the peer speaks only stream version 1 \(unsealed\): give --v1 to use it")
    b.wait_prompt()
    assert state(a, "counter") == "running"
    listen(b, "--password pw --v1")
    out = a.cmd("teleport counter --host 192.168.77.2 --password pw --v1", timeout=120)
    assert "stream version 1 (--v1): peer proved the password, records NOT encrypted" in out, out
    assert re.search(r"teleport: 'counter' handed over to 192\.168\.77\.2", out), out
    b.expect(r"teleport: 'counter' arrived from", timeout=60)
    b.wait_prompt()
    assert re.search(r"stream\s+version 1, NOT encrypted \(HMAC digest\)", b.cmd("info migrate"))
    time.sleep(1.5)
    got = counts(b)
    assert got == list(range(len(got))) and state(b, "counter") == "running", got[-5:]


def test_teleport_memtouch_checksums_hold_after_the_move(hopvm):
    a, b = pair(hopvm, dev="e1000")
    a.cmd("vm start memtouch")
    a.log_until("memtouch", r"memtouch: pass 1 verified 16 MiB checksum [0-9a-f]{8} ok", timeout=120)
    listen(b)
    out = a.cmd("teleport memtouch --host 192.168.77.2", timeout=180)
    assert "handed over" in out, out
    b.expect("it runs here", timeout=60)
    b.wait_prompt()
    passes = lambda: re.findall(r"memtouch: pass (\d+) verified 16 MiB checksum [0-9a-f]{8} (\w+)",
                                b.cmd("vm log memtouch"))
    before = len(passes())
    deadline = time.monotonic() + 90
    while len(passes()) < before + 2 and time.monotonic() < deadline:
        time.sleep(2)
    after = passes()
    assert len(after) >= before + 2, after
    assert all(ok == "ok" for _, ok in after), after
    assert "bad pages" not in b.cmd("vm log memtouch")


def test_wrong_password_keeps_the_guest_on_the_source(hopvm):
    a, b = pair(hopvm)
    a.cmd("vm start counter")
    a.log_until("counter", r"counter 2\b")
    listen(b, "--password right")
    out = a.cmd("teleport counter --host 192.168.77.2 --password wrong", timeout=60)
    assert "teleport: failed: " in out and "wrong password" in out and "'counter' runs on here" in out, out
    b.expect(r"teleport: failed: .*wrong password; nothing was kept", timeout=30)
    b.wait_prompt()
    n = max(counts(a))
    time.sleep(1.5)
    assert max(counts(a)) > n and state(a, "counter") == "running"
    assert state(b, "counter") == "stopped"
    # Without a password on one side only: refused the same way.
    listen(b)
    out = a.cmd("teleport counter --host 192.168.77.2 --password x", timeout=60)
    assert "wrong password" in out, out
    b.wait_prompt()


def test_target_refuses_a_guest_too_big_for_it(hopvm):
    a, b = pair(hopvm, mem_b=64)
    a.cmd("vm start memtouch")
    listen(b)
    out = a.cmd("teleport memtouch --host 192.168.77.2", timeout=60)
    assert re.search(r"failed: the peer says: target has \d+ MiB free in one range, guest 'memtouch' needs 32 MiB", out), out
    assert "'memtouch' runs on here" in out
    b.wait_prompt()
    assert state(a, "memtouch") == "running"
    assert "bytes on the wire" in a.cmd("info migrate")
    assert re.search(r"RAM transferred\s+0 KiB", a.cmd("info migrate"))


def test_link_cut_at_random_offsets_the_source_keeps_the_guest(hopvm):
    relay = netrelay.Relay().start()
    rng = random.Random(int(time.time()))
    try:
        a, b = pair(hopvm, relay=relay)
        a.cmd("vm start counter")
        a.log_until("counter", r"counter 2\b")
        for offset in sorted(rng.sample(range(600, 18000), 3)):
            relay.heal()
            listen(b)
            relay.silence_after(offset)
            out = a.cmd("teleport counter --host 192.168.77.2", timeout=90)
            b.wait_prompt(timeout=60)
            if "handed over" in out:  # the cut came after the commit: it arrived
                pytest.fail(f"cut at {offset} came after the whole stream: {out}")
            assert "teleport: failed: no progress for 10 s; 'counter' runs on here" in out, (offset, out)
            assert state(a, "counter") == "running"
            n = max(counts(a))
            time.sleep(1)
            assert max(counts(a)) > n, offset
            assert state(b, "counter") == "stopped", offset  # the target freed its shell
        # Healed, the teleport goes through.
        relay.heal()
        listen(b)
        assert "handed over" in a.cmd("teleport counter --host 192.168.77.2", timeout=90)
        b.expect("it runs here", timeout=60)
    finally:
        relay.stop()


BAD_STREAMS = {
    # name: (what to send after the handshake, what hopvm says)
    "oversized": (struct.pack("<II", th.VM_DEF, 64 << 20), r"over the .*limit"),
    "garbage VM_DEF": (th.record(th.VM_DEF, b"\xd0\x0d\xfe\xed" + b"\xff" * 60), r"VM_DEF|device tree"),
    "RAM first": (th.record(th.RAM, struct.pack("<QII", 0, 1, 1)), r"unexpected RAM record"),
    "unknown mandatory": (th.record(0x55, b""), r"unknown mandatory record"),
    "bad padding": (struct.pack("<II", th.VM_DEF, 41) + b"\x01" * 41 + b"\x07" * 7, r"padding"),
    "truncated": (struct.pack("<II", th.VM_DEF, 4000) + b"\0" * 1000, r"peer closed|connection"),
}


def test_malformed_streams_are_refused_and_hopvm_stays_usable(hopvm):
    hp = free_port()
    vm = hopvm(extra=("-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{hp}-:6000",
                      "-device", "virtio-net-pci,netdev=n0"))
    vm.wait_prompt()
    vm.cmd("ip set eth0 10.0.2.15/24 gw 10.0.2.2")
    # Not the protocol at all.
    listen(vm)
    src = th.Source("127.0.0.1", hp)
    src.send(b"GET / HTTP/1.0\r\n\r\n")
    vm.expect(r"teleport: failed: the peer does not speak the hopvm teleport protocol")
    vm.wait_prompt()
    src.close()
    # Stream version 2 by default: the host peer (version 1 only) is refused
    # with the way out, before any proof is exchanged.
    listen(vm, "--password pw")
    src = th.Source("127.0.0.1", hp)
    try:
        src.handshake("pw")
    except ConnectionError:
        pass  # the ERROR may have come before our AUTH went out
    vm.expect(r"teleport: failed: the peer speaks only stream version 1 \(unsealed\): give --v1 to use it")
    vm.wait_prompt()
    src.close()
    # Before the password is proved: a peer that says nothing is dropped
    # after 9 s; a record longer than 256 bytes is refused at its header.
    listen(vm, "--password pw")
    src = th.Source("127.0.0.1", hp)
    vm.expect(r"teleport: failed: the peer did not complete the handshake within 9 s", timeout=30)
    vm.wait_prompt()
    src.close()
    listen(vm, "--password pw")
    src = th.Source("127.0.0.1", hp)
    src.send(th.MAGIC + struct.pack("<II", th.HELLO, 100000))
    vm.expect(r"teleport: failed: record 0x01 \(HELLO\) body length 100000 over this reader's limit of 256 bytes")
    vm.wait_prompt()
    src.close()
    # The rest speaks version 1 (--v1): behind version 2's seal the same
    # record checks run. A wrong password from the host peer: refused, named.
    listen(vm, "--password pw --v1")
    src = th.Source("127.0.0.1", hp)
    t, body = src.handshake("not-pw")
    vm.expect(r"teleport: failed: wrong password; nothing was kept")
    vm.wait_prompt()
    src.close()
    for name, (data, said) in BAD_STREAMS.items():
        listen(vm, "--password pw --v1")
        src = th.Source("127.0.0.1", hp)
        t, body = src.handshake("pw")
        assert t == th.AUTH, (name, t, body)
        src.send(data)
        if name == "truncated":
            time.sleep(0.5)
            src.close(reset=True)
        vm.expect(r"teleport: failed: ([^\r\n]*)\r", timeout=30)
        reason = vm.p.match.group(1).decode()
        assert re.search(said, reason), (name, reason)
        vm.wait_prompt()
        src.close()
    out = vm.cmd("vm list")
    assert "running" not in out and "paused" not in out, out
    assert "hopvm" in vm.cmd("version")


def test_teleport_usage_errors(hopvm):
    vm = hopvm(extra=("-netdev", "user,id=n0", "-device", "e1000,netdev=n0"))
    vm.wait_prompt()
    assert "error: teleport listen [options] | teleport VM --host H [options]" in vm.cmd("teleport")
    assert "error: no guest named 'nosuch'" in vm.cmd("teleport nosuch --host 10.0.2.2")
    assert "error: teleport VM --host H" in vm.cmd("teleport counter")
    assert "error: bad --port '0' (1 to 65535)" in vm.cmd("teleport listen --port 0")
    # The live options: each bad value is one line, and none of them mixes with --offline.
    assert "error: bad --downtime '0' (1 to 60000)" in vm.cmd("teleport counter --host 10.0.2.2 --downtime 0")
    assert "error: bad --bandwidth 'x' (1 to 100000)" in vm.cmd("teleport counter --host 10.0.2.2 --bandwidth x")
    assert "error: bad --max-rounds '0' (1 to 1000)" in vm.cmd("teleport counter --host 10.0.2.2 --max-rounds 0")
    assert "error: --offline pauses the guest" in vm.cmd("teleport counter --host 10.0.2.2 --offline --downtime 50")
    assert "error: unknown option '--downtime'" in vm.cmd("teleport listen --downtime 50")
    assert "error: unknown option '--bogus'" in vm.cmd("teleport listen --bogus 1")
    assert "error: '--port' needs a value" in vm.cmd("teleport listen --port")
    assert "error: no password file 'nope'" in vm.cmd("teleport listen --password-file nope")
    assert "error: give one of --password and --password-file" in vm.cmd("teleport listen --password a --password b")
    assert "only a running or paused guest" in vm.cmd("teleport counter --host 10.0.2.2")
    assert "no teleport since start-up" in vm.cmd("info migrate")
    assert "error: info migrate" in vm.cmd("info bogus")


def test_target_dies_mid_stream_and_ctrl_c_cancels(hopvm):
    a, b = pair(hopvm, dev="e1000")
    a.cmd("vm start memtouch")
    a.log_until("memtouch", r"memtouch: pass 1 verified", timeout=120)
    # Ctrl-C on the source while RAM flows: both sides stop, the guest runs on.
    listen(b)
    a.send("teleport memtouch --host 192.168.77.2\r")
    b.expect("teleport: receiving 'memtouch'", timeout=60)
    a.send("\x03")
    a.expect(r"teleport: failed: cancelled from the console; 'memtouch' runs on here", timeout=30)
    a.wait_prompt()
    b.expect(r"teleport: failed: the peer says: cancelled from the console; nothing was kept", timeout=30)
    b.wait_prompt()
    assert state(a, "memtouch") == "running"
    assert state(b, "memtouch") == "stopped"  # the target freed the shell
    # The target machine dies mid-stream (no FIN, no RST): the source gives
    # up after its idle limit and the guest runs on.
    listen(b)
    a.send("teleport memtouch --host 192.168.77.2\r")
    b.expect("teleport: receiving 'memtouch'", timeout=60)
    b.close()
    a.expect(r"teleport: failed: no progress for 10 s; 'memtouch' runs on here", timeout=60)
    a.wait_prompt()
    assert state(a, "memtouch") == "running"
    passes = re.findall(r"memtouch: pass \d+ verified 16 MiB checksum [0-9a-f]{8} (\w+)", a.cmd("vm log memtouch"))
    time.sleep(3)
    later = re.findall(r"memtouch: pass \d+ verified 16 MiB checksum [0-9a-f]{8} (\w+)", a.cmd("vm log memtouch"))
    assert len(later) > len(passes) and set(later) == {"ok"}, later


def test_password_files_from_the_boot_volume(hopvm):
    # build/test.img carries \secrets\teleport.pw (tests/system/secrets).
    net_a, net_b = wire()
    img = BUILD / "test.img"
    a = hopvm(image=img, extra=("-netdev", net_a,
                                "-device", "e1000,netdev=n0,mac=52:54:00:00:00:01"))
    time.sleep(0.5)  # A listens: it must be up before B connects
    b = hopvm(image=img, extra=("-netdev", net_b,
                                "-device", "e1000,netdev=n0,mac=52:54:00:00:00:02"))
    a.wait_prompt()
    b.wait_prompt()
    a.cmd("ip set eth0 192.168.77.1/24")
    b.cmd("ip set eth0 192.168.77.2/24")
    a.cmd("vm start counter")
    a.log_until("counter", r"counter 2\b")
    listen(b, "--password-file teleport.pw")
    out = a.cmd("teleport counter --host 192.168.77.2 --password 'correct horse battery staple'", timeout=60)
    assert "handed over" in out, out
    b.expect("it runs here", timeout=60)
    b.wait_prompt()
    # And back, with the file on the source and a typed password on the target.
    listen(a, "--password wrong")
    out = b.cmd("teleport counter --host 192.168.77.1 --password-file teleport.pw", timeout=60)
    assert "wrong password" in out and "'counter' runs on here" in out, out
    a.wait_prompt()
