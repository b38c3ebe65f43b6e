"""Host unit tests of the pure modules (ASan + UBSan) and a bounded pass of
each libFuzzer target; `make test` builds both before pytest runs."""
import os
import pathlib
import subprocess

import pytest

from conftest import BUILD, ROOT

UNIT = sorted(p.stem for p in (ROOT / "tests" / "unit").glob("test_*.c"))
FUZZ = sorted(p.stem for p in (ROOT / "tests" / "fuzz").glob("fuzz_*.c"))
FUZZ_RUNS = os.environ.get("FUZZ_RUNS", "20000")


@pytest.mark.parametrize("name", UNIT)
def test_unit(name):
    exe = BUILD / "unit" / name
    assert exe.exists(), f"{exe} missing: run `make test`"
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout


@pytest.mark.parametrize("name", FUZZ)
def test_fuzz_smoke(name, tmp_path):
    exe = BUILD / "fuzz" / name
    assert exe.exists(), f"{exe} missing: run `make test`"
    seeds = ROOT / "tests" / "fuzz" / "corpus" / name
    # New inputs go to tmp_path, never into the committed seed corpus.
    r = subprocess.run([str(exe), f"-runs={FUZZ_RUNS}", str(tmp_path), str(seeds)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    assert "Done" in r.stderr


def test_fuzz_session_seed_is_a_whole_session():
    """fuzz_session's seed must stay a complete valid session (VM_DEF to
    COMMIT, END's digest right): otherwise the fuzzer starts short of the
    later records. Regenerate it with FUZZ_SESSION_WRITE_SEED=FILE."""
    exe = BUILD / "fuzz" / "fuzz_session"
    seed = ROOT / "tests" / "fuzz" / "corpus" / "fuzz_session" / "valid-v1-session"
    r = subprocess.run([str(exe), str(seed)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "FUZZ_SESSION_EXPECT_DONE": "1"})
    assert r.returncode == 0, r.stderr[-2000:]


def test_fault_campaign_loses_no_guest():
    """tools/fault-campaign with one guest seed: every fault at every record
    of every phase, each way; no guest lost, none running twice."""
    exe = BUILD / "tools" / "fault-campaign"
    r = subprocess.run([str(exe), "1"], capture_output=True, text=True, timeout=600)
    print(r.stdout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " 0 LOST, 0 TWICE" in r.stdout
