"""First contact: the README's two commands do all the set-up themselves.

CI (.ci/run) proves the whole of it on a fresh clone and machine by running
nothing but the README's test command. These tests pin the pieces that a
set-up machine cannot show by itself: the check is silent when nothing is
missing, and a user who cannot install gets one line naming the command."""
import os
import pathlib
import re
import subprocess
import tempfile

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def run_as_nobody(cmd):
    """Runs cmd as an unprivileged user whose dpkg-query knows no packages."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user")
    # pytest's tmp_path is private to root: the fake must be reachable.
    with tempfile.TemporaryDirectory() as tmp:
        fake = pathlib.Path(tmp)
        fake.chmod(0o755)
        (fake / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
        (fake / "dpkg-query").chmod(0o755)
        env = {"PATH": f"{fake}:/usr/bin:/bin", "HOME": tmp}
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


def test_setup_check_is_silent_when_nothing_is_missing():
    r = subprocess.run([str(ROOT / "tools" / "setup"), "--if-needed"],
                       capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


@pytest.mark.parametrize("goal", ["run", "test", "image", "demo", "host-tools", "all"])
def test_make_without_root_names_the_command(goal):
    """Not root, no sudo, packages missing: make stops before building
    anything, with one line that says what to run."""
    r = run_as_nobody(["make", "--no-print-directory", goal])
    assert r.returncode != 0
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    assert len(lines) == 1, lines
    assert "run 'sudo tools/setup'" in lines[0] and "gnu-efi" in lines[0], lines[0]


@pytest.mark.parametrize("bench", sorted(p.name for p in (ROOT / "tools").glob("bench-*")))
def test_bench_without_root_names_the_command(bench):
    r = run_as_nobody([str(ROOT / "tools" / bench)])
    assert r.returncode != 0
    assert "run 'sudo tools/setup'" in r.stdout + r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_readme_opens_with_the_two_commands():
    """The opening screen (the first 40 lines) shows both commands, what each
    prints, and the first thing to type; every `make X` the README names is a
    goal the Makefile has."""
    opening = "\n".join(README.splitlines()[:40])
    for cmd in ("make run", "make test", "make demo", "hopvm>", "vm start counter"):
        assert cmd in opening, cmd
    goals = set(re.findall(r"`make ([a-z][a-z-]*)", README)) | {"run", "test"}
    env = dict(os.environ, HOPVM_SETUP_CHECKED="1")
    for goal in sorted(goals):
        r = subprocess.run(["make", "-n", "-C", str(ROOT), goal], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"make {goal}: {r.stderr}"


def test_ci_runs_only_the_readme_command():
    """.ci/run takes its command from the README block, so a fresh clone in CI
    fails if it needs a step the README does not name."""
    ci = (ROOT / ".ci" / "run").read_text()
    steps = [l.strip() for l in ci.splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    assert not any("tools/setup" in s or "fetch-deps" in s for s in steps), steps
    assert "README.md" in ci
