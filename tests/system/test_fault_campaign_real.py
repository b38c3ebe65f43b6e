"""The fault campaign's sample on real hopvm (tests/fault_real.py, the
full grid is `tools/fault-campaign --real`): one `counter` guest teleported
back and forth between two hopvm in QEMU through tests/netrelay.py, one
fault per run at the frame carrying a chosen record. Each phase and each
kind of fault is hit at least once, the hand-over window (COMMIT_READY,
COMMIT) with several. Never lost, never twice, and the guest's whole output
is one sequence with no restart, gap or repeat across every run; where the
rules fix the outcome (docs/migration-protocol.md, "The hand-over"), it is
that one."""
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests"))
import fault_real  # noqa: E402

# (phase, fault) -> the outcomes the hand-over rules allow.
STAYS = {"stayed"}
CELLS = {
    ("handshake", "corrupt"): STAYS,
    ("VM_DEF", "kill source"): {"died"},                # the source held it, and died
    ("ACCEPT", "^C target"): STAYS,
    ("round 0", "reset"): STAYS,
    ("RAM", "silent"): STAYS,
    # Ctrl-C at the source late in the teleport: the target may already
    # have sent COMMIT_READY, which the source, failing, never takes.
    ("round 1", "^C source"): {"stayed", "stayed, target in doubt"},
    ("VCPU", "kill target"): STAYS,
    ("END", "corrupt"): STAYS,
    # COMMIT_READY lost on the way: the target holds a paused copy in doubt
    # and the source, which never got it, runs on.
    ("COMMIT_READY", "silent"): {"stayed, target in doubt"},
    ("COMMIT_READY", "reset"): {"stayed, target in doubt"},
    # Ctrl-C at the target as COMMIT_READY leaves: the source may already
    # have it (then COMMIT or the operator runs the target's copy).
    ("COMMIT_READY", "^C target"): {"moved", "doubt", "stayed, target in doubt"},
    # COMMIT lost: the source retired its copy, the target waits in doubt
    # and the operator resumes it there.
    ("COMMIT", "silent"): {"doubt"},
    ("COMMIT", "kill source"): {"doubt"},
}


def test_fault_sample_on_real_hopvm():
    c = fault_real.Campaign(tag="test_fault_campaign_real")
    try:
        c.calibrate()
        c.run(list(CELLS))
        total = c.report(list(fault_real.PHASES), list(fault_real.FAULTS))
    finally:
        c.close()
    assert not c.notes, c.notes
    assert total["LOST"] == 0 and total["TWICE"] == 0, total
    for (ph, f), allowed in CELLS.items():
        (got,) = c.table[ph][f]
        assert got in allowed, (ph, f, got, allowed)
