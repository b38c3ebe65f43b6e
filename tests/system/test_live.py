"""Live teleport (docs/migration-protocol.md, "Rounds"): the guest keeps
running while its memory crosses in rounds, tracked by the dirty log
(vmm/dirty.c), and is paused only for the final round. memtouch verifies
every page of its area once a second against the content its last rewrite
left, so a page the dirty log missed shows up as a BAD checksum on the
target; counter prints a sequence that must go on with no restart, gap or
repeat. The link is cut inside each phase (round 0, a later round, the
final pause): the source guest must run on, unthrottled, with its nested
tables as they were before (no dirty logging left)."""
import re
import time

import pytest

import netrelay
import test_teleport
from conftest import BUILD
from test_teleport import counts, listen, state

A, B = "192.168.77.1", "192.168.77.2"


def pair(hopvm, **kw):
    # build/test.img: its hopvm.cfg has the memtouch guests these tests name.
    return test_teleport.pair(hopvm, image=BUILD / "test.img", **kw)


def nested(vm, name):
    """The shape of the guest's nested tables, from `vm info`."""
    return re.search(r"^nested:\s+(.*)$", vm.cmd(f"vm info {name}"), re.M).group(1).strip()


def passes(vm, name):
    return re.findall(r"memtouch: pass (\d+) verified 8 MiB checksum [0-9a-f]{8} (\w+)",
                      vm.cmd(f"vm log {name}", timeout=60))


def more_passes_ok(vm, name, n=2, timeout=120):
    """Waits for n more verification passes; all of them (and every one
    before) must be ok."""
    before = len(passes(vm, name))
    deadline = time.monotonic() + timeout
    while len(passes(vm, name)) < before + n and time.monotonic() < deadline:
        time.sleep(2)
    got = passes(vm, name)
    assert len(got) >= before + n, got[-3:]
    assert all(ok == "ok" for _, ok in got), [p for p in got if p[1] != "ok"]
    assert "bad pages" not in vm.cmd(f"vm log {name}", timeout=60)
    return got


def field(info, name):
    m = re.search(rf"^{name}\s+(.*)$", info, re.M)
    return m.group(1).strip() if m else None


def teleport_live(a, b, name, opts="", timeout=300):
    listen(b)
    out = a.cmd(f"teleport {name} --host {B} {opts}".strip(), timeout=timeout)
    return out


def assert_handed_over(a, b, name, out):
    assert f"teleport: '{name}' handed over to {B}" in out, out
    b.expect(rf"teleport: '{name}' arrived from {A} .* it runs here", timeout=60)
    b.wait_prompt()
    assert state(a, name) == "stopped" and state(b, name) == "running"


@pytest.mark.parametrize("name,dev", [("mt1000", "e1000"), ("mt5000", "virtio-net-pci")])
def test_live_memtouch_keeps_every_page(hopvm, name, dev):
    """1000 pages/s over e1000 and 5000 over virtio-net: converges in a few
    rounds with a short pause; every checksum on the target is ok. The
    source took its dirty pages by write protection (one dirty-log exit per
    page per round)."""
    a, b = pair(hopvm, dev=dev)
    a.cmd(f"vm start {name}")
    a.log_until(name, r"memtouch: pass 1 verified 8 MiB checksum [0-9a-f]{8} ok", timeout=120)
    out = teleport_live(a, b, name)
    assert_handed_over(a, b, name, out)
    info = a.cmd("info migrate")
    assert field(info, "mode") == "live (pre-copy)", info
    rounds = int(field(info, "rounds").split()[0])
    assert rounds >= 2, info
    assert int(field(info, "downtime").split()[0]) < 2000, info
    assert field(info, "dirty tracking") == "write protection", info
    assert re.search(r"dirty-log write \d+", a.cmd(f"vm info {name}")), "no write-protect faults on the source"
    tinfo = b.cmd("info migrate")
    assert field(tinfo, "rounds") == field(info, "rounds"), (info, tinfo)
    # Each side splits its pause into its own part and the wait for the peer.
    for inf, mine, theirs in ((info, "sending", "until COMMIT_READY"), (tinfo, "receiving", "until COMMIT")):
        m = re.fullmatch(rf"{mine} ([\d.]+) ms, {theirs} ([\d.]+) ms", field(inf, "downtime split"))
        assert m, inf
        assert abs(float(m.group(1)) + float(m.group(2)) - int(field(inf, "downtime").split()[0])) <= 1.0, inf
    more_passes_ok(b, name)
    assert nested(b, name).endswith("dirty log off")


