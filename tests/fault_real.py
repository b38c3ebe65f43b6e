#!/usr/bin/python3
"""The fault campaign's sample on real hopvm (tools/fault-campaign --real).

Two hopvm in QEMU joined through tests/netrelay.py; one `counter` guest
teleported back and forth (live, version 2, with a password), one fault per
run, injected at the frame that carries a chosen record
(tests/teleport_records.py): the link going silent (both sides then give up
after 10 s), a TCP reset forged in the frame's place, a byte of it
corrupted (with a TCP checksum that matches, so the record layer sees it),
Ctrl-C on either console, either QEMU killed. After each run
the guest's whereabouts are read from both consoles:

  moved    runs on the target only
  stayed   runs on the source only (a paused copy the target kept in doubt
           is counted apart: "stayed, target in doubt")
  doubt    paused on the target, not running anywhere: resumed there as the
           target's console tells the operator (the source said 'handed
           over', or its host is gone)
  died     no copy on a living host, and a host was killed: the guest went
           with the host that held it
  LOST     no copy anywhere, no host killed
  TWICE    running on both

and the running copy's output must be the one sequence 0, 1, 2, ... with no
restart, gap or repeat, across every run so far. A killed QEMU is booted
again before the next run; a guest that died with its host is started
afresh (a new sequence). Prints the table; exits 1 on any LOST, TWICE or
broken sequence.

    tools/fault-campaign --real [--phases a,b] [--faults x,y]
"""
import argparse
import os
import pathlib
import re
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import conftest  # noqa: E402
import netrelay  # noqa: E402
from teleport_records import REC, RecordWatch  # noqa: E402

IPS = {"A": "192.168.77.1", "B": "192.168.77.2"}
MACS = {"A": "52:54:00:00:00:01", "B": "52:54:00:00:00:02"}
PW = "campaign"
GUEST = "counter"
PORT = 6000
SETTLE = 60        # seconds a side may take to report after a fault (idle limit 10 s)

# phase -> (direction, record, which one): "S2T" source to target. "RAM"
# (half-way through round 0) is filled in from a clean calibration run.
# Round 1 is the final one or the one before it (a live teleport of
# counter takes 2 or 3 rounds).
PHASES = {
    "handshake": ("S2T", "CONFIRM", 1),
    "VM_DEF": ("S2T", "VM_DEF", 1),
    "ACCEPT": ("T2S", "ACCEPT", 1),
    "round 0": ("S2T", "ROUND", 1),
    "RAM": ("S2T", "RAM", None),
    "round 1": ("S2T", "ROUND", 2),
    "VCPU": ("S2T", "VCPU", 1),
    "END": ("S2T", "END", 1),
    "COMMIT_READY": ("T2S", "COMMIT_READY", 1),
    "COMMIT": ("S2T", "COMMIT", 1),
}
FAULTS = ["silent", "reset", "corrupt", "^C source", "^C target", "kill source", "kill target"]
OUTCOMES = ["moved", "stayed", "stayed, target in doubt", "doubt", "died", "LOST", "TWICE"]


class Host:
    """One hopvm in QEMU on one side of the relay; booted again after a kill."""

    def __init__(self, side, relay, tag):
        self.side, self.relay, self.tag, self.boots = side, relay, tag, 0
        self.vm = None
        self.boot()

    def boot(self):
        self.boots += 1
        port = self.relay.port_a if self.side == "A" else self.relay.port_b
        self.vm = conftest.HopVM(f"{self.tag}-{self.side}{self.boots}", image=conftest.BUILD / "test.img",
                                 extra=("-netdev", f"socket,id=n0,connect=127.0.0.1:{port}",
                                        "-device", f"virtio-net-pci,netdev=n0,mac={MACS[self.side]}"))
        self.alive = True
        self.vm.wait_prompt()
        self.vm.cmd(f"ip set eth0 {IPS[self.side]}/24")

    def kill(self):
        """The host dies: QEMU killed, no goodbye on the wire."""
        self.alive = False
        if self.vm.p.isalive():
            os.kill(self.vm.p.pid, 9)

    def state(self):
        if not self.alive:
            return "dead"
        return re.search(rf"^{GUEST}\s+(\w+)", self.vm.cmd("vm list"), re.M).group(1)

    def counts(self):
        out = self.vm.cmd(f"vm log {GUEST}", timeout=60)
        return [int(x) for x in re.findall(rf"^{GUEST} (\d+)$", out, re.M)][:-1]