def test_live_memtouch_four_ways_of_writing(hopvm):
    """1000 pages/s over virtio-net, each rewrite by plain stores, rep
    stosb, movnti or rep insb (string port input: hopvm writes the page for
    the guest, and must mark it dirty itself)."""
    a, b = pair(hopvm)
    a.cmd("vm start mtmix")
    a.log_until("mtmix", r"four ways", timeout=60)
    a.log_until("mtmix", r"memtouch: pass 1 verified 8 MiB checksum [0-9a-f]{8} ok", timeout=120)
    out = teleport_live(a, b, "mtmix")
    assert_handed_over(a, b, "mtmix", out)
    more_passes_ok(b, "mtmix", n=3)


def test_live_counter_continues_exactly(hopvm):
    """Every number the guest ever printed, across the move: 0, 1, 2, ...
    with nothing restarted, skipped or repeated."""
    a, b = pair(hopvm)
    a.cmd("vm start counter")
    a.log_until("counter", r"counter 5\b")
    out = teleport_live(a, b, "counter")
    assert_handed_over(a, b, "counter", out)
    last_a = max(counts(a))
    deadline = time.monotonic() + 30
    while max(counts(b)) < last_a + 5 and time.monotonic() < deadline:
        time.sleep(1)
    got = counts(b)
    assert got == list(range(len(got))), [x for i, x in enumerate(got) if x != i][:5]
    assert got[-1] >= last_a + 5, (last_a, got[-3:])


def source_runs_on_unharmed(a, name, shape):
    """After a failed live teleport: running, not throttled, no dirty logging
    left, nested tables as before, and still verifying ok."""
    assert state(a, name) == "running"
    info = a.cmd(f"vm info {name}")
    assert "throttled" not in info, info
    assert nested(a, name) == shape, (nested(a, name), shape)
    more_passes_ok(a, name, n=1)


def test_live_link_cut_in_every_phase(hopvm):
    relay = netrelay.Relay().start()
    try:
        a, b = pair(hopvm, relay=relay)
        a.cmd("vm start mtslow")
        a.log_until("mtslow", r"memtouch: pass 1 verified", timeout=120)
        shape = nested(a, "mtslow")
        assert shape.endswith("0 x 4 KiB, 0 read-only; dirty log off"), shape
        slow = "--bandwidth 1 --downtime 3000"
        # 1. Round 0, 1 MB in.
        listen(b)
        relay.silence_after(1_000_000)
        out = a.cmd(f"teleport mtslow --host {B} {slow}", timeout=120)
        assert "teleport: failed: no progress for 10 s; 'mtslow' runs on here" in out, out
        b.wait_prompt(timeout=60)
        assert state(b, "mtslow") == "stopped"
        source_runs_on_unharmed(a, "mtslow", shape)
        # 2. The final pause: cut the moment the source pauses the guest.
        relay.heal()
        listen(b)
        a.send(f"teleport mtslow --host {B} {slow}\r")
        a.expect(r"round (\d+): 'mtslow' paused for the final round", timeout=120)
        relay.silence_after(0)
        final_round = int(a.p.match.group(1))
        assert final_round >= 1
        a.expect(r"teleport: failed: no progress for 10 s; 'mtslow' runs on here", timeout=60)
        a.wait_prompt()
        b.wait_prompt(timeout=60)
        assert state(b, "mtslow") == "stopped", "the target kept a copy of an incomplete guest"
        source_runs_on_unharmed(a, "mtslow", shape)
        # 3. A later round: a guest that never converges at 1 MB/s (no
        # throttle, so rounds go on), cut in round 2.
        a.cmd("vm stop mtslow")
        a.cmd("vm start mthog")
        a.log_until("mthog", r"memtouch: pass 1 verified", timeout=120)
        shape = nested(a, "mthog")
        relay.heal()
        listen(b)
        a.send(f"teleport mthog --host {B} --bandwidth 1 --no-throttle --max-rounds 100\r")
        a.expect(r"round 2 ", timeout=120)
        relay.silence_after(0)
        a.expect(r"teleport: failed: no progress for 10 s; 'mthog' runs on here", timeout=60)
        a.wait_prompt()
        b.wait_prompt(timeout=60)
        source_runs_on_unharmed(a, "mthog", shape)
        # Healed, a live teleport goes through.
        relay.heal()
        a.cmd("vm stop mthog")
        a.cmd("vm start mtslow")
        a.log_until("mtslow", r"memtouch: pass 1 verified", timeout=120)
        out = teleport_live(a, b, "mtslow")
        assert_handed_over(a, b, "mtslow", out)
        more_passes_ok(b, "mtslow", n=1)
    finally:
        relay.stop()