def settle(h, pattern, notes):
    """What h printed up to pattern and its prompt; None if it died, and a
    note if it said nothing of the kind within SETTLE seconds."""
    if not h.alive:
        return None
    try:
        h.vm.expect(pattern, timeout=SETTLE)
        said = h.vm.p.match.group(0).decode(errors="replace")
        h.vm.wait_prompt(timeout=SETTLE)
        return said
    except conftest.pexpect.EOF:
        return None
    except conftest.pexpect.TIMEOUT:
        notes.append(f"host {h.side} said nothing about the teleport within {SETTLE} s")
        h.vm.send("\x03")  # end a task that hangs, so the next run can start
        h.vm.wait_prompt(timeout=SETTLE)
        return ""


class Campaign:
    def __init__(self, tag="fault-real"):
        self.relay = netrelay.Relay().start()
        self.hosts = {s: Host(s, self.relay, tag) for s in "AB"}
        self.holder = self.hosts["A"]     # where the guest runs
        self.holder.vm.cmd(f"vm start {GUEST}")
        self.holder.vm.log_until(GUEST, rf"{GUEST} 3\b")
        self.table = {}
        self.notes = []

    def close(self):
        for h in self.hosts.values():
            h.vm.close()
        self.relay.stop()

    def other(self, h):
        return self.hosts["B" if h.side == "A" else "A"]

    def teleport(self, phase, fault, rec=None, nth=None, direction="S2T"):
        """One run; returns (outcome, whether the fault fired)."""
        src, dst = self.holder, self.other(self.holder)
        before = src.counts()
        wire_dir = {"S2T": "a2b" if src.side == "A" else "b2a", "T2S": "b2a" if src.side == "A" else "a2b"}
        act = {"silent": lambda: "silence",
               "reset": lambda: "reset",
               "corrupt": lambda: "corrupt",
               "^C source": lambda: (src.vm.p.send("\x03"), "pass")[1],
               "^C target": lambda: (dst.vm.p.send("\x03"), "pass")[1],
               "kill source": lambda: (src.kill(), "drop")[1],
               "kill target": lambda: (dst.kill(), "drop")[1],
               None: lambda: "pass"}[fault]
        watch = RecordWatch(PORT, wire_dir[direction], REC[rec] if rec else -1, nth or 1, act)
        self.relay.watch = watch
        dst.vm.send(f"teleport listen --password {PW}\r")
        dst.vm.expect("waiting for a guest on TCP port")
        src.vm.send(f"teleport {GUEST} --host {IPS[dst.side]} --password {PW}\r")
        s_said = settle(src, r"teleport: ('[^']+' handed over|failed)[^\r\n]*", self.notes)
        d_said = settle(dst, r"teleport: ('[^']+' arrived|failed|the link failed after)[^\r\n]*", self.notes)
        self.relay.watch = None
        self.relay.heal()
        outcome = self.classify(src, dst, s_said, before)
        for h in (src, dst):
            if not h.alive:
                h.vm.close()
                h.boot()
        if self.holder is None:           # died with its host: start afresh
            self.holder = self.hosts["A"]
            self.holder.vm.cmd(f"vm start {GUEST}")
            self.holder.vm.log_until(GUEST, rf"{GUEST} 3\b")
        return outcome, watch.fired is not None, watch.seen, (s_said, d_said)

    def classify(self, src, dst, s_said, before):
        s, d = src.state(), dst.state()
        if s == "running" and d == "running":
            outcome = "TWICE"
        elif d == "running":
            outcome, self.holder = "moved", dst
        elif s == "running":
            outcome = "stayed"
            if d == "paused":              # the target kept a copy in doubt; the source runs it
                outcome = "stayed, target in doubt"
                dst.vm.cmd(f"vm stop {GUEST}")
        elif d == "paused":
            outcome = "doubt"
            # As the target's console tells the operator: the source said
            # 'handed over', or its host is gone. Anything else breaks the
            # rule (the source kept nothing running, yet never handed over).
            if not (s_said is None or "handed over" in s_said):
                self.notes.append(f"target in doubt while the source said {s_said!r} and has '{GUEST}' {s}")
            dst.vm.cmd(f"vm resume {GUEST}")
            self.holder = dst
        elif (s == "dead" and not (s_said and "handed over" in s_said)) or \
                (d == "dead" and s_said and "handed over" in s_said):
            # Gone with the host that held it by the hand-over rules: the
            # source before it handed over, or the target after.
            outcome, self.holder = "died", None
        else:
            outcome, self.holder = "LOST", None
        if self.holder is not None:
            # The log is a ring (64 KiB): after a few minutes its oldest
            # lines are gone, so the check is that what it holds is one run
            # of consecutive numbers that contains and goes past the last
            # number before this run.
            last = before[-1] if before else -1
            got = self.holder.counts()
            deadline = time.monotonic() + 30
            while (not got or got[-1] <= last + 1) and time.monotonic() < deadline:
                time.sleep(0.5)
                got = self.holder.counts()
            whole = bool(got) and got == list(range(got[0], got[0] + len(got))) and got[-1] > last
            if not whole or (last >= 0 and last not in got) or (got[0] != 0 and len(got) < 1000):
                self.notes.append(f"sequence broken after {outcome}: {before[-3:]} then {got[:3]}...{got[-3:]}")
                outcome = "LOST"
        return outcome

    def calibrate(self):
        """A clean run: how many RAM and ROUND records a teleport has."""
        outcome, _, seen, said = self.teleport("calibration", None)
        if outcome != "moved":
            raise RuntimeError(f"the clean teleport did not go through: {outcome} {said}")
        # The holder moved: the next run goes the other way, seen from its source.
        rounds = max(n for (d, t), n in seen.items() if t == REC["ROUND"])
        ram = max(n for (d, t), n in seen.items() if t == REC["RAM"])
        PHASES["RAM"] = ("S2T", "RAM", max(1, ram // 2))
        return rounds, ram

    def run(self, cells):
        """cells: (phase, fault) pairs, in order."""
        for ph, f in cells:
            direction, rec, nth = PHASES[ph]
            outcome, fired, _, said = self.teleport(ph, f, rec, nth, direction)
            if not fired:
                self.notes.append(f"{ph} / {f}: the record was not seen ({said})")
            self.table.setdefault(ph, {}).setdefault(f, []).append(outcome)
            why = (said[0] or said[1] or "").replace("teleport: ", "")[:70]
            print(f"  {ph:13} {f:12} {outcome:24} {why}", flush=True)

    def report(self, phases, faults):
        print("\nfault campaign on real hopvm (QEMU, AMD-V), live teleport v2 of 'counter' through netrelay")
        print("cells: the outcome of each run (\"stayed+\": stayed, and the target kept a paused copy in doubt)\n")
        short = {"stayed, target in doubt": "stayed+"}
        cell = {(ph, f): ", ".join(short.get(o, o) for o in self.table.get(ph, {}).get(f, ["-"]))
                for ph in phases for f in faults}
        w = max([len(c) for c in cell.values()] + [len(f) for f in faults])
        print(f"{'phase':13}" + "".join(f" {f:>{w}}" for f in faults))
        for ph in phases:
            print(f"{ph:13}" + "".join(f" {cell[(ph, f)]:>{w}}" for f in faults))
        total = {o: 0 for o in OUTCOMES}
        for row in self.table.values():
            for outs in row.values():
                for o in outs:
                    total[o] += 1
        print(f"\n{sum(total.values())} faulted runs: " + ", ".join(f"{n} {o}" for o, n in total.items()))
        for n in self.notes:
            print("note:", n)
        return total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phases", default=",".join(PHASES))
    p.add_argument("--faults", default=",".join(FAULTS))
    a = p.parse_args(argv)
    phases, faults = a.phases.split(","), a.faults.split(",")
    for x in phases:
        if x not in PHASES:
            p.error(f"unknown phase {x!r}: one of {', '.join(PHASES)}")
    for x in faults:
        if x not in FAULTS:
            p.error(f"unknown fault {x!r}: one of {', '.join(FAULTS)}")
    c = Campaign()
    try:
        rounds, ram = c.calibrate()
        print(f"calibration: a clean teleport has {rounds} rounds and {ram} RAM records")
        c.run([(ph, f) for ph in phases for f in faults])
        total = c.report(phases, faults)
    finally:
        c.close()
    return 1 if total["LOST"] or total["TWICE"] or c.notes else 0


if __name__ == "__main__":
    sys.exit(main())