def test_live_guest_faster_than_the_link(hopvm):
    """20000 pages/s (80 MB/s) on a link capped at 2 MB/s. With
    --no-throttle the teleport gives up after --max-rounds and says why in
    numbers; the guest runs on at full speed. By default the guest is
    throttled until it converges, and arrives intact."""
    a, b = pair(hopvm)
    a.cmd("vm start mthog")
    a.log_until("mthog", r"memtouch: pass 1 verified", timeout=120)
    shape = nested(a, "mthog")
    out = teleport_live(a, b, "mthog", "--bandwidth 2 --no-throttle --max-rounds 4")
    m = re.search(r"teleport: failed: guest dirties ([\d.]+) MB/s, link moves ([\d.]+) MB/s, pause would be "
                  r"(\d+) ms \(target 300\): use --downtime, throttling or --offline; 'mthog' runs on here", out)
    assert m, out
    # Its whole 8 MiB is dirty again by the end of every round, so the pages
    # it dirties per second reach what the link moves, and the pause those
    # pages would take is far over the target.
    assert float(m.group(1)) >= 0.9 * float(m.group(2)) and int(m.group(3)) > 1000, out
    b.wait_prompt(timeout=60)
    info = a.cmd("info migrate")
    assert field(info, "rounds").startswith("4"), info
    assert field(info, "throttle reached") == "0 %", info
    source_runs_on_unharmed(a, "mthog", shape)
    out = teleport_live(a, b, "mthog", "--bandwidth 2", timeout=600)
    assert_handed_over(a, b, "mthog", out)
    info = a.cmd("info migrate")
    assert int(field(info, "throttle reached").split()[0]) >= 20, info
    assert "throttled" not in b.cmd("vm info mthog")
    more_passes_ok(b, "mthog", n=2)


def test_live_guest_that_ends_mid_teleport(hopvm):
    """A guest that exits by itself while its RAM is on the way (here after
    its 8th pass, during a teleport slowed to 1 MB/s): the teleport fails at
    once, saying why, the target keeps nothing, and hopvm goes on."""
    a, b = pair(hopvm)
    a.cmd("vm start mtquit")
    a.log_until("mtquit", r"memtouch: pass 2 verified", timeout=120)
    out = teleport_live(a, b, "mtquit", "--bandwidth 1", timeout=120)
    assert re.search(r"teleport: failed: 'mtquit' stopped during the teleport: .*exit", out), out
    assert "passes done" in a.cmd("vm log mtquit")
    b.expect(r"teleport: failed: the peer says: 'mtquit' stopped during the teleport", timeout=60)
    b.wait_prompt()
    assert state(a, "mtquit") == "exited" and state(b, "mtquit") == "stopped"
    # Nothing is left owned by the teleport: the guest starts again.
    assert "started" in a.cmd("vm start mtquit")
